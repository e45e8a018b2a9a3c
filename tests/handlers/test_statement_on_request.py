"""The owner asks Cobra to remind a customer ("recuérdale a Acme"): the
customer's statement goes to their channels once a day, in the morning when asked
at night, through the engine on both databases."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from flows.messages import Channel, Inbound, Reply
from handlers.context import EngineConfig
from handlers.engine import Engine
from prompts import texts
from storage.models import AuditEvent, OutboundMessage, OutboxStatus
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

OWNER = "+525511112222"
NIGHT = dt.datetime(2026, 12, 4, 4, 30, tzinfo=dt.UTC)  # 22:30 in Mexico City
MORNING = dt.datetime(2026, 12, 4, 14, 0, tzinfo=dt.UTC)  # 08:00 there
_ids = itertools.count(1)


class Books:
    """Acme owes two invoices and can be reached; Beta owes nothing; Gamma owes
    but has neither WhatsApp nor email."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
        with db.session() as session, session.begin():
            business = make_business(session, owner_whatsapp=OWNER)
            acme = make_contact(
                session,
                business,
                name="Acme Industrial",
                whatsapp="+525544443333",
                emails="pagos@acme.mx",
            )
            make_invoice(session, acme, total="1160.00", due_date=dt.date(2026, 11, 20))
            make_invoice(session, acme, total="500.00", due_date=dt.date(2026, 12, 20))
            make_contact(session, business, name="Beta Comercial", emails="b@beta.mx")
            gamma = make_contact(session, business, name="Gamma Servicios")
            make_invoice(session, gamma, total="300.00")

    def say(self, text: str, *, at: dt.datetime = NOW) -> Reply:
        return self.engine.handle(
            Inbound(
                channel=Channel.WHATSAPP,
                sender=OWNER,
                text=text,
                received_at=at,
                provider_message_id=f"SM{next(_ids):08d}",
            )
        )

    def statements(self) -> list[OutboundMessage]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(OutboundMessage)
                    .where(OutboundMessage.template == "statement")
                    .order_by(OutboundMessage.id)
                )
            )


@pytest.fixture
def books(db: Db) -> Books:
    return Books(db)


def test_a_reminder_asked_for_sends_the_statement_once_a_day(books: Books) -> None:
    first = books.say("recuérdale a Acme que me debe")
    again = books.say("mándale un recordatorio a acme")

    assert first.text == (
        "Le mandé a Acme Industrial su estado de cuenta por WhatsApp y correo: "
        "debe $1,660.00, de eso $1,160.00 vencido."
    )
    assert "Ya le mandé hoy a Acme Industrial" in again.text
    sent = books.statements()
    assert [(m.channel, m.recipient) for m in sent] == [
        ("whatsapp", "+525544443333"),
        ("email", "pagos@acme.mx"),
    ]
    payload = sent[0].payload
    assert payload["totals"] == [{"currency": "MXN", "amount": "1660.00"}]
    assert payload["portal_url"].startswith("https://cobra.test/portal/")
    assert all(m.status == OutboxStatus.PENDING for m in sent)
    with books.db.session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("statement.sent") == 1

    tomorrow = books.say("recuérdale a Acme", at=NOW + dt.timedelta(days=1))
    assert tomorrow.text.startswith("Le mandé a Acme Industrial")
    assert len(books.statements()) == 4


def test_asked_at_night_it_waits_for_the_morning(books: Books) -> None:
    reply = books.say("mándale su estado de cuenta a Acme", at=NIGHT)

    assert reply.text.endswith("Sale mañana a las 08:00, para no escribirle de noche.")
    times = [m.next_attempt_at for m in books.statements()]
    assert [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in times] == [
        MORNING,
        MORNING,
    ]


def test_nothing_owed_or_no_way_to_write_sends_nothing(books: Books) -> None:
    nothing = books.say("recuérdale a Beta Comercial")
    nowhere = books.say("recuérdale a Gamma")

    assert (
        nothing.text == "Beta Comercial no te debe nada; no le mandé recordatorio. ✅"
    )
    assert nowhere.text.startswith("Gamma Servicios no tiene WhatsApp ni correo activo")
    assert books.statements() == []


def test_reminding_every_late_customer_asks_first_then_sends_each_once(
    books: Books,
) -> None:
    asked = books.say("mándale recordatorio a todos los vencidos")
    declined = books.say("no")

    assert asked.text.startswith(
        "¿Le mando su estado de cuenta a 2 clientes con facturas vencidas? "
        "Vencido: $1,460.00."
    )
    assert [b.title for b in asked.messages[-1].buttons] == ["Sí", "No"]
    assert books.statements() == []
    assert declined.text == texts.NOT_DONE

    books.say("recuérdales a todos los vencidos")
    done = books.say("sí")
    books.say("recuérdales a los morosos")
    again = books.say("sí")

    assert done.text == (
        "Listo: mandé su estado de cuenta a 1 cliente.\n"
        "Sin WhatsApp ni correo activo: Gamma Servicios. Agrégaselo con «el correo "
        "de … es …» o «el whatsapp de … es …»."
    )
    assert again.text.startswith("No mandé ningún estado de cuenta.\n1 ya lo había")
    assert [m.recipient for m in books.statements()] == [
        "+525544443333",
        "pagos@acme.mx",
    ]


def test_reminding_everyone_leaves_out_paused_customers_and_waits_for_morning(
    books: Books,
) -> None:
    books.say("pausa los recordatorios de Gamma")

    asked = books.say("recuérdales a todos los que me deben por correo", at=NIGHT)
    done = books.say("sí", at=NIGHT)

    assert asked.text.startswith(
        "¿Le mando su estado de cuenta por correo a 1 cliente que te debe? "
        "Deben: $1,660.00.\nNo incluyo a 1 con los recordatorios pausados."
    )
    assert done.text == (
        "Listo: mandé su estado de cuenta a 1 cliente.\n"
        "Salen mañana a las 08:00, para no escribirles de noche."
    )
    assert [m.recipient for m in books.statements()] == ["pagos@acme.mx"]
