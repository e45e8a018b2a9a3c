"""understand() end to end: roles narrow intents; contacts match by name and RFC."""

import datetime
from decimal import Decimal

import pytest

from handlers.nlu import (
    ContactCandidate,
    Intent,
    InvoiceRef,
    Role,
    match_contacts,
    understand,
)
from handlers.nlu.types import CUSTOMER_INTENTS, OWNER_INTENTS

TODAY = datetime.date(2026, 12, 3)  # a Thursday

CONTACTS = [
    ContactCandidate(1, "Acme Industrial, S.A. de C.V.", "Acme", "AIN010101AB1"),
    ContactCandidate(2, "Grupo Norte SA de CV", None, "GNO010101AB2"),
    ContactCandidate(3, "Grupo Sur S. de R.L. de C.V.", "Grupo Sur", "GSU010101AB3"),
    ContactCandidate(4, "Juan Peña Hernández", None, "PEHJ800101AB4"),
    ContactCandidate(5, "Acmex Logística SAPI de CV", None, "ALO010101AA6"),
]


def test_customer_never_gets_owner_intents() -> None:
    for text in ["¿cuánto me debe Acme?", "marca pagada la A-102", "quiero un crédito"]:
        got = understand(text, role=Role.CUSTOMER, today=TODAY)
        assert got.intent not in OWNER_INTENTS, text


def test_owner_never_gets_customer_intents() -> None:
    for text in ["¿cuánto debo?", "ya pagué", "pago el viernes"]:
        got = understand(text, role=Role.OWNER, today=TODAY)
        assert got.intent not in CUSTOMER_INTENTS, text


def test_same_words_by_role() -> None:
    assert understand("¿cuánto debo?", role=Role.CUSTOMER, today=TODAY).intent is (
        Intent.CUSTOMER_BALANCE
    )
    assert understand("¿cuánto debo?", role=Role.OWNER, today=TODAY).intent is (
        Intent.PAYABLES_DUE
    )


def test_unknown_speaker_gets_only_common_intents() -> None:
    assert understand("hola", role=Role.UNKNOWN, today=TODAY).intent is Intent.GREETING
    got = understand("¿cuánto me deben?", role=Role.UNKNOWN, today=TODAY)
    assert got.intent not in OWNER_INTENTS | CUSTOMER_INTENTS


def test_register_payment_entities() -> None:
    got = understand(
        "recibí 12,500 de Grupo Norte por la F-88 y la F-90",
        role=Role.OWNER,
        today=TODAY,
    )
    assert got.intent is Intent.REGISTER_PAYMENT
    assert got.source == "rules"
    assert got.entities.amount == Decimal("12500")
    assert got.entities.invoice_refs == (InvoiceRef("F", "88"), InvoiceRef("F", "90"))
    assert got.entities.customer == "Grupo Norte"


def test_promise_needs_a_date() -> None:
    dated = understand("el 15 les deposito", role=Role.CUSTOMER, today=TODAY)
    assert dated.intent is Intent.CUSTOMER_PROMISE
    assert dated.entities.date == datetime.date(2026, 12, 15)
    assert dated.entities.amount is None


def test_reply_to_customer_keeps_the_message() -> None:
    got = understand(
        "responder a Acme: ya quedó tu factura de 5 mil", role=Role.OWNER, today=TODAY
    )
    assert got.intent is Intent.REPLY_TO_CUSTOMER
    assert got.entities.customer == "Acme"
    assert got.entities.text == "ya quedó tu factura de 5 mil"
    assert got.entities.amount is None


def test_pause_everyone() -> None:
    got = understand("pausa todos los recordatorios", role=Role.OWNER, today=TODAY)
    assert got.intent is Intent.PAUSE_REMINDERS
    assert got.entities.all_contacts
    assert got.entities.customer is None


def test_semantic_places_what_rules_do_not() -> None:
    cases = {
        "quisiera que me prestaran dinero para el negocio": Intent.FINANCING_START,
        "oye y eso de los numeros como me ayuda": Intent.HELP,
    }
    for text, intent in cases.items():
        got = understand(text, role=Role.OWNER, today=TODAY)
        assert got.source == "semantic"
        assert got.intent is intent


def test_empty_message_is_unknown() -> None:
    got = understand("  ¿? ", role=Role.OWNER, today=TODAY)
    assert got.intent is Intent.UNKNOWN


@pytest.mark.parametrize(
    ("phrase", "ids"),
    [
        ("acme", [1]),
        ("ACME SA de CV", [1]),
        ("grupo norte", [2]),
        ("grupo nrote", [2]),
        ("peña", [4]),
        ("pena", [4]),
        ("GNO010101AB2", [2]),
        ("acmex", [5]),
        ("grupo", [2, 3]),
        ("zapateria", []),
    ],
)
def test_match_contacts(phrase: str, ids: list[int]) -> None:
    assert [match.id for match in match_contacts(phrase, CONTACTS)] == ids


def test_match_contacts_limit() -> None:
    many = [
        ContactCandidate(i, f"Grupo {i}", None, f"GRU0101{i:02d}AB1") for i in range(9)
    ]
    assert len(match_contacts("grupo", many, limit=3)) == 3
