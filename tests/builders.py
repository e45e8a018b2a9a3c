"""Builders of test data that go through Cobra's own flows where one exists."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from flows.business import create_business, get_or_create_contact
from flows.money import due_date_for
from flows.webhooks_out import add_endpoint
from storage.models import Business, Contact, Invoice, InvoiceSource, InvoiceStatus

NOW = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)
_folios = itertools.count(100)
_rfcs = itertools.count(1)


def make_business(
    session: Session,
    *,
    name: str = "Ferretería La Tuerca",
    rfc: str = "FTU010101AB1",
    owner_whatsapp: str | None = "+525511112222",
    owner_email: str | None = "duena@latuerca.mx",
    now: dt.datetime = NOW,
) -> Business:
    return create_business(
        session,
        name=name,
        rfc=rfc,
        owner_whatsapp=owner_whatsapp,
        owner_email=owner_email,
        now=now,
    )


def make_contact(
    session: Session,
    business: Business,
    *,
    name: str = "Acme Industrial SA de CV",
    rfc: str | None = None,
    kind: str = "customer",
    whatsapp: str | None = None,
    emails: str | None = None,
    now: dt.datetime = NOW,
) -> Contact:
    if rfc is None:
        rfc = f"AAA{next(_rfcs):06d}XX1"
    contact, _ = get_or_create_contact(
        session, business=business, kind=kind, rfc=rfc, name=name, now=now
    )
    contact.whatsapp = whatsapp
    contact.emails = emails
    return contact


def make_invoice(
    session: Session,
    contact: Contact,
    *,
    total: Decimal | str = "1160.00",
    currency: str = "MXN",
    issue_date: dt.date = dt.date(2026, 11, 1),
    due_date: dt.date | None = None,
    method: str = "PPD",
    series: str | None = "A",
    folio: str | None = None,
    uuid: str | None = None,
    direction: str | None = None,
) -> Invoice:
    total = Decimal(total)
    due = due_date or due_date_for(
        issue_date=issue_date,
        payment_method=method,
        contact_terms=contact.terms_days,
        payment_terms_text=None,
        default_terms=30,
    )
    invoice = Invoice(
        business_id=contact.business_id,
        contact_id=contact.id,
        direction=direction
        or ("receivable" if contact.kind == "customer" else "payable"),
        uuid=uuid,
        series=series,
        folio=folio or str(next(_folios)),
        issued_at=dt.datetime.combine(issue_date, dt.time(12), dt.UTC),
        issue_date=issue_date,
        due_date=due,
        currency=currency,
        subtotal=(total / Decimal("1.16")).quantize(Decimal("0.01")),
        total=total,
        paid=Decimal("0"),
        balance=total,
        payment_method=method,
        status=InvoiceStatus.PENDING,
        source=InvoiceSource.MANUAL,
        created_at=NOW,
    )
    session.add(invoice)
    session.flush()
    return invoice


def make_endpoint(session: Session, business: Business) -> None:
    """An outgoing webhook endpoint of the business that hears every event."""
    add_endpoint(
        session,
        business=business,
        url="https://erp.example/hooks",
        events=None,
        actor="cli",
        channel="cli",
        now=NOW,
    )
