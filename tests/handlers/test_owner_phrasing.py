"""How owners really ask: who paid today, how much is overdue, a customer named
by RFC; through the engine on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from flows.fmt import as_utc
from storage.models import Contact, Invoice, Payment
from tests.conftest import Db
from tests.handlers.test_statement_on_request import Books


@pytest.fixture
def books(db: Db) -> Books:
    return Books(db)


def gamma_label(books: Books) -> str:
    """How Gamma's one invoice is named."""
    with books.db.session() as session:
        invoice = session.scalars(
            select(Invoice).join(Contact).where(Contact.name == "Gamma Servicios")
        ).one()
        return invoice.label


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


def test_a_guess_never_confirms(books: Books) -> None:
    books.say("Acme me pagó 500")

    reply = books.say("xyz")  # reads close to "sí" for the semantic classifier

    with books.db.session() as session:
        assert session.scalars(select(Payment)).all() == []
    assert "Registré" not in reply.text
    books.say("sí por favor mándalo")
    with books.db.session() as session:
        assert len(session.scalars(select(Payment)).all()) == 1


def test_adding_a_customer_asks_for_the_rfc_then_shows_the_card(
    books: Books,
) -> None:
    asked = books.say("agrega un cliente: Juan Pérez, 55 1234 5678")
    unsure = books.say("no sé")
    done = books.say("PEJJ800101AB1")
    again = books.say("da de alta al cliente Juan Pérez, RFC PEJJ800101AB1")

    assert asked.text.startswith("¿Cuál es el RFC de Juan Pérez?")
    assert "genérico XAXX010101000" in unsure.text
    assert done.text.splitlines()[:4] == [
        "Listo, di de alta a Juan Pérez como cliente.",
        "Juan Pérez",
        "RFC: PEJJ800101AB1",
        "WhatsApp: +52 55 1234 5678",
    ]
    assert again.text.startswith("Ya tenía a Juan Pérez con ese RFC")
    with books.db.session() as session:
        juan = session.scalars(select(Contact).where(Contact.rfc == "PEJJ800101AB1"))
        assert len(juan.all()) == 1


def test_a_supplier_added_in_one_message_and_a_datum_for_a_known_one(
    books: Books,
) -> None:
    supplier = books.say(
        "nuevo proveedor Aceros del Centro, ACE0101019Z3, ventas@aceros.mx"
    )
    datum = books.say("agrega al cliente Gamma el correo pagos@gamma.mx")

    assert supplier.text.splitlines()[1] == "Aceros del Centro · proveedor"
    assert "Correo: ventas@aceros.mx" in supplier.text
    assert datum.text == "Listo, guardé el correo de Gamma Servicios."
    with books.db.session() as session:
        gamma = session.scalars(
            select(Contact).where(Contact.name == "Gamma Servicios")
        ).one()
        assert gamma.email_list == ["pagos@gamma.mx"]


def test_a_payment_received_on_an_earlier_day_keeps_that_day(books: Books) -> None:
    # NOW is Thursday 3 December 2026 in Mexico City.
    proposal = books.say("Acme me pagó 500 el lunes")
    assert "recibido el 30 nov" in proposal.text
    books.say("sí")

    later = books.say("Acme me pagó 100 el 2 de diciembre")
    assert "recibido el 2 dic" in later.text
    books.say("sí")

    with books.db.session() as session:
        paid = sorted(as_utc(p.paid_at) for p in session.scalars(select(Payment)).all())
    assert paid == [
        dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC),
    ]


def test_a_payment_dated_tomorrow_is_not_recorded(books: Books) -> None:
    reply = books.say("Acme me pagó 500 mañana")

    assert "todavía no llega" in reply.text
    books.say("sí")
    with books.db.session() as session:
        assert session.scalars(select(Payment)).all() == []


def test_the_rfc_of_a_contact_added_with_the_generic_one_is_corrected(
    books: Books,
) -> None:
    books.say("agrega un cliente: Luna Textil, 55 1234 9999")
    books.say("genérico")

    proposal = books.say("agrega al cliente Luna Textil el RFC LTE900101AB1")
    assert "¿Cambio el RFC de Luna Textil de XAXX010101000 a LTE900101AB1?" in (
        proposal.text
    )
    assert "Listo, Luna Textil ya tiene el RFC LTE900101AB1." in books.say("sí").text

    with books.db.session() as session:
        lunas = session.scalars(
            select(Contact).where(Contact.name == "Luna Textil")
        ).all()
    assert [(c.rfc, c.match_key) for c in lunas] == [("LTE900101AB1", "LTE900101AB1")]

    again = books.say("el RFC de Luna Textil es LTE900101AB1")
    assert again.text == "Luna Textil ya tiene el RFC LTE900101AB1."
    taken = books.say("cambia el RFC de Acme a LTE900101AB1")
    assert "ya es de Luna Textil" in taken.text
    assert "no se lo puedo poner" in taken.text


def test_a_correction_of_the_rfc_waits_for_the_yes(books: Books) -> None:
    asked = books.say("cambia el RFC de Acme Industrial a AIN850101AB2")
    assert asked.text.startswith("¿Cambio el RFC de Acme Industrial")
    books.say("no")

    with books.db.session() as session:
        acme = session.scalars(
            select(Contact).where(Contact.name == "Acme Industrial")
        ).one()
    assert acme.rfc != "AIN850101AB2"


def test_asking_whether_a_customer_paid_records_nothing(books: Books) -> None:
    before = books.say("¿Acme ya me pagó?")
    assert before.text.startswith(
        "No tengo pagos registrados de Acme Industrial.\nAcme Industrial te debe"
    )
    books.say("Acme me pagó 500 el lunes")
    books.say("sí")

    after = books.say("¿ya me pagó Acme?")

    assert after.text.startswith(
        "Lo último que te pagó Acme Industrial: $500.00 el 30 nov."
    )
    with books.db.session() as session:
        assert len(session.scalars(select(Payment)).all()) == 1


def test_a_customers_credit_days_are_set_and_shown_not_financing(
    books: Books,
) -> None:
    card = books.say("¿cuántos días de crédito tiene Acme?")
    assert "Crédito: 30 días (el general de tu negocio)" in card.text

    done = books.say("ponle 45 días de crédito a Acme")
    assert done.text.startswith("Listo, Acme Industrial queda con 45 días de crédito.")
    assert (
        "Crédito: 45 días\n" in books.say("¿cuántos días de crédito tiene Acme?").text
    )
    cash = books.say("Gamma de contado")
    assert cash.text.startswith("Listo, Gamma Servicios queda de contado.")
    with books.db.session() as session:
        terms = dict(session.execute(select(Contact.name, Contact.terms_days)).all())
    assert terms["Acme Industrial"] == 45 and terms["Gamma Servicios"] == 0


def test_the_owner_asks_for_an_invoices_files(books: Books) -> None:
    label = gamma_label(books)

    reply = books.say(f"mándame el pdf de la {label}")

    [message] = reply.messages
    assert message.text.startswith(f"Factura {label} por $300.00 (saldo $300.00, ")
    assert [d.filename for d in message.documents] == [f"factura-{label}.pdf"]
    assert message.documents[0].content.startswith(b"%PDF")
    assert not books.say(f"¿cómo va la {label}?").messages[0].documents


def test_the_owner_asks_how_reminders_go_out(books: Books) -> None:
    books.say("pausa los recordatorios de Gamma")

    reply = books.say("¿a qué hora mandas los recordatorios?")

    lines = reply.text.splitlines()
    assert lines[0] == "Así van tus recordatorios:"
    steps = [line for line in lines if line.startswith("• ")]
    assert steps[0].startswith("• al emitir la factura: por correo")
    assert "• el día que vence: por correo y WhatsApp" in steps
    assert "Salen a las 09:00 (hora de tu negocio)" in reply.text
    assert "WhatsApp: lo reciben 0 clientes" in reply.text
    assert "Sin correo: 1 cliente (" in reply.text
    assert "En pausa: 1 cliente (" in reply.text


def test_the_owner_gets_a_customers_statement_as_a_pdf(books: Books) -> None:
    reply = books.say("mándame el estado de cuenta de Acme")

    [message] = reply.messages
    assert message.text.startswith("Acme Industrial te debe $1,660.00")
    [document] = message.documents
    assert document.filename == "estado-de-cuenta-acme-industrial-2026-12-03.pdf"
    assert document.content.startswith(b"%PDF")
    assert books.statements() == []  # nothing went to Acme


def test_overdue_by_more_than_some_days(books: Books) -> None:
    # Acme's first invoice fell due on 20 Nov: 13 days before NOW.
    assert books.say("¿quién me debe desde hace más de 10 días?").text.startswith(
        "Facturas vencidas hace más de 10 días: $1,160.00 en 1 factura"
    )
    assert books.say("vencidas de más de 30 días").text == (
        "No tienes facturas vencidas hace más de 30 días. ✅"
    )


def test_a_payment_for_an_invoice_of_another_customer_is_questioned(
    books: Books,
) -> None:
    label = gamma_label(books)

    wrong = books.say(f"Acme me pagó la {label}")
    assert wrong.text == (
        f"La {label} es de Gamma Servicios, no de «Acme». Revisa el folio, o "
        f"escribe «Gamma Servicios pagó la {label}»."
    )
    by_spei = books.say(f"ya me pagaron la {label} por SPEI")
    assert by_spei.text.startswith("Registro un pago de $300.00 de Gamma Servicios")
    with books.db.session() as session:
        assert session.scalars(select(Payment)).all() == []


def test_the_bank_balance_is_not_claimed(books: Books) -> None:
    reply = books.say("¿cuánto tengo en el banco?")

    assert reply.text.startswith(
        "No veo el saldo de tu banco; sí lo que entró y salió por Cobra.\n"
        "Movimientos esta semana"
    )


def test_a_contact_added_by_mistake_is_removed_one_with_history_stays(
    books: Books,
) -> None:
    books.say("agrega un cliente: Luna Textil, RFC LTE900101AB1")

    assert books.say("borra a Luna Textil").text.startswith(
        "¿Borro al cliente Luna Textil (RFC LTE900101AB1)?"
    )
    assert books.say("sí").text == "Listo, borré a Luna Textil."
    books.say("elimina al cliente Acme")
    kept = books.say("sí")
    assert kept.text.startswith("Acme Industrial ya tiene historial")
    with books.db.session() as session:
        names = set(session.scalars(select(Contact.name)).all())
    assert "Luna Textil" not in names and "Acme Industrial" in names
