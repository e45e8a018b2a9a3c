"""What every handler receives for one message: who speaks, their state, the time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from flows.messages import Inbound
from handlers.nlu import Role
from storage.models import Business, Contact, Conversation, User

CONVERSATION_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class EngineConfig:
    """What handlers need from the settings, passed down by the service."""

    public_base_url: str
    portal_key: bytes
    llm: Any | None = None  # a LangChain chat model, when LLM_MODEL is set
    sat: Any | None = None  # handlers.sat.SatConfig: the CSD key and the PAC
    conversation_ttl: dt.timedelta = CONVERSATION_TTL
    undo_window: dt.timedelta = dt.timedelta(minutes=10)


@dataclass
class Speaker:
    """The person behind a message, resolved before anything else happens."""

    role: Role
    business: Business | None = None
    user: User | None = None
    contact: Contact | None = None

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.id}"
        if self.contact is not None:
            return f"contact:{self.contact.id}"
        return "unknown"

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_team(self) -> bool:
        return self.role in (Role.OWNER, Role.STAFF)


@dataclass
class Turn:
    """One inbound message being handled inside one database transaction."""

    session: Session
    inbound: Inbound
    speaker: Speaker
    conversation: Conversation
    config: EngineConfig
    now: dt.datetime
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def business(self) -> Business:
        if self.speaker.business is None:
            raise LookupError("this turn has no business")
        return self.speaker.business

    @property
    def channel(self) -> str:
        return str(self.inbound.channel)

    @property
    def today(self) -> dt.date:
        from flows.fmt import local_date

        tz = self.speaker.business.timezone if self.speaker.business else "UTC"
        return local_date(self.now, tz)

    # The conversation's state machine: a flow, its step and the step's data.
    def start(self, flow: str, step: str, data: dict[str, Any] | None = None) -> None:
        self.conversation.flow = flow
        self.conversation.step = step
        self.conversation.data = dict(data or {})
        self.conversation.expires_at = self.now + self.config.conversation_ttl

    def finish(self) -> None:
        self.conversation.flow = None
        self.conversation.step = None
        self.conversation.data = {}
        self.conversation.expires_at = None
