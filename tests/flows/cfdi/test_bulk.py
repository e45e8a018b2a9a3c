"""Rows rendered for the driver ahead of time, on both databases: they read back as
SQLAlchemy's own INSERT would have stored them."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal

import pytest
from sqlalchemy import Table, insert, select

from flows.cfdi.bulk import BulkInsert
from storage.models import Invoice
from tests.builders import NOW, make_business, make_contact
from tests.conftest import Db

INVOICE: Table = Invoice.__table__  # type: ignore[assignment]


def _values(contact_id: int, business_id: int, uuid: str) -> dict[str, object]:
    return {
        "business_id": business_id,
        "contact_id": contact_id,
        "direction": "receivable",
        "cfdi_type": "I",
        "uuid": uuid,
        "series": "A",
        "folio": "7",
        "issued_at": dt.datetime(2026, 11, 1, 18, 30, 5, 120, tzinfo=dt.UTC),
        "issue_date": dt.date(2026, 11, 1),
        "due_date": dt.date(2026, 12, 1),
        "currency": "USD",
        "exchange_rate": Decimal("17.251234"),
        "subtotal": Decimal("1000.00"),
        "total": Decimal("1160.01"),
        "paid": Decimal("0.00"),
        "balance": Decimal("1160.01"),
        "payment_method": "PPD",
        "payment_form": "99",
        "payment_terms": "30 días",
        "status": "pending",
        "source": "sat",
        "description": "Tornillería",
        "xml": "<cfdi:Comprobante/>",
        "created_at": NOW,
    }


def _stored(db: Db, uuid: str) -> tuple[object, ...]:
    with db.session() as s:
        row = s.execute(select(INVOICE).where(INVOICE.c.uuid == uuid)).one()
        return tuple(value for key, value in row._mapping.items() if key != "id")


def test_rendered_rows_read_back_as_core_inserts_them(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        contact = make_contact(s, business)
        ids = (contact.id, business.id)

    with db.session() as s, s.begin():
        s.connection().execute(insert(INVOICE), [_values(*ids, "CORE")])

    columns = list(_values(*ids, "x"))
    bulk = BulkInsert(INVOICE, columns, db.engine.dialect)
    values = _values(*ids, "BULK")
    values["contact_id"] = None
    # Rendered in one process and written from another, as the import does.
    row = pickle.loads(pickle.dumps(bulk.render(values)))
    bulk.put(row, "contact_id", ids[0])
    with db.session() as s, s.begin():
        bulk.execute(s.connection(), [row])

    core, rendered = _stored(db, "CORE"), _stored(db, "BULK")
    assert [v for v in core if v != "CORE"] == [v for v in rendered if v != "BULK"]
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.uuid == "BULK"))
        assert invoice is not None
        assert invoice.total == Decimal("1160.01") and invoice.currency == "USD"
        assert invoice.due_date == dt.date(2026, 12, 1)


def test_a_column_left_to_its_default_is_refused(db: Db) -> None:
    columns = [c for c in _values(1, 1, "x") if c != "status"]
    with pytest.raises(ValueError, match="every column"):
        BulkInsert(INVOICE, columns, db.engine.dialect)
