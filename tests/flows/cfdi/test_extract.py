"""The fast extractor: the fields of I, E and P documents, and why bad files fail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from flows.cfdi import read_cfdi
from flows.errors import InvalidInput
from tests.cfdi_factory import (
    ACME,
    BUSINESS,
    Item,
    Paid,
    credit_note,
    invoice,
    new_uuid,
    payment,
)


def test_ingreso_fields() -> None:
    uuid = new_uuid(1)
    cfdi = read_cfdi(
        invoice(
            uuid=uuid,
            items=[
                Item("Tornillo 1/4", Decimal(100), Decimal("2.50"), unit_key="H87"),
                Item("Instalación", Decimal(1), Decimal("750.00")),
            ],
            terms="Crédito 45 días",
            series="A",
            folio="1500",
        )
    )
    assert cfdi.uuid == uuid and cfdi.cfdi_type == "I"
    assert (cfdi.series, cfdi.folio) == ("A", "1500")
    assert cfdi.subtotal == Decimal("1000.00") and cfdi.total == Decimal("1160.00")
    assert cfdi.issuer_rfc == BUSINESS.rfc and cfdi.receiver_rfc == ACME.rfc
    assert cfdi.receiver_regime == ACME.regime
    assert cfdi.receiver_postal_code == ACME.postal_code
    assert cfdi.payment_method == "PPD" and cfdi.payment_terms == "Crédito 45 días"
    assert cfdi.issued_at == dt.datetime(2026, 11, 1, 10, 30)
    assert cfdi.description == "Tornillo 1/4"


def test_payment_and_credit_note_fields() -> None:
    target = new_uuid(2)
    cfdi = read_cfdi(
        payment(
            paid=[
                Paid(target, "600.00", "1160.00"),
                Paid(
                    new_uuid(3), "100.00", "100.00", currency="USD", equivalence="0.05"
                ),
            ],
            paid_on=dt.datetime(2026, 11, 20, 9, 15),
        )
    )
    assert cfdi.cfdi_type == "P"
    assert [(p.line, p.invoice_uuid, p.amount, p.currency) for p in cfdi.payments] == [
        (1, target, Decimal("600.00"), "MXN"),
        (2, new_uuid(3), Decimal("100.00"), "USD"),
    ]
    assert cfdi.payments[0].paid_at == dt.datetime(2026, 11, 20, 9, 15)

    note = read_cfdi(credit_note(related=[target], total="116.00"))
    assert note.cfdi_type == "E" and note.related == [("01", target)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"esto no es xml", "no es un XML válido"),
        (b"<factura/>", "no es un CFDI"),
        (invoice(version="3.3"), "CFDI 3.3"),
        (invoice(stamped=False), "no está timbrado"),
        (invoice(total_override="999.00"), "no cuadra"),
        (invoice(cfdi_type="T"), "traslado"),
        (invoice(cfdi_type="N"), "nómina"),
    ],
)
def test_bad_documents_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput) as error:
        read_cfdi(data)
    assert reason in error.value.message


def test_entities_are_not_expanded() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0">'
        b"&e;</cfdi:Comprobante>"
    )
    with pytest.raises(InvalidInput):
        read_cfdi(hostile)
