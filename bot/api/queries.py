"""The API's read queries: one page of a business's rows, in id order.

# Limitation: these list queries live beside the API rather than in
# storage/repo.py, which another part of the team edits; they only read, always
# filter by the caller's business, and can move to the repository as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from storage import repo
from storage.models import Contact, Invoice, InvoiceStatus, Payment

T = TypeVar("T", Contact, Invoice, Payment)


def page(
    session: Session, query: Select[T], model: Any, *, after: int, limit: int
) -> tuple[Sequence[T], int | None]:
    """Rows after the id `after`, and the id to continue from (None at the end)."""
    rows = session.scalars(
        query.where(model.id > after).order_by(model.id).limit(limit + 1)
    ).all()
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def contacts(business_id: int, *, kind: str | None, rfc: str | None) -> Select[Contact]:
    query = select(Contact).where(Contact.business_id == business_id)
    if kind:
        query = query.where(Contact.kind == kind)
    if rfc:
        query = query.where(Contact.rfc == rfc.strip().upper())
    return query


def invoices(
    business_id: int,
    *,
    status: str | None,
    direction: str | None,
    contact_id: int | None,
    due_from: dt.date | None,
    due_to: dt.date | None,
) -> Select[Invoice]:
    query = select(Invoice).where(Invoice.business_id == business_id)
    if status:
        query = query.where(Invoice.status == status)
    if direction:
        query = query.where(Invoice.direction == direction)
    if contact_id is not None:
        query = query.where(Invoice.contact_id == contact_id)
    if due_from is not None:
        query = query.where(Invoice.due_date >= due_from)
    if due_to is not None:
        query = query.where(Invoice.due_date <= due_to)
    return query


def payments(business_id: int, *, contact_id: int | None) -> Select[Payment]:
    query = (
        select(Payment)
        .where(Payment.business_id == business_id)
        .options(selectinload(Payment.allocations))
    )
    if contact_id is not None:
        query = query.where(Payment.contact_id == contact_id)
    return query


def contact_aging(
    session: Session,
    *,
    business_id: int,
    contact_id: int,
    direction: str,
    today: dt.date,
) -> dict[str, dict[str, Decimal]]:
    """One contact's open balance per currency and aging bucket.

    The same buckets as `repo.aging_totals`, which has no per-contact filter.
    """
    result: dict[str, dict[str, Decimal]] = {}
    for invoice in repo.open_invoices(
        session, business_id=business_id, direction=direction, contact_id=contact_id
    ):
        if invoice.status != InvoiceStatus.PENDING:
            continue
        per = result.setdefault(
            invoice.currency, {b: Decimal("0.00") for b in repo.AGING_BUCKETS}
        )
        late = (today - invoice.due_date).days
        if late <= 0:
            bucket = "current"
        elif late <= 30:
            bucket = "1-30"
        elif late <= 60:
            bucket = "31-60"
        elif late <= 90:
            bucket = "61-90"
        else:
            bucket = "90+"
        per[bucket] += invoice.balance
    return result
