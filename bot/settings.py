"""Cobra's settings, read once from the environment or a `.env` file.

Every other module receives a `Settings` (or the values it needs) from its caller;
nothing else reads the environment.
"""

from __future__ import annotations

import json
from functools import cached_property

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The contract's settings table, with the same names as environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./cobra.db"
    public_base_url: str = "http://localhost:8000"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    whatsapp_templates: str = "{}"

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Cobra <cobranza@localhost>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None

    stp_webhook_secret: SecretStr | None = None
    stp_api_base_url: str | None = None
    stp_empresa: str | None = None
    stp_private_key_path: str | None = None
    stp_private_key_password: SecretStr | None = None

    sat_ws_base_url: str | None = None

    pac_provider: str | None = None
    pac_base_url: str | None = None
    pac_user: str | None = None
    pac_password: SecretStr | None = None

    secrets_key: SecretStr | None = None
    llm_model: str | None = None

    # Not in the public contract: how often the outbox worker wakes, in seconds.
    outbox_interval_seconds: int = Field(default=30, ge=1)
    # Not in the public contract: the PostgreSQL connections each process keeps
    # open. Chat turns run on at most this many threads at once, so a burst of
    # webhooks reuses connections instead of opening (and closing) new ones.
    database_pool_size: int = Field(default=20, ge=2)

    @cached_property
    def whatsapp_template_sids(self) -> dict[str, str]:
        """`WHATSAPP_TEMPLATES` parsed: template name to Twilio content SID."""
        data = json.loads(self.whatsapp_templates or "{}")
        if not isinstance(data, dict):
            raise ValueError("WHATSAPP_TEMPLATES debe ser un objeto JSON")
        return {str(k): str(v) for k, v in data.items()}

    @property
    def twilio_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and self.twilio_whatsapp_from
        )

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; tests pass overrides instead of touching the env."""
    return Settings(**overrides)  # type: ignore[arg-type]
