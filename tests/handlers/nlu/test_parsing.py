"""Amounts, dates, invoice references, phones and normalization, parsed exactly."""

import datetime
from decimal import Decimal

import pytest

from handlers.nlu import (
    InvoiceRef,
    normalize,
    parse_amount,
    parse_date,
    parse_invoice_refs,
)
from handlers.nlu.parsing import parse_email, parse_period, parse_phone

TODAY = datetime.date(2026, 12, 3)  # a Thursday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 mil", (Decimal("5000"), None)),
        ("5k", (Decimal("5000"), None)),
        ("$5,000.50", (Decimal("5000.50"), None)),
        ("12.5 mil", (Decimal("12500"), None)),
        ("medio millón", (Decimal("500000"), None)),
        ("12,500", (Decimal("12500"), None)),
        ("12.50", (Decimal("12.50"), None)),
        ("5 mil 500", (Decimal("5500"), None)),
        ("2 millones 300 mil", (Decimal("2300000"), None)),
        ("US$1,200", (Decimal("1200"), "USD")),
        ("me pagó 300 dólares", (Decimal("300"), "USD")),
        ("usd 450", (Decimal("450"), "USD")),
        ("mil pesos", (Decimal("1000"), "MXN")),
        ("dos mil quinientos pesos", (Decimal("2500"), "MXN")),
        ("Acme me pagó 5 mil", (Decimal("5000"), None)),
        (
            "recibí 12,500 de Grupo Norte por la F-88 y la F-90",
            (Decimal("12500"), None),
        ),
        ("le pago el 30 de diciembre 2 mil", (Decimal("2000"), None)),
        ("pagó 3,000 a las 5", (Decimal("3000"), None)),
        ("1,250,000.75 pesos", (Decimal("1250000.75"), "MXN")),
    ],
)
def test_amounts(text: str, expected: tuple[Decimal, str | None]) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "estatus de la F-88",
        "el 15 les deposito",
        "el whatsapp de Acme es 55 1234 5678",
        "mil gracias",
        "en 3 días",
        "la factura 88",
        "hola",
    ],
)
def test_not_amounts(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("la A-102", (InvoiceRef("A", "102"),)),
        ("la 88", (InvoiceRef(None, "88"),)),
        ("F88", (InvoiceRef("F", "88"),)),
        ("factura a102", (InvoiceRef("A", "102"),)),
        ("por la F-88 y la F-90", (InvoiceRef("F", "88"), InvoiceRef("F", "90"))),
        (
            "facturas 88, 89 y 90",
            tuple(InvoiceRef(None, f) for f in ("88", "89", "90")),
        ),
        ("folio #1234", (InvoiceRef(None, "1234"),)),
        ("me pagó 5 mil el 15", ()),
        ("300 usd", ()),
        ("a las 5", ()),
    ],
)
def test_invoice_refs(text: str, expected: tuple[InvoiceRef, ...]) -> None:
    assert parse_invoice_refs(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("el viernes", datetime.date(2026, 12, 4)),
        ("el jueves", datetime.date(2026, 12, 10)),  # today excluded
        ("el 15", datetime.date(2026, 12, 15)),
        ("el 2", datetime.date(2027, 1, 2)),
        ("mañana", datetime.date(2026, 12, 4)),
        ("pasado mañana", datetime.date(2026, 12, 5)),
        ("15 de enero", datetime.date(2027, 1, 15)),
        ("paga el 15 de enero", datetime.date(2027, 1, 15)),  # not "el 15"
        ("el día 20 de diciembre", datetime.date(2026, 12, 20)),
        ("15/01/2027", datetime.date(2027, 1, 15)),
        ("20 dic", datetime.date(2026, 12, 20)),
        ("hoy", TODAY),
        ("a fin de mes", datetime.date(2026, 12, 31)),
        ("en 3 días", datetime.date(2026, 12, 6)),
        ("la próxima semana", datetime.date(2026, 12, 11)),
        ("hoy en la mañana", TODAY),
        ("sin fecha", None),
    ],
)
def test_dates(text: str, expected: datetime.date | None) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("me pagó el lunes", datetime.date(2026, 11, 30)),
        ("el jueves", datetime.date(2026, 11, 26)),  # today excluded
        ("el 3", TODAY),
        ("el 15", datetime.date(2026, 11, 15)),
        ("el 31", datetime.date(2026, 10, 31)),  # November has 30
        ("el 15 de enero", datetime.date(2026, 1, 15)),
        ("20 dic", datetime.date(2025, 12, 20)),
        ("29 de febrero", datetime.date(2024, 2, 29)),
        ("ayer", datetime.date(2026, 12, 2)),
        ("15/01/2027", datetime.date(2027, 1, 15)),  # a written year stays
        ("mañana", datetime.date(2026, 12, 4)),  # forward words keep their sense
    ],
)
def test_dates_already_gone(text: str, expected: datetime.date) -> None:
    assert parse_date(text, TODAY, past=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("55 1234 5678", "+525512345678"),
        ("(55) 1234-5678", "+525512345678"),
        ("+52 1 55 1234 5678", "+525512345678"),
        ("+52 33 1234 5678", "+523312345678"),
        ("12,500,000.00", None),
    ],
)
def test_phones(text: str, expected: str | None) -> None:
    assert parse_phone(text) == expected


def test_email_and_period() -> None:
    assert parse_email("el correo de acme es Pagos@Acme.mx") == "pagos@acme.mx"
    assert parse_period("¿qué tengo que pagar esta semana?") == "week"
    assert parse_period("movimientos del mes pasado") == "last_month"
    assert parse_period("¿cuánto entró este mes?") == "month"
    assert parse_period("¿qué vence hoy?") == "today"
    assert parse_period("¿cuánto cobré la semana pasada?") == "last_week"
    assert parse_period("¿quién me pagó ayer?") == "yesterday"


def test_normalize() -> None:
    assert normalize("¿Cuántooo me DEBEN?") == "cuanto me deben"
    assert normalize("siiii porfa") == "si por favor"
    assert normalize("kuanto me debe Peña") == "cuanto me debe pena"
    assert normalize("xq no llegó el correo") == "porque no llego el correo"
