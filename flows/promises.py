"""Promises to pay: kept as the customer's word, they hold reminders until their date;
the day after a broken one the customer gets a kind follow-up and the owner a notice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.business import portal_token, portal_url
from flows.customer_side import notify_customer, notify_owner
from flows.errors import InvalidInput
from flows.fmt import local_date, to_money
from flows.webhooks_out import emit_event
from storage.models import Business, Contact, Invoice, InvoiceStatus, Payment, Promise

log = logging.getLogger(__name__)

MAX_AHEAD = dt.timedelta(days=120)


def record_promise(
    session: Session,
    *,
    contact: Contact,
    invoice: Invoice | None,
    promised_on: dt.date,
    amount: Decimal | None,
    channel: str,
    now: dt.datetime,
    today: dt.date,
    actor: str | None = None,
) -> Promise:
    """Keep a promise (replacing the customer's earlier open ones).

    A promise the customer made is told to the owner; one the team writes down
    (`actor`, from a phone call, say) is not told back to them."""
    if promised_on < today:
        raise InvalidInput("Esa fecha ya pasó. ¿Qué día nos pagarías?")
    if promised_on > today + MAX_AHEAD:
        raise InvalidInput(
            "Es una fecha muy lejana; para un plan de pagos escríbenos y lo vemos con "
            "el negocio."
        )
    for earlier in session.scalars(
        select(Promise).where(
            Promise.contact_id == contact.id, Promise.status == "open"
        )
    ):
        earlier.status = "replaced"
    promise = Promise(
        business_id=contact.business_id,
        contact_id=contact.id,
        invoice_id=invoice.id if invoice is not None else None,
        promised_on=promised_on,
        amount=to_money(amount) if amount is not None else None,
        status="open",
        created_at=now,
    )
    session.add(promise)
    session.flush()
    emit_event(
        session,
        contact.business_id,
        "promise.created",
        {
            "promise_id": promise.id,
            "contact_rfc": contact.rfc,
            "invoice_id": promise.invoice_id,
            "promised_on": promised_on.isoformat(),
            "amount": str(promise.amount) if promise.amount is not None else None,
        },
        now,
        key=f"promise:{promise.id}",
    )
    if actor is None:
        notify_owner(
            session,
            contact=contact,
            kind="promise",
            facts={
                "promised_on": promised_on.isoformat(),
                "amount": str(promise.amount) if promise.amount is not None else None,
                "currency": invoice.currency if invoice is not None else "MXN",
                "invoice_label": invoice.label if invoice is not None else None,
            },
            dedupe_key=f"promise:{promise.id}:owner",
            now=now,
        )
    audit(
        session,
        business_id=contact.business_id,
        actor=actor or f"contact:{contact.id}",
        channel=channel,
        action="promise.recorded",
        subject=f"promise:{promise.id}",
        data={"promised_on": promised_on.isoformat()},
        now=now,
    )
    return promise


def open_promises(
    session: Session, *, business_id: int, contact_id: int | None = None
) -> list[Promise]:
    """Promises not yet kept or broken, soonest first."""
    query = select(Promise).where(
        Promise.business_id == business_id, Promise.status == "open"
    )
    if contact_id is not None:
        query = query.where(Promise.contact_id == contact_id)
    return list(session.scalars(query.order_by(Promise.promised_on, Promise.id)))


@dataclass
class PromiseCounts:
    checked: int = 0
    kept: int = 0
    broken: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def run_broken_promises(
    factory: sessionmaker[Session],
    now: dt.datetime,
    *,
    public_base_url: str = "",
    portal_key: bytes | None = None,
) -> PromiseCounts:
    """Daily: settle every open promise whose date has passed in its business's zone.

    A promise is kept when its invoice (or, without one, the whole balance) is paid,
    or a payment at least its amount arrived after it was made; otherwise it is
    broken. Safe to run more than once a day: each notice has its own dedupe key.
    """
    counts = PromiseCounts()
    with factory() as session, session.begin():
        due = session.execute(
            select(Promise, Business.timezone)
            .join(Business, Business.id == Promise.business_id)
            .where(Promise.status == "open")
            .order_by(Promise.id)
            .with_for_update(of=Promise, skip_locked=True)
        ).all()
        for promise, timezone in due:
            today = local_date(now, timezone)
            if promise.promised_on >= today:
                continue
            counts.checked += 1
            if _kept(session, promise):
                promise.status = "kept"
                counts.kept += 1
                continue
            promise.status = "broken"
            counts.broken += 1
            _follow_up(session, promise, now, public_base_url, portal_key)
    log.info("broken promises checked", extra=counts.as_dict())
    return counts


def _kept(session: Session, promise: Promise) -> bool:
    if promise.invoice_id is not None:
        invoice = session.get(Invoice, promise.invoice_id)
        if invoice is None or invoice.status != InvoiceStatus.PENDING:
            return True
        if invoice.balance <= 0:
            return True
    else:
        owed = session.scalar(
            select(func.coalesce(func.sum(Invoice.balance), 0)).where(
                Invoice.contact_id == promise.contact_id,
                Invoice.direction == "receivable",
                Invoice.status == InvoiceStatus.PENDING,
            )
        )
        if Decimal(owed or 0) <= 0:
            return True
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.contact_id == promise.contact_id,
            Payment.reversed_at.is_(None),
            Payment.created_at >= promise.created_at,
        )
    )
    paid = Decimal(paid or 0)
    if promise.amount is not None:
        return paid >= promise.amount
    return paid > 0


def _follow_up(
    session: Session,
    promise: Promise,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes | None,
) -> None:
    contact = session.get(Contact, promise.contact_id)
    assert contact is not None
    invoice = session.get(Invoice, promise.invoice_id) if promise.invoice_id else None
    url = None
    if portal_key is not None and public_base_url:
        url = portal_url(
            public_base_url,
            portal_token(session, contact=contact, key=portal_key, now=now),
        )
    notify_customer(
        session,
        contact=contact,
        kind="promise_followup",
        facts={
            "promised_on": promise.promised_on.isoformat(),
            "invoice_label": invoice.label if invoice is not None else None,
            "portal_url": url,
        },
        dedupe_key=f"promise:{promise.id}:followup",
        now=now,
    )
    notify_owner(
        session,
        contact=contact,
        kind="promise_broken",
        facts={
            "promised_on": promise.promised_on.isoformat(),
            "invoice_label": invoice.label if invoice is not None else None,
        },
        dedupe_key=f"promise:{promise.id}:broken",
        now=now,
    )
    audit(
        session,
        business_id=promise.business_id,
        actor="system",
        channel="system",
        action="promise.broken",
        subject=f"promise:{promise.id}",
        now=now,
    )
    log.info(
        "promise broken",
        extra={"business_id": promise.business_id, "promise_id": promise.id},
    )
