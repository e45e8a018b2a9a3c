"""The owner's conversation end to end through `cobra chat --message`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from click.testing import Result

from bot.demo import DEMO_RFC, seed_demo
from storage.models import (
    AuditEvent,
    Business,
    Contact,
    Invoice,
    OutboundMessage,
    Payment,
)
from tests.builders import make_contact, make_invoice
from tests.conftest import NOW, Db

RFC = "FTU010101AB1"


@pytest.fixture
def books(cobra: Callable[..., Result], db: Db) -> Callable[..., Result]:
    """A small business whose numbers are known by heart."""
    cobra(f"business create --name 'La Tuerca' --rfc {RFC} --owner-email d@t.mx")
    with db.session() as s, s.begin():
        business = s.query(Business).one()
        acme = make_contact(
            s,
            business,
            name="Acme Industrial SA de CV",
            rfc="AIM050610RTA",
            emails="pagos@acme.mx",
        )
        norte = make_contact(
            s,
            business,
            name="Grupo Norte SA de CV",
            rfc="GNC101115PL8",
            whatsapp="+525512340000",
        )
        make_contact(s, business, name="Grupo Sur SA de CV", rfc="GSU101115PL8")
        make_invoice(
            s,
            acme,
            series="A",
            folio="102",
            total="3000.00",
            due_date=dt.date(2026, 11, 1),
        )
        make_invoice(
            s,
            acme,
            series="A",
            folio="105",
            total="3200.00",
            due_date=dt.date(2026, 12, 20),
        )
        make_invoice(
            s,
            norte,
            series="F",
            folio="88",
            total="10000.00",
            due_date=dt.date(2026, 10, 1),
        )
        make_invoice(
            s,
            norte,
            series="F",
            folio="90",
            total="2500.00",
            due_date=dt.date(2026, 12, 1),
        )
        make_invoice(
            s,
            norte,
            series="U",
            folio="7",
            total="100.00",
            currency="USD",
            due_date=dt.date(2026, 12, 10),
        )
    return cobra


def say(cobra: Callable[..., Result], text: str) -> str:
    result = cobra(["chat", "--business", RFC, "--message", text])
    assert result.exit_code == 0, result.stderr
    return result.output


def test_balances_answer_from_the_books(books: Callable[..., Result]) -> None:
    total = say(books, "¿cuánto me deben?")
    assert "$18,700.00 en 4 facturas, de eso $15,500.00 vencido" in total
    assert "US$100.00 en 1 factura" in total

    acme = say(books, "cuanto me debe acme")
    assert "Acme Industrial SA de CV te debe $6,200.00 ($3,000.00 vencido)" in acme
    assert "A-102 · $3,000.00 · vencida hace 32 días" in acme
    assert "A-105 · $3,200.00 · vence 20 dic" in acme

    top = say(books, "quien me debe mas")
    assert top.index("Grupo Norte") < top.index("Acme")

    late = say(books, "facturas vencidas")
    assert "F-88" in late and "A-102" in late and "A-105" not in late

    one = say(books, "como va la F-90?")
    assert "Total $2,500.00, pagado $0.00, saldo $2,500.00" in one


def test_register_payment_confirm_receipt_and_undo(
    books: Callable[..., Result], db: Db
) -> None:
    proposal = say(books, "Acme me pagó 5 mil")
    assert "Registro un pago de $5,000.00 de Acme Industrial SA de CV" in proposal
    assert "A-102: $3,000.00 (queda pagada)" in proposal
    assert "A-105: $2,000.00 (le quedan $1,200.00)" in proposal
    assert "[Sí]  [No]" in proposal
    with db.session() as s:
        assert s.query(Payment).count() == 0  # nothing before the yes

    done = say(books, "sí")
    assert "Registré $5,000.00" in done and "Ahora debe $1,200.00" in done
    assert "No tengo ninguna pregunta" in say(books, "si")  # no double
    with db.session() as s:
        payment = s.query(Payment).one()
        assert payment.amount == Decimal("5000.00") and payment.source == "chat"
        receipts = s.query(OutboundMessage).filter_by(template="payment_receipt").all()
        assert [(r.channel, r.recipient) for r in receipts] == [
            ("email", "pagos@acme.mx")
        ]
        assert s.query(AuditEvent).filter_by(action="payment.recorded").count() == 1

    assert "¿Deshago el pago de $5,000.00" in say(books, "deshacer")
    assert "deshice el pago" in say(books, "sí")
    with db.session() as s:
        a102 = s.query(Invoice).filter_by(folio="102").one()
        assert a102.balance == Decimal("3000.00") and a102.status == "pending"


def test_named_invoices_and_mark_paid(books: Callable[..., Result], db: Db) -> None:
    text = say(books, "recibí 12,500 de Grupo Norte por la F-88 y la F-90")
    assert "F-88: $10,000.00 (queda pagada)" in text
    assert "F-90: $2,500.00 (queda pagada)" in text
    say(books, "sí")
    marked = say(books, "marca pagada la A-102")
    assert "Registro un pago de $3,000.00" in marked
    say(books, "va")
    with db.session() as s:
        assert {i.label: i.status for i in s.query(Invoice)} == {
            "A-102": "paid",
            "A-105": "pending",
            "F-88": "paid",
            "F-90": "paid",
            "U-7": "pending",
        }


def test_money_is_never_guessed(books: Callable[..., Result], db: Db) -> None:
    over = say(books, "recibí 20 mil de acme por la A-102")
    assert "No registré nada" in over
    ask = say(books, "Acme me pagó")
    assert "¿De cuánto fue el pago de Acme" in ask
    assert "$1,500.00" in say(books, "1500")
    assert "no hice nada" in say(books, "no")

    choose = say(books, "grupo me pagó 100")
    assert "¿Cuál?" in choose and "1. Grupo" in choose
    assert "Contesta con el número" in say(books, "mmm")
    picked = say(books, "norte")
    assert "Registro un pago de $100.00 de Grupo Norte" in picked
    assert "Listo, lo dejé así" in say(books, "cancelar")
    with db.session() as s:
        assert s.query(Payment).count() == 0


def test_links_contacts_and_reminders(books: Callable[..., Result], db: Db) -> None:
    link = say(books, "mándale el link de pago a Acme")
    assert "https://cobra.test/portal/" in link and "correo" in link
    assert "WhatsApp" in say(books, "el whatsapp de acme es 55 8765 4321")
    on = say(books, "activa los recordatorios por whatsapp a acme")
    assert "activados" in on
    assert "Pausé todos" in say(books, "pausa todos los recordatorios")
    assert "Oculté" in say(books, "oculta las facturas de grupo norte")
    new = say(books, "nuevo link para acme")
    assert "el anterior ya no abre" in new
    with db.session() as s:
        acme = s.query(Contact).filter_by(rfc="AIM050610RTA").one()
        assert acme.whatsapp == "+525587654321" and acme.whatsapp_reminders
        assert s.query(Business).one().reminders_paused
        assert s.query(Contact).filter_by(rfc="GNC101115PL8").one().invoices_hidden
        sent = s.query(OutboundMessage).filter_by(template="payment_link").all()
        assert [m.recipient for m in sent] == ["pagos@acme.mx"]
    late = say(books, "vencidas")
    assert "F-88" not in late  # hidden from lists…
    assert "$18,700.00" in say(books, "cuanto me deben")  # …but not from totals


def test_chart_help_and_not_understood(books: Callable[..., Result]) -> None:
    chart = say(books, "¿cómo va mi cobranza?")
    assert "Te deben $18,700.00" in chart and "(archivo:" in chart
    assert chart.split("(archivo: ")[1].strip().endswith("cobranza.png)")
    assert "Saldos" in say(books, "ayuda")
    assert "No te entendí" in say(books, "el clima en cancún")


def test_staff_cannot_pay_suppliers(books: Callable[..., Result], db: Db) -> None:
    from flows.messages import Channel, Inbound
    from handlers.context import EngineConfig
    from handlers.engine import Engine

    books(f"user add --business {RFC} --role staff --whatsapp +525511119999")
    engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
    reply = engine.handle(
        Inbound(
            Channel.WHATSAPP,
            "+5215511119999",
            "págale a papelera la F-77",
            NOW,
            provider_message_id="SM1",
        )
    )
    assert "dueña del negocio" in reply.text
    reply = engine.handle(
        Inbound(
            Channel.WHATSAPP,
            "+525511119999",
            "cuanto me debe acme",
            NOW,
            provider_message_id="SM2",
        )
    )
    assert "$6,200.00" in reply.text


def test_demo_business_answers(cobra: Callable[..., Result], db: Db) -> None:
    assert seed_demo(db.factory, now=NOW)
    assert not seed_demo(db.factory, now=NOW)
    result = cobra(["chat", "--business", DEMO_RFC, "--message", "¿cuánto me deben?"])
    assert result.exit_code == 0 and "Te deben:" in result.output
    with db.session() as s:
        assert s.query(Contact).filter_by(kind="customer").count() == 20
        assert s.query(Contact).filter_by(kind="supplier").count() == 10
        assert s.query(Invoice).count() == 150
        assert s.query(Invoice).filter(Invoice.paid > 0, Invoice.balance > 0).count()
        assert {i.payment_method for i in s.query(Invoice)} == {"PUE", "PPD"}


def test_what_falls_due_ahead(books: Callable[..., Result]) -> None:
    month = say(books, "¿qué vence este mes?")
    week = say(books, "¿qué facturas vencen esta semana?")
    day = say(books, "¿qué vence el 20 de diciembre?")
    norte = say(books, "qué le vence este mes a grupo norte")

    assert "Vencen de hoy al 31 dic: $3,200.00, US$100.00 en 2 facturas" in month
    assert "A-105" in month and "U-7" in month and "A-102" not in month
    assert "No tienes facturas que venzan de hoy al 6 dic." in week
    assert "Vencen el 20 dic: $3,200.00 en 1 factura" in day
    assert "U-7" in norte and "A-105" not in norte
    assert "vencida hace" in say(books, "vencidas")
