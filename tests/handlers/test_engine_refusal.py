"""A user's mistake met while a turn runs: the turn's work is undone, the message
stays recorded with its answer, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows import channels, ratelimit
from flows.errors import InvalidInput
from flows.messages import Channel, Inbound, Reply
from handlers import router
from handlers.context import EngineConfig, Turn
from handlers.engine import Engine
from storage.models import Contact, Conversation, InboundMessage, SenderRate
from tests.builders import NOW, make_business, make_contact
from tests.conftest import Db

OWNER = "+525511112222"
REASON = "Esa factura ya está pagada."


def _gate(session: Session) -> Reply | None:
    verdict = channels.admit(
        session,
        channel=Channel.WHATSAPP,
        sender=OWNER,
        provider_message_id=None,
        now=NOW,
        limit=ratelimit.DEFAULT_LIMIT,
    )
    return None if verdict == channels.Admission.ALLOW else Reply().say("alto")


def test_a_refused_turn_is_undone_and_its_answer_kept(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The router is replaced by one that writes and then refuses: no real flow
    # fails halfway on purpose, and the engine must undo whatever one wrote.
    routed: list[str] = []

    def writes_then_refuses(turn: Turn) -> Reply:
        routed.append(turn.inbound.text)
        assert turn.business is not None
        make_contact(turn.session, turn.business, name="Escrito a medias")
        turn.conversation.flow = "a_medias"
        turn.session.flush()
        raise InvalidInput(REASON)

    with db.session() as s, s.begin():
        make_business(s, owner_whatsapp=OWNER)
        s.add(
            Conversation(
                business_id=None,
                channel="whatsapp",
                sender=OWNER,
                flow="cobrar",
                step="confirmar",
                data={"factura": "A-1"},
                updated_at=NOW,
            )
        )
    monkeypatch.setattr(router, "route", writes_then_refuses)
    engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
    message = Inbound(Channel.WHATSAPP, OWNER, "sí", NOW, provider_message_id="SM1")

    reply = engine.handle(message, gate=_gate)
    again = engine.handle(message, gate=_gate)

    assert [m.text for m in reply.messages] == [REASON]
    assert [m.text for m in again.messages] == [REASON]
    assert routed == ["sí"]  # the retry is answered from the record
    with db.session() as s:
        names = s.scalars(select(Contact.name)).all()
        assert "Escrito a medias" not in names
        conversation = s.scalars(select(Conversation)).one()
        assert (conversation.flow, conversation.step, conversation.data) == (
            None,
            None,
            {},
        )
        recorded = s.scalars(select(InboundMessage)).one()
        assert recorded.provider_message_id == "SM1" and recorded.reply is not None
        assert recorded.business_id is not None
        assert s.scalar(select(func.sum(SenderRate.count))) == 1
