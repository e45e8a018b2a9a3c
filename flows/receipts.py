"""Receipts: the customer's when a payment is recorded, the supplier's when paid.

Others call these right after recording a payment, in the same transaction; the
outbox's dedupe key makes a second call for the same payment queue nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.business import portal_token, portal_url
from flows.fmt import as_utc, local_date, mask_clabe
from flows.outbox import enqueue
from storage.models import (
    Business,
    Contact,
    Direction,
    Invoice,
    InvoiceStatus,
    OutboundMessage,
    Payment,
)

log = logging.getLogger(__name__)

PAYMENT_RECEIPT = "payment_receipt"
SUPPLIER_RECEIPT = "supplier_receipt"


def queue_payment_receipt(
    session: Session,
    *,
    payment: Payment,
    public_base_url: str,
    portal_key: bytes,
    now: dt.datetime,
) -> list[OutboundMessage]:
    """The customer's receipt: amount, invoices covered, remaining balance.

    By email to every address of the customer, and by WhatsApp when the owner
    turned it on and the customer has not opted out. Receipts are not reminders:
    they go out at any hour and while reminders are paused.
    """
    if payment.reversed_at is not None:
        return []
    contact = payment.contact
    business = session.get(Business, payment.business_id)
    assert business is not None
    token = portal_token(session, contact=contact, key=portal_key, now=now)
    payload = {
        **_payment_facts(payment, business),
        "contact_name": contact.display_name,
        "remaining": remaining_balance(session, contact=contact),
        "portal_url": portal_url(public_base_url, token),
    }
    queued = []
    for channel, recipient in _customer_channels(contact):
        row = enqueue(
            session,
            business_id=business.id,
            contact_id=contact.id,
            channel=channel,
            recipient=recipient,
            template=PAYMENT_RECEIPT,
            payload=payload,
            dedupe_key=f"receipt:{payment.id}:{channel}",
            now=now,
        )
        if row is not None:
            queued.append(row)
    log.info(
        "payment receipt queued",
        extra={
            "business_id": business.id,
            "payment_id": payment.id,
            "messages": len(queued),
        },
    )
    return queued


def queue_supplier_receipt(
    session: Session, *, payment: Payment, now: dt.datetime
) -> OutboundMessage | None:
    """The supplier's receipt, to their registered emails, with the tracking key."""
    if payment.reversed_at is not None:
        return None
    contact = payment.contact
    emails = contact.email_list
    if not emails:
        log.info(
            "supplier receipt not queued: no email",
            extra={"business_id": payment.business_id, "payment_id": payment.id},
        )
        return None
    business = session.get(Business, payment.business_id)
    assert business is not None
    payload = {
        **_payment_facts(payment, business),
        "contact_name": contact.display_name,
        "tracking_key": payment.reference,
        "account": mask_clabe(contact.clabe) if contact.clabe else None,
    }
    return enqueue(
        session,
        business_id=business.id,
        contact_id=contact.id,
        channel="email",
        recipient=", ".join(emails)[:255],
        template=SUPPLIER_RECEIPT,
        payload=payload,
        dedupe_key=f"supplier-receipt:{payment.id}",
        now=now,
    )


def remaining_balance(session: Session, *, contact: Contact) -> list[dict[str, str]]:
    """The customer's open receivable balance, by currency."""
    rows = session.execute(
        select(Invoice.currency, func.sum(Invoice.balance))
        .where(
            Invoice.business_id == contact.business_id,
            Invoice.contact_id == contact.id,
            Invoice.direction == Direction.RECEIVABLE,
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
        )
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    ).all()
    return [{"currency": c, "amount": str(Decimal(a))} for c, a in rows if a]


def _payment_facts(payment: Payment, business: Business) -> dict[str, Any]:
    applied: dict[int, dict[str, Any]] = defaultdict(dict)
    for allocation in payment.allocations:
        invoice = allocation.invoice
        before = allocation.previous_balance
        after = before - allocation.amount if before is not None else invoice.balance
        applied[invoice.id] = {
            "label": invoice.label,
            "amount": str(allocation.amount),
            "balance_after": str(after),
        }
    paid_at = as_utc(payment.paid_at)
    return {
        "business_name": business.name,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "paid_on": local_date(paid_at, business.timezone).isoformat(),
        "reference": payment.reference,
        "invoices": [applied[key] for key in sorted(applied)],
    }


def _customer_channels(contact: Contact) -> list[tuple[str, str]]:
    channels = []
    if contact.email_list:
        channels.append(("email", ", ".join(contact.email_list)[:255]))
    if (
        contact.whatsapp
        and contact.whatsapp_reminders
        and not contact.whatsapp_opted_out
    ):
        channels.append(("whatsapp", contact.whatsapp))
    return channels
