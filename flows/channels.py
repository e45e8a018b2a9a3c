"""What the chat channels record around a message: admission (replay, rate limit),
the customer's last WhatsApp message, delivery reports (a failure tells the owner),
and answers left to the outbox when the channel failed to take them.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from flows import ratelimit
from flows.messages import Channel, Outbound
from flows.outbox import enqueue, notify_owner
from storage.db import run_core
from storage.models import Contact, ContactKind, InboundMessage, OutboundMessage, User

log = logging.getLogger(__name__)

UNDELIVERED = "undelivered"  # the kind of the owner's notice
CHAT_REPLY = "chat_reply"  # the outbox template of an answer sent late

# Twilio's message states in the order they happen; a late report of an earlier
# state never overwrites a later one (callbacks may arrive out of order).
_DELIVERY_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
FAILED_STATES = frozenset({"failed", "undelivered"})


class Admission(StrEnum):
    """What to do with a message before the conversation engine sees it."""

    REPLAY = "replay"  # handled before: the engine answers it from its record
    ALLOW = "allow"
    WARN = "warn"  # over the sender's limit: answer with a polite notice
    DROP = "drop"  # still over the limit: answer nothing


def already_handled(
    session: Session, *, channel: Channel, provider_message_id: str
) -> bool:
    """True when a message with this provider id was handled before."""
    found = session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.channel == str(channel),
            InboundMessage.provider_message_id == provider_message_id,
        )
    )
    return found is not None


def admit(
    session: Session,
    *,
    channel: Channel,
    sender: str,
    provider_message_id: str | None,
    now: dt.datetime,
    limit: ratelimit.Limit = ratelimit.DEFAULT_LIMIT,
) -> Admission:
    """Count a new message against its sender's limit; a replay is not counted."""
    if provider_message_id and already_handled(
        session, channel=channel, provider_message_id=provider_message_id
    ):
        return Admission.REPLAY
    if channel == Channel.WHATSAPP:
        note_whatsapp_inbound(session, phone=sender, now=now)
    verdict = ratelimit.hit(
        session, channel=str(channel), sender=sender, now=now, limit=limit
    )
    return Admission(str(verdict))


def note_whatsapp_inbound(session: Session, *, phone: str, now: dt.datetime) -> int:
    """Open the 24-hour window of every customer contact with this number."""
    touched = run_core(session, _note_inbound_statement(), {"phone": phone, "now": now})
    return int(touched.rowcount or 0)


def telegram_account_linked(session: Session, *, telegram_user_id: int) -> bool:
    found = session.scalar(
        select(User.id).where(User.telegram_user_id == telegram_user_id).limit(1)
    )
    return found is not None


def record_handled(
    session: Session,
    *,
    channel: Channel,
    provider_message_id: str,
    sender: str,
    text: str,
    reply_text: str,
    now: dt.datetime,
    business_id: int | None = None,
) -> None:
    """Record a message a channel answered by itself (Telegram's `/start CODE`),
    so that a retried delivery of it acts once, like the engine's own messages."""
    session.add(
        InboundMessage(
            business_id=business_id,
            channel=str(channel),
            provider_message_id=provider_message_id,
            sender=sender,
            text=text,
            reply={"messages": [{"text": reply_text, "buttons": []}]},
            received_at=now,
        )
    )
    session.flush()


def queue_unsent_answer(
    session: Session,
    *,
    channel: Channel,
    recipient: str,
    provider_message_id: str,
    parts: list[Outbound],
    now: dt.datetime,
) -> int:
    """Hand to the outbox the parts of an answer the channel did not take, so
    they are retried there; a second call for the same message queues nothing.

    Each part is one text (with its buttons) or one file (its caption as text).
    Returns how many parts were queued."""
    business_id = session.scalar(
        select(InboundMessage.business_id).where(
            InboundMessage.channel == str(channel),
            InboundMessage.provider_message_id == provider_message_id,
        )
    )
    queued = 0
    for index, part in enumerate(parts):
        carried = part.documents + part.images
        files = [
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "content": base64.b64encode(item.content).decode("ascii"),
            }
            for item in carried
        ]
        captions = [item.caption for item in carried if item.caption]
        row = enqueue(
            session,
            business_id=business_id,
            channel=str(channel),
            recipient=recipient,
            template=CHAT_REPLY,
            payload={
                "text": "\n\n".join([part.text, *captions]).strip(),
                "buttons": [
                    {"title": b.title, "payload": b.payload} for b in part.buttons
                ],
                "files": files,
            },
            dedupe_key=f"{CHAT_REPLY}:{channel}:{provider_message_id}:{index}",
            now=now,
        )
        queued += row is not None
    log.info(
        "answer left to the outbox",
        extra={"business_id": business_id, "channel": str(channel), "parts": queued},
    )
    return queued


def record_delivery_status(
    session: Session,
    *,
    provider_id: str,
    status: str,
    now: dt.datetime,
    error_code: str | None = None,
) -> OutboundMessage | None:
    """Keep the provider's report on the outbound message; a failure tells the owner.

    Returns the message, or None when no outbound message has that provider id.
    """
    message = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.provider_id == provider_id)
        .with_for_update()
    ).first()
    if message is None:
        log.info("delivery report for an unknown message", extra={"status": status})
        return None

    status = status.strip().lower()
    previous = message.delivery_status
    if _DELIVERY_ORDER.get(status, 0) < _DELIVERY_ORDER.get(previous or "", -1):
        return message
    message.delivery_status = status[:32]
    if status in FAILED_STATES:
        message.last_error = f"WhatsApp informó «{status}»" + (
            f" (código {error_code})" if error_code else ""
        )
    log.info(
        "delivery report",
        extra={
            "business_id": message.business_id,
            "outbound_id": message.id,
            "status": status,
            "error_code": error_code,
        },
    )

    if status in FAILED_STATES and previous not in FAILED_STATES:
        # The outbox's notice to the owner, once per message (its dedupe key).
        notify_owner(session, row=message, kind=UNDELIVERED, now=now)
    return message


@functools.cache
def _note_inbound_statement() -> Any:
    """Built once; it runs for every WhatsApp message."""
    table = cast(Table, Contact.__table__)
    return (
        update(table)
        .where(
            table.c.whatsapp == bindparam("phone"),
            table.c.kind == ContactKind.CUSTOMER,
        )
        .values(whatsapp_last_inbound_at=bindparam("now"))
    )
