"""What the owner names narrows the answer: a reminder "por WhatsApp" or "por
correo" goes only there, a balance "en dólares" counts only dollars; through the
engine on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Business, Contact
from tests.builders import make_contact, make_invoice
from tests.conftest import Db
from tests.handlers.test_statement_on_request import Books


@pytest.fixture
def books(db: Db) -> Books:
    return Books(db)


def test_a_reminder_by_one_channel_goes_only_there(books: Books) -> None:
    whatsapp = books.say("mándale un recordatorio por WhatsApp a Acme")
    email = books.say("mándale su estado de cuenta por correo a Acme")

    assert "por WhatsApp:" in whatsapp.text and "correo" not in whatsapp.text
    assert "por correo:" in email.text
    assert [(m.channel, m.recipient) for m in books.statements()] == [
        ("whatsapp", "+525544443333"),
        ("email", "pagos@acme.mx"),
    ]


def test_a_channel_the_customer_lacks_is_said_and_nothing_goes(books: Books) -> None:
    with books.db.session() as session, session.begin():
        beta = session.scalars(
            select(Contact).where(Contact.name == "Beta Comercial")
        ).one()
        make_invoice(session, beta, total="200.00")

    reply = books.say("recuérdale por whatsapp a Beta Comercial")

    assert reply.text.startswith("Beta Comercial no tiene WhatsApp activo")
    assert books.statements() == []


def test_a_balance_in_one_currency(books: Books) -> None:
    pesos = books.say("¿cuánto me deben en pesos?")
    dollars = books.say("¿cuánto me deben en dólares?")
    with books.db.session() as session, session.begin():
        business = session.scalars(select(Business)).one()
        gringo = make_contact(session, business, name="Gringo Imports")
        make_invoice(session, gringo, total="100.00", currency="USD")
    only_dollars = books.say("¿cuánto me deben en dólares?")

    assert "$1,960.00 en 3 facturas" in pesos.text
    assert dollars.text == "No tienes facturas por cobrar en dólares."
    assert "US$100.00 en 1 factura" in only_dollars.text
    assert "$1,960.00" not in only_dollars.text
