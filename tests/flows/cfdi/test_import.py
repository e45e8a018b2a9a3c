"""Importing CFDIs on both databases: direction, balances, idempotency, bad files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from flows.cfdi import ImportReport, import_sources
from flows.cfdi.sources import Source
from storage import repo
from storage.models import (
    Business,
    CfdiComplement,
    CfdiPendingPayment,
    Contact,
    Invoice,
    OutboundMessage,
    Payment,
    PaymentAllocation,
)
from tests.builders import NOW, make_business, make_endpoint
from tests.cfdi_factory import (
    ACME,
    BETA,
    BUSINESS,
    STRANGER,
    SUPPLIER,
    Paid,
    credit_note,
    invoice,
    new_uuid,
    payment,
    zip_of,
)
from tests.conftest import Db

TODAY = dt.date(2026, 12, 3)


def _business(db: Db) -> int:
    with db.session() as s, s.begin():
        return make_business(s, rfc=BUSINESS.rfc).id


def _import(db: Db, business_id: int, *sources: Source, **kw: Any) -> ImportReport:
    return import_sources(
        db.factory, business_id=business_id, sources=list(sources), now=NOW, **kw
    )


def _invoice(db: Db, uuid: str) -> Invoice:
    with db.session() as s:
        found = s.scalar(select(Invoice).where(Invoice.uuid == uuid))
        assert found is not None
        return found


def _open_balance(db: Db, business_id: int, rfc: str) -> Decimal:
    with db.session() as s:
        contact = repo.contact_by_rfc(s, business_id=business_id, rfc=rfc)
        assert contact is not None
        totals = repo.balance_totals(
            s,
            business_id=business_id,
            direction=contact.kind == "customer" and "receivable" or "payable",
            today=TODAY,
            contact_id=contact.id,
        )
        return totals.get("MXN", (Decimal("0"), Decimal("0"), 0))[0]


def _counts(db: Db) -> tuple[int, int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count(Invoice.id))) or 0,
            s.scalar(select(func.count(Payment.id))) or 0,
            s.scalar(select(func.count(Contact.id))) or 0,
            s.scalar(select(func.count(CfdiComplement.id))) or 0,
        )


def test_receivable_payable_and_stranger(db: Db, tmp_path: Path) -> None:
    business_id = _business(db)
    sale, purchase, other = new_uuid(), new_uuid(), new_uuid()
    (tmp_path / "venta.xml").write_bytes(
        invoice(uuid=sale, receiver=ACME, terms="Crédito 45 días")
    )
    (tmp_path / "compra.xml").write_bytes(
        invoice(uuid=purchase, issuer=SUPPLIER, receiver=BUSINESS, method="PUE")
    )
    (tmp_path / "ajena.xml").write_bytes(
        invoice(uuid=other, issuer=STRANGER, receiver=ACME)
    )
    (tmp_path / "factura.pdf").write_bytes(b"%PDF-1.4")

    report = _import(db, business_id, tmp_path)

    assert (report.imported, report.receivables, report.payables) == (2, 1, 1)
    assert report.rejected == 1 and report.duplicates == 0
    [rejection] = report.rejections
    assert rejection.name.endswith("ajena.xml")
    assert "no es de este negocio" in rejection.reason

    receivable = _invoice(db, sale)
    assert receivable.direction == "receivable" and receivable.source == "sat"
    assert receivable.issue_date == dt.date(2026, 11, 1)
    assert receivable.due_date == dt.date(2026, 12, 16)  # 45 days of the CFDI
    assert receivable.balance == Decimal("1160.00") and receivable.status == "pending"
    assert receivable.label == "A-1001"
    payable = _invoice(db, purchase)
    assert payable.direction == "payable" and payable.due_date == payable.issue_date
    with db.session() as s:
        customer = s.get(Contact, receivable.contact_id)
        supplier = s.get(Contact, payable.contact_id)
        xml = s.scalar(select(Invoice.xml).where(Invoice.uuid == sale))
    assert customer is not None and supplier is not None
    assert (customer.kind, customer.rfc, customer.name) == (
        "customer",
        ACME.rfc,
        ACME.name,
    )
    assert (customer.tax_regime, customer.postal_code) == (
        ACME.regime,
        ACME.postal_code,
    )
    assert (supplier.kind, supplier.rfc) == ("supplier", SUPPLIER.rfc)
    assert xml is not None and sale in xml


def test_default_and_contact_terms(db: Db) -> None:
    business_id = _business(db)
    first, second = new_uuid(), new_uuid()
    _import(db, business_id, ("a.xml", invoice(uuid=first)))
    with db.session() as s, s.begin():
        contact = repo.contact_by_rfc(s, business_id=business_id, rfc=ACME.rfc)
        assert contact is not None
        contact.terms_days = 10
    _import(db, business_id, ("b.xml", invoice(uuid=second, terms="60 días")))

    assert _invoice(db, first).due_date == dt.date(2026, 12, 1)  # default 30
    assert _invoice(db, second).due_date == dt.date(2026, 11, 11)  # contact's 10


def _package() -> tuple[bytes, int]:
    """A SAT-like zip: invoices, complements and a credit note, in nested folders."""
    a1, a2, b1 = new_uuid("a1"), new_uuid("a2"), new_uuid("b1")
    entries = {
        "emitidos/2026/11/a1.xml": invoice(uuid=a1, total="1160.00", folio="1"),
        "emitidos/2026/11/a2.xml": invoice(uuid=a2, total="2320.00", folio="2"),
        "emitidos/2026/11/b1.xml": invoice(
            uuid=b1, receiver=BETA, total="5800.00", folio="3"
        ),
        "emitidos/2026/11/pago-acme.xml": payment(
            paid=[Paid(a1, "1160.00"), Paid(a2, "320.00", "2320.00")]
        ),
        "emitidos/2026/11/pago-beta.xml": payment(
            receiver=BETA, paid=[Paid(b1, "1000.00", "5800.00")]
        ),
        "emitidos/2026/11/nc-beta.xml": credit_note(
            receiver=BETA, related=[b1], total="580.00"
        ),
        "recibidos/compra.xml": invoice(
            issuer=SUPPLIER, receiver=BUSINESS, total="3480.00"
        ),
    }
    return zip_of(entries), len(entries)


@pytest.mark.parametrize("in_child", [False, True], ids=["inline", "read-ahead"])
def test_zip_gives_balances_per_customer_and_reimport_changes_nothing(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_child: bool
) -> None:
    # The read-ahead child forks only in a process without other threads; the
    # test forces the choice so both paths give the same balances.
    monkeypatch.setattr("flows.cfdi.ingest.can_read_in_child", lambda: in_child)
    business_id = _business(db)
    data, count = _package()
    package = tmp_path / "sat.zip"
    package.write_bytes(data)

    report = _import(db, business_id, package)

    assert report.imported == count and report.rejected == 0, report.rejections
    assert (report.complements, report.credit_notes) == (2, 1)
    assert report.payments_applied == 4 and report.pending == 0
    assert report.warnings == []
    assert _open_balance(db, business_id, ACME.rfc) == Decimal("2000.00")
    assert _open_balance(db, business_id, BETA.rfc) == Decimal("4220.00")
    assert _open_balance(db, business_id, SUPPLIER.rfc) == Decimal("3480.00")
    assert _invoice(db, new_uuid("a1")).status == "paid"
    with db.session() as s:
        sat_payments = s.scalars(select(Payment).order_by(Payment.id)).all()
        assert {p.source for p in sat_payments} == {"sat"}
        assert all(p.complement_uuid for p in sat_payments)
        keys = [p.idempotency_key for p in sat_payments]
        assert all(keys)
        assert {(key or "").split(":")[0] for key in keys} == {
            "cfdi-p",
            "cfdi-e",
        }
    before = _counts(db)

    again = _import(db, business_id, package, ("copia.zip", data))

    assert again.imported == 0 and again.duplicates == 2 * count
    assert again.payments_applied == 0
    assert _counts(db) == before
    assert _open_balance(db, business_id, ACME.rfc) == Decimal("2000.00")


def test_a_malformed_file_in_the_middle(db: Db) -> None:
    business_id = _business(db)
    sources = [
        ("1.xml", invoice(folio="1")),
        ("2.xml", b"<?xml version='1.0'?><roto"),
        ("3.xml", invoice(version="3.3")),
        ("4.xml", invoice(stamped=False)),
        ("5.xml", invoice(total_override="10.00")),
        ("6.zip", b"PK\x03\x04 no es un zip"),
        ("7.xml", invoice(folio="7")),
    ]

    report = _import(db, business_id, *sources, batch_size=2)

    assert report.imported == 2 and report.rejected == 5
    assert [r.name for r in report.rejections] == [
        "2.xml",
        "3.xml",
        "4.xml",
        "5.xml",
        "6.zip",
    ]
    assert all(r.reason for r in report.rejections)


def test_complement_before_its_invoice(db: Db) -> None:
    business_id = _business(db)
    target, other = new_uuid(), new_uuid()
    complement = payment(paid=[Paid(target, "400.00", "1160.00")])

    # Same run, complement first and in an earlier batch than the invoice.
    report = _import(
        db,
        business_id,
        ("a-pago.xml", complement),
        ("b-factura.xml", invoice(uuid=target)),
        batch_size=1,
    )
    assert report.payments_applied == 1 and report.pending == 0
    assert _invoice(db, target).balance == Decimal("760.00")

    # Separate runs: the complement waits, and is applied when the invoice comes.
    early = _import(
        db, business_id, ("pago.xml", payment(paid=[Paid(other, "160.00", "1160.00")]))
    )
    assert early.pending == 1 and early.payments_applied == 0
    assert "pendiente" in early.warnings[0].reason
    late = _import(db, business_id, ("factura.xml", invoice(uuid=other)))
    assert late.payments_applied == 1 and late.pending == 0
    assert _invoice(db, other).balance == Decimal("1000.00")
    with db.session() as s:
        assert s.scalar(select(func.count(CfdiPendingPayment.id))) == 0
        payment_row = s.scalar(select(Payment).where(Payment.amount == Decimal("160")))
        assert payment_row is not None
        paid_at = payment_row.paid_at  # SQLite gives UTC back without its offset
        assert paid_at.replace(tzinfo=paid_at.tzinfo or dt.UTC) == dt.datetime(
            2026, 11, 20, 18, 0, tzinfo=dt.UTC
        )


def test_credit_note_before_its_invoice_and_leftover(db: Db) -> None:
    business_id = _business(db)
    target = new_uuid()
    first = _import(
        db, business_id, ("nc.xml", credit_note(related=[target], total="2000.00"))
    )
    assert first.pending == 1 and first.credit_notes == 1

    later = _import(db, business_id, ("f.xml", invoice(uuid=target, total="1160.00")))

    assert later.payments_applied == 1
    assert _invoice(db, target).status == "paid"
    assert "sin aplicar" in later.warnings[0].reason


def test_usd_invoice_paid_in_pesos(db: Db) -> None:
    business_id = _business(db)
    target = new_uuid()
    report = _import(
        db,
        business_id,
        (
            "usd.xml",
            invoice(
                uuid=target, total="1160.00", currency="USD", exchange_rate="17.25"
            ),
        ),
        (
            "pago.xml",
            payment(
                paid=[
                    Paid(
                        target,
                        "580.00",
                        "1160.00",
                        currency="USD",
                        equivalence="0.057971",
                    )
                ],
                currency="MXN",
            ),
        ),
    )

    assert report.payments_applied == 1, report.warnings
    usd = _invoice(db, target)
    assert usd.currency == "USD" and usd.exchange_rate == Decimal("17.25")
    assert usd.balance == Decimal("580.00")
    with db.session() as s:
        paid = s.scalar(select(Payment))
        assert paid is not None and paid.currency == "USD"


def test_overpaying_complement_is_a_warning(db: Db) -> None:
    business_id = _business(db)
    target = new_uuid()
    report = _import(
        db,
        business_id,
        ("f.xml", invoice(uuid=target, total="1160.00")),
        ("p.xml", payment(paid=[Paid(target, "2000.00")])),
    )

    assert report.imported == 2 and report.payments_applied == 0
    assert "no se aplicó" in report.warnings[0].reason
    assert _invoice(db, target).balance == Decimal("1160.00")


def test_unknown_business_id(db: Db) -> None:
    import pytest

    from flows.errors import NotFound

    with pytest.raises(NotFound):
        _import(db, 999)


def test_complements_and_notes_on_one_invoice_in_one_batch(db: Db) -> None:
    """Applied in order as the money rules' batch: an overpaying complement in the
    middle is a warning, the ones after it still apply, and partial numbers count
    only what applied."""
    business_id = _business(db)
    target = new_uuid()
    first, too_much, last, small, big = sorted(new_uuid() for _ in range(5))
    report = _import(
        db,
        business_id,
        ("f.xml", invoice(uuid=target, total="1160.00")),
        ("p1.xml", payment(uuid=first, paid=[Paid(target, "500.00")])),
        ("p2.xml", payment(uuid=too_much, paid=[Paid(target, "700.00")])),
        ("p3.xml", payment(uuid=last, paid=[Paid(target, "600.00")])),
        ("nc1.xml", credit_note(uuid=small, related=[target], total="40.00")),
        ("nc2.xml", credit_note(uuid=big, related=[target], total="100.00")),
    )

    assert report.payments_applied == 4, report.warnings
    reasons = [w.reason for w in report.warnings]
    assert len(reasons) == 2
    assert any("no se aplicó" in r and "700.00" in r for r in reasons)
    assert any("sin aplicar" in r and "80.00" in r for r in reasons)
    paid = _invoice(db, target)
    assert paid.balance == Decimal("0.00") and paid.status == "paid"
    with db.session() as s:
        rows = s.execute(
            select(PaymentAllocation.partial_number, PaymentAllocation.amount).order_by(
                PaymentAllocation.partial_number
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            (1, Decimal("500.00")),
            (2, Decimal("600.00")),
            (3, Decimal("40.00")),
            (4, Decimal("20.00")),
        ]

    again = _import(
        db,
        business_id,
        ("p1.xml", payment(uuid=first, paid=[Paid(target, "500.00")])),
    )
    assert again.duplicates == 1 and again.payments_applied == 0


def test_a_credit_note_on_two_invoices_is_shared_in_order(db: Db) -> None:
    """Each invoice takes up to its balance as the payments before the note leave
    it; what is left of the note is a warning."""
    business_id = _business(db)
    first, second = new_uuid(), new_uuid()
    report = _import(
        db,
        business_id,
        ("f1.xml", invoice(uuid=first, total="1160.00", folio="1")),
        ("f2.xml", invoice(uuid=second, total="580.00", folio="2")),
        ("p.xml", payment(paid=[Paid(first, "1000.00")])),
        ("nc.xml", credit_note(related=[first, second], total="1000.00")),
    )

    assert report.payments_applied == 3, report.warnings
    assert _invoice(db, first).balance == Decimal("0.00")
    assert _invoice(db, second).status == "paid"
    [leftover] = report.warnings
    assert "$260.00 sin aplicar" in leftover.reason
    with db.session() as s:
        shares = s.execute(
            select(PaymentAllocation.amount).order_by(PaymentAllocation.id)
        ).scalars()
        assert list(shares) == [
            Decimal("1000.00"),
            Decimal("160.00"),
            Decimal("580.00"),
        ]


def test_a_business_with_a_webhook_hears_of_imported_payments(db: Db) -> None:
    business_id = _business(db)
    with db.session() as s, s.begin():
        business = s.get(Business, business_id)
        assert business is not None
        make_endpoint(s, business)
    target, other = new_uuid(), new_uuid()

    _import(
        db,
        business_id,
        ("f1.xml", invoice(uuid=target, total="1160.00")),
        ("f2.xml", invoice(uuid=other, total="1160.00")),
        ("p.xml", payment(paid=[Paid(target, "1160.00"), Paid(other, "100.00")])),
    )

    with db.session() as s:
        rows = s.scalars(
            select(OutboundMessage).where(OutboundMessage.channel == "webhook")
        )
        events = sorted(r.payload["event"] for r in rows)
    assert events == ["invoice.paid", "payment.recorded", "payment.recorded"]
