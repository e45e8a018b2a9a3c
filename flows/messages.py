"""Channel-agnostic messages: what an adapter hands in and what Cobra answers.

Adapters (WhatsApp, Telegram, email, terminal) translate their provider's payload
into an `Inbound` and render each `Outbound`; none of them decides anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    EMAIL = "email"
    CHAT = "chat"  # the terminal, `cobra chat`
    WEB = "web"


@dataclass(frozen=True)
class Media:
    """A file that came with a message: where to fetch it, or where it is kept."""

    url: str
    content_type: str
    stored_path: str | None = None


@dataclass(frozen=True)
class Inbound:
    channel: Channel
    sender: str  # E.164 phone, Telegram user id, email address, or "terminal:..."
    text: str
    received_at: dt.datetime
    provider_message_id: str | None = None
    button_payload: str | None = None
    media: tuple[Media, ...] = ()
    # Set by the terminal adapter, which speaks for a known business and person.
    business_rfc: str | None = None
    as_contact_rfc: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Button:
    """A quick reply: `title` is shown, `payload` comes back when tapped."""

    title: str
    payload: str


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    content: bytes
    caption: str | None = None


@dataclass(frozen=True)
class Outbound:
    text: str
    buttons: tuple[Button, ...] = ()
    documents: tuple[Document, ...] = ()
    images: tuple[Document, ...] = ()


@dataclass
class Reply:
    """All that answers one inbound message, plus what to queue for others.

    `replayed` marks the answer recorded for an earlier delivery of the same
    provider id: a channel that sends answers itself has already sent it.
    `secrets` are words of the answer (a one-time code) that are sent but never
    kept: the recorded answer hides them."""

    messages: list[Outbound] = field(default_factory=list)
    replayed: bool = False
    secrets: list[str] = field(default_factory=list)

    def say(self, text: str, *buttons: Button) -> Reply:
        self.messages.append(Outbound(text=text, buttons=tuple(buttons)))
        return self

    @property
    def text(self) -> str:
        return "\n\n".join(m.text for m in self.messages if m.text)


# Longest text one chat message carries, with room to spare: WhatsApp refuses a
# body over 1,600 characters and Telegram a text over 4,096 (both count some
# emoji twice).
WHATSAPP_MAX_TEXT = 1500
TELEGRAM_MAX_TEXT = 4000


def split_text(text: str, limit: int) -> list[str]:
    """A text in pieces of at most `limit` characters, cut between paragraphs,
    else between lines, else between words, and only as a last resort mid-word."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = 0
        for separator in ("\n\n", "\n", " "):
            cut = rest.rfind(separator, 0, limit)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


YES = Button("Sí", "yes")
NO = Button("No", "no")
