"""The conversation engine: one inbound message in, one reply out, for every channel.

It records the message once (a retried provider id gets the first reply again),
resolves the speaker, loads the conversation's state and hands the turn to the
router, all inside one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flows import logcontext
from flows.errors import CobraError
from flows.fmt import as_utc, mask_phone
from flows.messages import Button, Inbound, Outbound, Reply
from handlers import router
from handlers.context import EngineConfig, Speaker, Turn
from handlers.identity import resolve
from storage import repo
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
            try:
                return self._handle(inbound, gate)
            except _Refused as refused:
                # The turn's transaction is rolled back whole; this one records
                # the message again and answers with the reason alone.
                return self._handle(inbound, gate, refusal=refused.message)
        except IntegrityError:
            # A concurrent delivery of the same provider id won the race.
            stored = self._stored_reply(inbound)
            if stored is not None:
                return stored
            raise

    def _handle(
        self, inbound: Inbound, gate: Gate | None, refusal: str | None = None
    ) -> Reply:
        """One turn in one transaction; with `refusal`, the turn only says it."""
        with self.factory() as session, session.begin():
            record_id = None
            if inbound.provider_message_id:
                record_id = repo.record_inbound(
                    session,
                    channel=str(inbound.channel),
                    provider_message_id=inbound.provider_message_id,
                    sender=inbound.sender,
                    text=inbound.text,
                    media=_media_json(inbound),
                    received_at=inbound.received_at,
                )
                if record_id is None:
                    log.info(
                        "inbound replay answered from record",
                        extra={"channel": inbound.channel},
                    )
                    return self._recorded_reply(session, inbound)
            if gate is not None:
                early = gate(session)
                if early is not None:
                    if record_id is not None:
                        # Turned away, not handled: a retry is counted again.
                        repo.forget_inbound(session, inbound_id=record_id)
                    return early

            speaker = resolve(session, inbound)
            conversation = self._conversation(session, inbound, speaker)
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
            if refusal is None:
                reply = self._route(turn)
            else:
                turn.finish()
                reply = Reply().say(refusal)
            if as_utc(conversation.updated_at) != turn.now:
                conversation.updated_at = turn.now
            if record_id is not None:
                repo.answer_inbound(
                    session,
                    inbound_id=record_id,
                    business_id=speaker.business.id if speaker.business else None,
                    reply=encode_reply(reply),
                )
            return reply

    @staticmethod
    def _route(turn: Turn) -> Reply:
        """Run the router; a user's mistake undoes the whole turn (`_Refused`).

        Undoing the transaction and recording the message again costs a second
        trip only when something is refused, where a savepoint around every turn
        would cost two statements on all of them."""
        try:
            return router.route(turn)
        except CobraError as exc:
            raise _Refused(exc.message) from exc

    @staticmethod
    def _recorded_reply(session: Session, inbound: Inbound) -> Reply:
        assert inbound.provider_message_id is not None
        reply = decode_reply(
            repo.inbound_reply(
                session,
                channel=str(inbound.channel),
                provider_message_id=inbound.provider_message_id,
            )
        )
        reply.replayed = True
        return reply

    def _stored_reply(self, inbound: Inbound) -> Reply | None:
        if not inbound.provider_message_id:
            return None
        with self.factory() as session:
            found = session.scalar(
                select(InboundMessage.id).where(
                    InboundMessage.channel == str(inbound.channel),
                    InboundMessage.provider_message_id == inbound.provider_message_id,
                )
            )
            if found is None:
                return None
            return self._recorded_reply(session, inbound)

    def _conversation(
        self, session: Session, inbound: Inbound, speaker: Speaker
    ) -> Conversation:
        """The sender's conversation row, created once and locked for this turn; a
        conversation without a business takes the speaker's."""
        sender = inbound.sender
        if inbound.as_contact_rfc:
            sender = f"{sender}:{inbound.as_contact_rfc}"
        conversation = repo.open_conversation(
            session,
            channel=str(inbound.channel),
            sender=sender,
            business_id=speaker.business.id if speaker.business else None,
            now=inbound.received_at,
        )
        expires = conversation.expires_at
        if expires is not None and as_utc(expires) <= inbound.received_at:
            conversation.flow = None
            conversation.step = None
            conversation.data = {}
            conversation.expires_at = None
        return conversation


class _Refused(Exception):
    """A user's mistake met while routing: the turn is redone as this answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _media_json(inbound: Inbound) -> dict[str, Any] | None:
    if not inbound.media:
        return None
    return {
        "items": [
            {"url": m.url, "content_type": m.content_type, "path": m.stored_path}
            for m in inbound.media
        ]
    }


SECRET_HIDDEN = "[oculto; pídelo de nuevo]"


def encode_reply(reply: Reply) -> dict[str, Any]:
    """What is kept of a reply to answer a replayed message the same way; its
    secrets are hidden."""

    def kept(text: str) -> str:
        for secret in reply.secrets:
            text = text.replace(secret, SECRET_HIDDEN)
        return text

    return {
        "messages": [
            {
                "text": kept(m.text),
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
