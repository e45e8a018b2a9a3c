"""The same CFDI twice in one import: counted once, applied once, on both databases."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, select

from flows.cfdi import ImportReport, import_sources
from flows.cfdi.sources import Source
from storage.models import Business, CfdiComplement, Invoice, Payment
from tests.builders import NOW, make_business
from tests.cfdi_factory import BUSINESS, Paid, credit_note, invoice, new_uuid, payment
from tests.conftest import Db


def _import(db: Db, *sources: Source, batch_size: int = 500) -> ImportReport:
    with db.session() as s, s.begin():
        business_id = make_business(s, rfc=BUSINESS.rfc).id
    return import_sources(
        db.factory,
        business_id=business_id,
        sources=list(sources),
        now=NOW,
        batch_size=batch_size,
    )


def _balance_and_payments(db: Db, uuid: str) -> tuple[Decimal, int]:
    with db.session() as s:
        balance = s.scalar(select(Invoice.balance).where(Invoice.uuid == uuid))
        assert balance is not None
        return balance, s.scalar(select(func.count(Payment.id))) or 0


def test_a_complement_sent_twice_in_one_import_pays_once(db: Db) -> None:
    target = new_uuid()
    complement = payment(paid=[Paid(target, "400.00", "1160.00")])

    report = _import(
        db,
        ("factura.xml", invoice(uuid=target)),
        ("pago.xml", complement),
        ("pago (copia).xml", complement),
    )

    assert report.payments_applied == 1, report.warnings
    assert (report.complements, report.duplicates) == (1, 1)
    assert _balance_and_payments(db, target) == (Decimal("760.00"), 1)


def test_a_complement_sent_twice_across_batches_pays_once(db: Db) -> None:
    target = new_uuid()
    complement = payment(paid=[Paid(target, "400.00", "1160.00")])

    report = _import(
        db,
        ("a-pago.xml", complement),
        ("b-factura.xml", invoice(uuid=target)),
        ("c-pago.xml", complement),
        batch_size=1,
    )

    assert report.payments_applied == 1, report.warnings
    assert report.duplicates == 1 and report.pending == 0
    assert _balance_and_payments(db, target) == (Decimal("760.00"), 1)


def test_a_credit_note_sent_twice_in_one_import_credits_once(db: Db) -> None:
    target = new_uuid()
    note = credit_note(related=[target], total="580.00")

    report = _import(
        db,
        ("factura.xml", invoice(uuid=target, total="1160.00")),
        ("nc.xml", note),
        ("nc (copia).xml", note),
    )

    assert report.payments_applied == 1, report.warnings
    assert (report.credit_notes, report.duplicates) == (1, 1)
    assert report.warnings == []
    assert _balance_and_payments(db, target) == (Decimal("580.00"), 1)


def test_a_complement_whose_payment_is_already_recorded_is_not_counted(
    db: Db,
) -> None:
    # Its record as a document is gone (here deleted), but the payment it made
    # is still there under the same idempotency key.
    target = new_uuid()
    complement = payment(paid=[Paid(target, "400.00", "1160.00")])
    first = _import(db, ("factura.xml", invoice(uuid=target)), ("pago.xml", complement))
    assert first.payments_applied == 1
    with db.session() as s, s.begin():
        s.execute(delete(CfdiComplement))

    business_id = _business_id(db)
    again = import_sources(
        db.factory,
        business_id=business_id,
        sources=[("pago.xml", complement)],
        now=NOW,
    )

    assert again.complements == 1 and again.duplicates == 0
    assert again.payments_applied == 0, again.warnings
    assert _balance_and_payments(db, target) == (Decimal("760.00"), 1)


def _business_id(db: Db) -> int:
    with db.session() as s:
        found = s.scalar(select(Business.id).where(Business.rfc == BUSINESS.rfc))
        assert found is not None
        return found
