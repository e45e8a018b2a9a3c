"""`repo.open_invoices` and its filters, each combination on both databases."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from storage import repo
from storage.models import InvoiceStatus
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db

D = dt.date


@pytest.fixture
def ids(db: Db) -> dict[str, int]:
    """Two customers (one hidden) and a supplier, with open and closed invoices."""
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, name="Acme")
        beta = make_contact(s, business, name="Beta")
        beta.invoices_hidden = True
        supplier = make_contact(s, business, name="Proveedor", kind="supplier")
        for folio, contact, due in [
            ("A1", acme, D(2026, 10, 1)),
            ("A2", acme, D(2026, 12, 20)),
            ("B1", beta, D(2026, 11, 1)),
            ("P1", supplier, D(2026, 11, 5)),
        ]:
            make_invoice(s, contact, folio=folio, due_date=due)
        paid = make_invoice(s, acme, folio="A3", due_date=D(2026, 9, 1))
        paid.balance = paid.total - paid.total
        paid.status = InvoiceStatus.PAID
        return {"business": business.id, "acme": acme.id}


def _folios(db: Db, ids: dict[str, int], **filters: Any) -> list[str | None]:
    with db.session() as s:
        found = repo.open_invoices(
            s, business_id=ids["business"], direction="receivable", **filters
        )
        return [i.folio for i in found]


def test_each_filter(db: Db, ids: dict[str, int]) -> None:
    assert _folios(db, ids) == ["A1", "B1", "A2"]
    assert _folios(db, ids, contact_id=ids["acme"]) == ["A1", "A2"]
    assert _folios(db, ids, include_hidden=False) == ["A1", "A2"]
    assert _folios(db, ids, overdue_on=D(2026, 12, 3)) == ["A1", "B1"]
    assert _folios(db, ids, due_until=D(2026, 11, 1)) == ["A1", "B1"]
    assert _folios(db, ids, limit=2) == ["A1", "B1"]


def test_filters_combine_and_keep_their_own_values(db: Db, ids: dict[str, int]) -> None:
    # The query of each combination is built once: later calls bring new values.
    for limit, overdue in itertools.product([1, 5], [D(2026, 10, 2), D(2027, 1, 1)]):
        expected = [
            f
            for f, due in [("A1", D(2026, 10, 1)), ("A2", D(2026, 12, 20))]
            if due < overdue
        ][:limit]
        assert (
            _folios(db, ids, contact_id=ids["acme"], overdue_on=overdue, limit=limit)
            == expected
        )
