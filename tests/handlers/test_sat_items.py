"""Invoices by chat from catalog items, on both databases: items picked by name
with fuzzy matching, a numbered question when two fit, and the free amount and
concept when none does."""

# The SAT fixtures are imported from tests/flows/sat/conftest.py, so the test
# arguments that take them shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

from decimal import Decimal

from satcfdi.cfdi import CFDI
from sqlalchemy import select

from flows import catalog
from handlers.sat import ItemPiece, read_item_pieces
from storage.db import transaction
from storage.models import Business, OutboundMessage
from tests.builders import NOW, make_contact
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import (  # noqa: F401 - the fixtures
    csd,
    fake_pac,
    fiel,
)
from tests.handlers.test_sat_chat import Chat, issued, setup


def stock(db: Db, business_id: int, *items: tuple[str, str, str, str]) -> None:
    with transaction(db.factory) as session:
        business = session.get(Business, business_id)
        assert business is not None
        for description, price, product_key, unit_key in items:
            catalog.add_item(
                session,
                business=business,
                description=description,
                unit_price=Decimal(price),
                now=NOW,
                source="cli",
                product_key=product_key,
                unit_key=unit_key,
            )


SCREWS = ("Caja de tornillos", "350", "31161500", "H87")
LOOSE = ("Tornillos sueltos", "2.50", "31161500", "H87")
INSTALL = ("Servicio de instalación", "1200", "72151500", "E48")


def test_reading_the_pieces_of_a_request() -> None:
    assert read_item_pieces("Factúrale a Acme 3 cajas de tornillos", "Acme") == [
        ItemPiece(Decimal(3), "cajas de tornillos")
    ]
    assert read_item_pieces(
        "factúrale a Acme 2 Caja de tornillos y una instalación", "Acme"
    ) == [
        ItemPiece(Decimal(2), "Caja de tornillos"),
        ItemPiece(Decimal(1), "instalación"),
    ]
    # "y" inside a name splits nothing without a quantity after it.
    assert read_item_pieces("factúrale a Acme tornillos y tuercas", "Acme") == [
        ItemPiece(Decimal(1), "tornillos y tuercas")
    ]
    # An amount and a concept are never read as items.
    for text in (
        "Factúrale a Acme 10 mil más IVA por consultoría de noviembre",
        "Factúrale a Acme 11,600 por consultoría",
        "Factúrale a Acme $3,500 de reparación",
        "Factúrale a Acme 3500 de reparación",
    ):
        assert read_item_pieces(text, "Acme") == [], text


def test_invoice_from_two_items_by_name(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    stock(db, ids["business"], SCREWS, INSTALL)
    chat = Chat(db, fake_pac)

    draft = chat.say("Factúrale a Acme 2 Caja de tornillos y 1 servicio de instalación")

    assert "2 Caja de tornillos, Servicio de instalación" in draft.text
    assert "clave 31161500, unidad H87" in draft.text
    # 2 × 350 + 1 200 = 1 900 before IVA, 2 204 with it.
    assert "Subtotal $1,900.00" in draft.text and "Total $2,204.00" in draft.text
    done = chat.say("sí")
    [invoice] = issued(db)
    assert invoice.uuid is not None and invoice.uuid in done.text
    assert invoice.total == Decimal("2204.00")
    stamped = CFDI.from_string(fake_pac.stamped[invoice.uuid])
    [concept] = stamped["Conceptos"]
    assert concept["ClaveProdServ"] == "31161500" and concept["ClaveUnidad"] == "H87"


def test_fuzzy_plural_name_and_a_question_when_two_fit(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    stock(db, ids["business"], SCREWS, LOOSE)
    chat = Chat(db, fake_pac)

    plural = chat.say("factúrale a Acme 3 cajas de tornillos")
    assert "3 Caja de tornillos" in plural.text and "Subtotal $1,050.00" in plural.text
    chat.say("no")

    asked = chat.say("factúrale a Acme 40 tornillos")
    assert "¿Cuál de estos es «tornillos»?" in asked.text
    assert "1. Caja de tornillos" in asked.text and "2. Tornillos sueltos" in asked.text
    assert issued(db) == []

    resumed = chat.say("2")
    assert "40 Tornillos sueltos" in resumed.text
    assert "Subtotal $100.00" in resumed.text and "¿La timbro" in resumed.text
    chat.say("sí")
    [invoice] = issued(db)
    assert invoice.total == Decimal("116.00")


def test_answer_by_name_and_a_new_request_leaves_the_question(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    stock(db, ids["business"], SCREWS, LOOSE)
    chat = Chat(db, fake_pac)

    chat.say("factúrale a Acme 2 tornillos")
    by_name = chat.say("sueltos")
    assert "2 Tornillos sueltos" in by_name.text
    chat.say("no")

    chat.say("factúrale a Acme 2 tornillos")
    unclear = chat.say("mmm")
    assert "Contesta con el número (1 a 2)" in unclear.text
    other = chat.say("¿cuánto me deben?")
    assert "¿Cuál de estos" not in other.text


def test_no_item_fits_falls_back_to_amount_and_concept(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    stock(db, ids["business"], SCREWS)
    chat = Chat(db, fake_pac)

    free = chat.say("Factúrale a Acme 10 mil más IVA por consultoría de noviembre")
    assert "Consultoría de noviembre" in free.text and "Total $11,600.00" in free.text
    chat.say("no")

    unknown = chat.say("factúrale a Acme 2 sacos de cemento")
    assert "¿Por qué concepto es la factura?" in unknown.text

    partly = chat.say("factúrale a Acme 2 cajas de tornillos y 3 sacos de cemento")
    assert "No tengo «sacos de cemento» en tu catálogo" in partly.text
    assert issued(db) == []


def test_which_customer_then_which_item_then_the_draft(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    stock(db, ids["business"], SCREWS, LOOSE)
    with transaction(db.factory) as session:
        business = session.get(Business, ids["business"])
        assert business is not None
        make_contact(session, business, name="Acme Logística", rfc="ALO0501019Z1")
    chat = Chat(db, fake_pac)

    who = chat.say("factúrale a Acme 4 tornillos")
    assert "¿Cuál?" in who.text and "Acme Logística" in who.text
    number = next(
        line[0] for line in who.text.splitlines() if "Acme Industrial" in line
    )
    which = chat.say(number)
    assert "¿Cuál de estos es «tornillos»?" in which.text
    draft = chat.say("1")
    assert "Factura para Acme Industrial" in draft.text
    assert "4 Caja de tornillos" in draft.text and "Subtotal $1,400.00" in draft.text
    chat.say("sí")
    [invoice] = issued(db)
    assert invoice.contact_id == ids["acme"] and invoice.total == Decimal("1624.00")
    with db.session() as session:
        assert session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "sat_notice")
        ).one()
