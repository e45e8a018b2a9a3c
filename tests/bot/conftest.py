"""Fixtures for the channel tests: the loopback provider fakes and the web app
wired to them, on the test database of each backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import whatsapp
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from flows import ratelimit
from storage.models import Conversation
from tests.conftest import NOW, Db
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegram, running_telegram
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, running_twilio
from tests.fakes.twilio_api import sign as twilio_sign

PUBLIC_BASE_URL = "https://cobra.example.mx"
WHATSAPP_FROM = "whatsapp:+14155238886"
TELEGRAM_SECRET = "telegram-webhook-secret"
TEMPLATES = '{"reminder": "HX0000000000000000000000000000001"}'


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with running_twilio() as fake:
        yield fake


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with running_telegram() as fake:
        yield fake


def make_settings(db: Db, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db.url,
        "public_base_url": PUBLIC_BASE_URL,
        "whatsapp_templates": TEMPLATES,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def twilio_settings(db: Db, fake: FakeTwilio, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_whatsapp_from": WHATSAPP_FROM,
        "twilio_api_base_url": fake.base_url,
    }
    return make_settings(db, **{**values, **overrides})


def telegram_settings(db: Db, fake: FakeTelegram, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": BOT_TOKEN,
        "telegram_webhook_secret": TELEGRAM_SECRET,
        "telegram_api_base_url": fake.base_url,
    }
    return make_settings(db, **{**values, **overrides})


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Service:
    """The web app under test, its runtime, its clock and an HTTP client to it."""

    runtime: Runtime
    client: TestClient
    clock: Clock
    media_dir: Path
    _sids: int = field(default=0)

    def whatsapp(
        self,
        body: str = "",
        *,
        sender: str = "whatsapp:+5215511112222",
        sid: str | None = None,
        signature: str | None = None,
        path: str = whatsapp.MESSAGE_PATH,
        **fields: str,
    ) -> Any:
        """POST a signed WhatsApp webhook, as Twilio would send it."""
        if sid is None:
            self._sids += 1
            sid = f"SM{self._sids:032d}"
        form = make_whatsapp_form(body, sender=sender, sid=sid, **fields)
        return self.post_signed(path, form, signature=signature)

    def post_signed(
        self, path: str, form: dict[str, str], *, signature: str | None = None
    ) -> Any:
        if signature is None:
            signature = twilio_sign(PUBLIC_BASE_URL + path, form)
        return self.client.post(
            path, data=form, headers={"X-Twilio-Signature": signature}
        )

    def telegram(self, update: dict[str, Any], *, secret: str | None = None) -> Any:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret or TELEGRAM_SECRET}
        return self.client.post("/webhooks/telegram", json=update, headers=headers)


def make_whatsapp_form(
    body: str = "",
    *,
    sender: str = "whatsapp:+5215511112222",
    sid: str = "SM" + "1" * 32,
    **fields: str,
) -> dict[str, str]:
    form = {
        "SmsMessageSid": sid,
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": WHATSAPP_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "ProfileName": "Cliente",
    }
    form.update(fields)
    return form


class Serve(Protocol):
    """The `serve` fixture: starts the web app with these settings."""

    def __call__(
        self, settings: Settings, *, limit: ratelimit.Limit | None = None
    ) -> Service: ...


@pytest.fixture
def serve(db: Db, tmp_path: Path) -> Iterator[Serve]:
    """Start the web app with the given settings; stopped at the end of the test."""
    started: list[tuple[TestClient, Runtime]] = []

    def start(settings: Settings, *, limit: ratelimit.Limit | None = None) -> Service:
        runtime = build_runtime(settings, migrate=False)
        clock = Clock()
        media_dir = tmp_path / "media"
        runtime.extras[whatsapp.CLOCK] = clock
        runtime.extras[whatsapp.MEDIA_DIR] = media_dir
        if limit is not None:
            runtime.extras[whatsapp.RATE_LIMIT] = limit
        client = TestClient(create_app(runtime=runtime))
        client.__enter__()
        started.append((client, runtime))
        return Service(runtime, client, clock, media_dir)

    yield start
    for client, runtime in reversed(started):
        client.__exit__(None, None, None)
        runtime.db.dispose()


def conversation_of(db: Db, *, channel: str, sender: str) -> Conversation | None:
    with db.session() as session:
        return session.scalar(
            select(Conversation).where(
                Conversation.channel == channel, Conversation.sender == sender
            )
        )
