"""The conversation engine: one inbound message in, one reply out, for every channel.

It records the message once (a retried provider id gets the first reply again),
resolves the speaker, loads the conversation's state and hands the turn to the
router, all inside one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flows import logcontext
from flows.errors import CobraError
from flows.fmt import mask_phone
from flows.messages import Button, Inbound, Outbound, Reply
from handlers import router
from handlers.context import EngineConfig, Turn
from handlers.identity import resolve
from storage.models import Conversation, InboundMessage

log = logging.getLogger(__name__)
Gate = Callable[[Session], Reply | None]


class Engine:
    """Channel adapters call `handle`; it never raises for a user's mistake."""

    def __init__(self, factory: sessionmaker[Session], config: EngineConfig) -> None:
        self.factory = factory
        self.config = config

    def handle(self, inbound: Inbound, *, gate: Gate | None = None) -> Reply:
        """Answer one message; `gate` (a channel's rate limit) may answer first,
        inside the same transaction, once the message is known not to be a replay."""
        with logcontext.bound(channel=str(inbound.channel)):
            return self._handle_once(inbound, gate)

    def _handle_once(self, inbound: Inbound, gate: Gate | None) -> Reply:
        try:
            return self._handle(inbound, gate)
        except IntegrityError:
            # A concurrent delivery of the same provider id won the race.
            stored = self._stored_reply(inbound)
            if stored is not None:
                return stored
            raise

    def _handle(self, inbound: Inbound, gate: Gate | None) -> Reply:
        with self.factory() as session, session.begin():
            record = None
            if inbound.provider_message_id:
                earlier = self._find_inbound(session, inbound)
                if earlier is not None:
                    log.info(
                        "inbound replay answered from record",
                        extra={"channel": inbound.channel},
                    )
                    return decode_reply(earlier.reply)
            if gate is not None:
                early = gate(session)
                if early is not None:
                    return early
            if inbound.provider_message_id:
                record = InboundMessage(
                    channel=str(inbound.channel),
                    provider_message_id=inbound.provider_message_id,
                    sender=inbound.sender,
                    text=inbound.text,
                    media=_media_json(inbound),
                    received_at=inbound.received_at,
                )
                session.add(record)
                session.flush()

            speaker = resolve(session, inbound)
            conversation = self._conversation(session, inbound)
            if conversation.business_id is None and speaker.business is not None:
                conversation.business_id = speaker.business.id
            logcontext.bind(
                business_id=speaker.business.id if speaker.business else None,
                flow=conversation.flow,
            )
            turn = Turn(
                session=session,
                inbound=inbound,
                speaker=speaker,
                conversation=conversation,
                config=self.config,
                now=inbound.received_at,
            )
            log.info(
                "inbound message",
                extra={"role": str(speaker.role), "sender": mask_phone(inbound.sender)},
            )
            reply = self._route(turn)
            conversation.updated_at = turn.now
            if record is not None:
                record.business_id = speaker.business.id if speaker.business else None
                record.reply = encode_reply(reply)
            return reply

    def _route(self, turn: Turn) -> Reply:
        """Run the router; a user's mistake rolls back its work and is explained."""
        savepoint = turn.session.begin_nested()
        try:
            reply = router.route(turn)
        except CobraError as exc:
            savepoint.rollback()
            turn.finish()
            return Reply().say(exc.message)
        savepoint.commit()
        return reply

    @staticmethod
    def _find_inbound(session: Session, inbound: Inbound) -> InboundMessage | None:
        return session.scalar(
            select(InboundMessage).where(
                InboundMessage.channel == str(inbound.channel),
                InboundMessage.provider_message_id == inbound.provider_message_id,
            )
        )

    def _stored_reply(self, inbound: Inbound) -> Reply | None:
        with self.factory() as session:
            earlier = self._find_inbound(session, inbound)
            return decode_reply(earlier.reply) if earlier is not None else None

    def _conversation(self, session: Session, inbound: Inbound) -> Conversation:
        """The sender's conversation row, created once and locked for this turn."""
        sender = inbound.sender
        if inbound.as_contact_rfc:
            sender = f"{sender}:{inbound.as_contact_rfc}"
        insert = (
            pg_insert
            if session.get_bind().dialect.name == "postgresql"
            else sqlite_insert
        )
        session.execute(
            insert(Conversation)
            .values(
                channel=str(inbound.channel),
                sender=sender,
                data={},
                updated_at=inbound.received_at,
            )
            .on_conflict_do_nothing(index_elements=["channel", "sender"])
        )
        conversation = session.scalars(
            select(Conversation)
            .where(
                Conversation.channel == str(inbound.channel),
                Conversation.sender == sender,
            )
            .with_for_update()
        ).one()
        expires = conversation.expires_at
        if expires is not None and _aware(expires) <= inbound.received_at:
            conversation.flow = None
            conversation.step = None
            conversation.data = {}
            conversation.expires_at = None
        return conversation


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; Cobra stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _media_json(inbound: Inbound) -> dict[str, Any] | None:
    if not inbound.media:
        return None
    return {
        "items": [
            {"url": m.url, "content_type": m.content_type, "path": m.stored_path}
            for m in inbound.media
        ]
    }


def encode_reply(reply: Reply) -> dict[str, Any]:
    """What is kept of a reply to answer a replayed message the same way."""
    return {
        "messages": [
            {
                "text": m.text,
                "buttons": [[b.title, b.payload] for b in m.buttons],
            }
            for m in reply.messages
        ]
    }


def decode_reply(data: dict[str, Any] | None) -> Reply:
    reply = Reply()
    for item in (data or {}).get("messages", []):
        buttons = tuple(Button(t, p) for t, p in item.get("buttons", []))
        reply.messages.append(Outbound(text=item.get("text", ""), buttons=buttons))
    return reply
