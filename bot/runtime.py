"""The pieces a running Cobra shares: settings, database, engine and senders.

Built once per process (web app, CLI command, benchmark) and passed down.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from handlers.context import EngineConfig
from handlers.engine import Engine as ConversationEngine
from handlers.sat import sat_config
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import InstallSecret

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    factory: sessionmaker[Session]
    engine: ConversationEngine
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def portal_key(self) -> bytes:
        return self.engine.config.portal_key


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    db = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    if migrate:
        upgrade(db)
    factory = make_session_factory(db)
    config = EngineConfig(
        public_base_url=settings.public_base_url,
        portal_key=secret_key(settings, factory),
        llm=load_llm(settings),
        sat=sat_config(
            secrets_key=settings.secrets_key,
            pac_provider=settings.pac_provider,
            pac_base_url=settings.pac_base_url,
            pac_user=settings.pac_user,
            pac_password=settings.pac_password,
        ),
    )
    return Runtime(settings, db, factory, ConversationEngine(factory, config))


def secret_key(settings: Settings, factory: sessionmaker[Session]) -> bytes:
    """The key that derives portal tokens: `SECRETS_KEY`, else one kept locally."""
    if settings.secrets_key is not None:
        raw = settings.secrets_key.get_secret_value().encode()
        return hashlib.sha256(b"cobra-portal:" + raw).digest()
    # Limitation: without SECRETS_KEY the key lives in the database itself, which
    # is fine for a demo or a laptop but means a copy of the database could
    # recompute portal links; production sets SECRETS_KEY.
    with factory() as session, session.begin():
        row = session.scalar(
            select(InstallSecret).where(InstallSecret.name == "portal")
        )
        if row is None:
            row = InstallSecret(name="portal", value=secrets.token_urlsafe(32))
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                row = session.scalar(
                    select(InstallSecret).where(InstallSecret.name == "portal")
                )
        assert row is not None
        return base64.urlsafe_b64decode(row.value + "=" * (-len(row.value) % 4))


def load_llm(settings: Settings) -> Any | None:
    """A LangChain chat model when `LLM_MODEL` is set; rules only otherwise."""
    if not settings.llm_model:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        log.warning(
            "LLM_MODEL set but langchain is not installed; using rules only",
            extra={"model": settings.llm_model},
        )
        return None
    try:
        return init_chat_model(settings.llm_model)
    except Exception:
        log.exception("could not load the chat model; using rules only")
        return None
