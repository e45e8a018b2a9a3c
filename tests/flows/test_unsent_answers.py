"""An answer a chat channel did not take, left to the outbox: queued once per
part, with its buttons and files, and rendered back as it was, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from flows import channels
from flows.messages import NO, YES, Channel, Document, Outbound
from flows.render import render_outbound
from storage.models import InboundMessage, OutboundMessage
from tests.builders import NOW, make_business
from tests.conftest import Db

UPDATE = "tg-update:77"
PDF = Document("A-101.pdf", "application/pdf", b"%PDF-1.4 factura", "Tu factura")
PARTS = [
    Outbound(text="¿Le aviso al cliente?", buttons=(YES, NO)),
    Outbound(text="", documents=(PDF,)),
]


def queue(db: Db) -> int:
    with db.session() as session, session.begin():
        return channels.queue_unsent_answer(
            session,
            channel=Channel.TELEGRAM,
            recipient="5550001",
            provider_message_id=UPDATE,
            parts=PARTS,
            now=NOW,
        )


def test_each_part_is_queued_once_for_the_business_that_was_answered(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        business_id = business.id
        session.add(
            InboundMessage(
                business_id=business_id,
                channel="telegram",
                provider_message_id=UPDATE,
                sender="5550001",
                text="sí",
                received_at=NOW,
            )
        )

    assert queue(db) == 2
    assert queue(db) == 0

    with db.session() as session:
        rows = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        question, document = [render_outbound(session, r, NOW) for r in rows]
        owners = {r.business_id for r in session.scalars(select(OutboundMessage))}
    assert owners == {business_id}
    assert (question.text, question.buttons, question.attachments) == (
        "¿Le aviso al cliente?",
        (YES, NO),
        (),
    )
    assert document.text == "Tu factura"
    [attachment] = document.attachments
    assert (attachment.filename, attachment.content) == ("A-101.pdf", PDF.content)
