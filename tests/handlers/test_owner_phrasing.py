"""How owners really ask: who paid today, how much is overdue, a customer named
by RFC; through the engine on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Contact, Payment
from tests.conftest import Db
from tests.handlers.test_statement_on_request import Books


@pytest.fixture
def books(db: Db) -> Books:
    return Books(db)


def test_who_paid_today_lists_the_money_in_not_a_new_payment(books: Books) -> None:
    books.say("Acme me pagó 500")
    books.say("sí")

    reply = books.say("¿quién me pagó hoy?")

    assert "Acme Industrial" in reply.text and "$500.00" in reply.text
    with books.db.session() as session:
        assert len(session.scalars(select(Payment)).all()) == 1


def test_how_much_is_overdue_comes_with_its_total(books: Books) -> None:
    reply = books.say("¿cuánto tengo vencido?")

    assert reply.text.startswith("Facturas vencidas: $1,460.00 en 2 facturas")


def test_a_customer_named_by_rfc(books: Books) -> None:
    with books.db.session() as session, session.begin():
        acme = session.scalars(
            select(Contact).where(Contact.name == "Acme Industrial")
        ).one()
        acme.rfc = "AIN850101AB2"

    reply = books.say("¿cuánto me debe el cliente con RFC AIN850101AB2?")

    assert reply.text.startswith("Acme Industrial te debe $1,660.00")


def test_how_many_customers_owe(books: Books) -> None:
    reply = books.say("¿cuántos clientes me deben?")

    assert "$1,960.00 en 3 facturas" in reply.text
    assert "Son 2 clientes con saldo pendiente." in reply.text
    assert "clientes con saldo" not in books.say("¿cuánto me deben?").text


def test_a_customers_card_answers_what_is_their_number(books: Books) -> None:
    with books.db.session() as session, session.begin():
        acme = session.scalars(
            select(Contact).where(Contact.name == "Acme Industrial")
        ).one()
        acme.rfc, acme.terms_days = "AIN850101AB2", 30

    card = books.say("¿cuál es el teléfono de Acme?").text.splitlines()
    gamma = books.say("datos de Gamma").text.splitlines()

    assert card == [
        "Acme Industrial",
        "RFC: AIN850101AB2",
        "WhatsApp: +52 55 4444 3333",
        "Correo: pagos@acme.mx",
        "Crédito: 30 días",
        "Recordatorios: por correo · WhatsApp apagado",
        "Te debe: $1,660.00 ($1,160.00 vencido)",
    ]
    assert gamma[2] == "WhatsApp: sin registrar («el whatsapp de Gamma Servicios es …»)"
    assert "Correo: sin registrar" in gamma[3]
    # Giving the number is setting it, not asking for it.
    books.say("el whatsapp de Gamma es 55 1234 5678")
    assert "WhatsApp: +52 55 1234 5678" in books.say("datos de Gamma").text
