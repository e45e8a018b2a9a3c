"""What a customer can do about their own invoices: see them, report a payment,
dispute one, write to the owner; and the owner's answer to each of those.

Every lookup here is scoped to one contact of one business before anything is read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.credit_notes import NoteLine, notes_by_invoice
from flows.errors import InvalidInput, MoneyRuleViolation, NotFound
from flows.fmt import bank_name, to_money
from flows.links import customer_channels
from flows.money import Allocation, propose_allocation, record_payment
from flows.outbox import enqueue, owner_address
from flows.receipts import queue_payment_receipt
from flows.webhooks_out import emit_event
from storage import repo
from storage.models import (
    Business,
    Contact,
    Dispute,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentReport,
)

log = logging.getLogger(__name__)

OWNER_ALERT = "owner_alert"
CUSTOMER_NOTE = "customer_note"
REPORT_HOLD = dt.timedelta(days=3)
MAX_NOTE = 1000


# --- Reading a customer's own invoices -------------------------------------------


def own_invoices(
    session: Session, *, contact: Contact, include_closed: bool = False
) -> list[Invoice]:
    """The contact's receivable invoices, open first by due date; never another's."""
    query = select(Invoice).where(
        Invoice.business_id == contact.business_id,
        Invoice.contact_id == contact.id,
        Invoice.direction == "receivable",
    )
    if not include_closed:
        query = query.where(
            Invoice.status == InvoiceStatus.PENDING, Invoice.balance > 0
        )
    return list(
        session.scalars(
            query.order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
        )
    )


def own_invoice_by_ref(
    session: Session, *, contact: Contact, folio: str, series: str | None
) -> Invoice | None:
    """The contact's invoice with this folio; another customer's is never found."""
    found = repo.invoices_by_ref(
        session,
        business_id=contact.business_id,
        folio=folio,
        series=series,
        direction="receivable",
        contact_id=contact.id,
    )
    return found[0] if found else None


def own_invoice_by_id(
    session: Session, *, contact: Contact, invoice_id: int
) -> Invoice | None:
    invoice = session.get(Invoice, invoice_id)
    if (
        invoice is None
        or invoice.contact_id != contact.id
        or invoice.business_id != contact.business_id
        or invoice.direction != "receivable"
    ):
        return None
    return invoice


def payment_reference(contact: Contact) -> str | None:
    """The numeric SPEI reference (7 digits) that names the customer in a transfer."""
    if contact.sequence is None:
        return None
    return f"{contact.sequence:07d}"


@dataclass(frozen=True)
class HowToPay:
    clabe: str
    bank: str | None
    beneficiary: str
    reference: str | None
    virtual: bool


def how_to_pay(business: Business, contact: Contact) -> HowToPay | None:
    """The customer's virtual CLABE under STP, else the business's with a reference."""
    if business.stp_account_prefix and contact.virtual_clabe:
        return HowToPay(contact.virtual_clabe, "STP", business.name, None, True)
    if business.clabe:
        bank = business.bank_name or bank_name(business.clabe)
        reference = payment_reference(contact) or contact.rfc
        return HowToPay(business.clabe, bank, business.name, reference, False)
    return None


def payment_link(
    portal_url: str, *, invoice_id: int | None = None, amount: Decimal | None = None
) -> str:
    """A link that opens the customer's portal on one invoice or amount."""
    query: dict[str, str] = {}
    if invoice_id is not None:
        query["factura"] = str(invoice_id)
    if amount is not None:
        query["monto"] = str(to_money(amount))
    return f"{portal_url}?{urlencode(query)}" if query else portal_url


@dataclass
class Statement:
    """Everything the portal and the statement show for one customer."""

    business: Business
    contact: Contact
    open: list[Invoice] = field(default_factory=list)
    closed: list[Invoice] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)
    overdue: dict[str, Decimal] = field(default_factory=dict)
    how_to_pay: HowToPay | None = None
    pending_reports: int = 0
    open_disputes: list[int] = field(default_factory=list)
    # Credit notes under the invoice they credit, by invoice id.
    notes: dict[int, list[NoteLine]] = field(default_factory=dict)


def statement(
    session: Session, *, contact: Contact, today: dt.date, closed_limit: int = 50
) -> Statement:
    business = session.get(Business, contact.business_id)
    assert business is not None
    everything = own_invoices(session, contact=contact, include_closed=True)
    result = Statement(business=business, contact=contact)
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    overdue: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for invoice in everything:
        if invoice.status == InvoiceStatus.PENDING and invoice.balance > 0:
            result.open.append(invoice)
            totals[invoice.currency] += invoice.balance
            if invoice.due_date < today:
                overdue[invoice.currency] += invoice.balance
        else:
            result.closed.append(invoice)
    # Credit notes show under their invoices, not as rows of their own.
    result.notes = notes_by_invoice(
        session, business_id=business.id, invoice_ids=[i.id for i in everything]
    )
    shown = {n.note_id for lines in result.notes.values() for n in lines}
    result.closed = [i for i in result.closed if i.id not in shown]
    result.closed = sorted(result.closed, key=lambda i: i.issue_date, reverse=True)[
        :closed_limit
    ]
    result.totals = dict(totals)
    result.overdue = dict(overdue)
    result.how_to_pay = how_to_pay(business, contact)
    result.pending_reports = (
        session.scalar(
            select(func.count(PaymentReport.id)).where(
                PaymentReport.contact_id == contact.id,
                PaymentReport.status == "pending",
            )
        )
        or 0
    )
    result.open_disputes = list(
        session.scalars(
            select(Dispute.invoice_id).where(
                Dispute.contact_id == contact.id,
                Dispute.status == "open",
                Dispute.invoice_id.is_not(None),
            )
        )
    )
    return result


def statement_pdf(
    session: Session, *, contact: Contact, today: dt.date, now: dt.datetime
) -> bytes:
    """The customer's account statement as a PDF: what the portal's button and the
    chat's «estado de cuenta» hand out."""
    from flows import documents

    view = statement(session, contact=contact, today=today)
    lines = [
        documents.StatementLine(
            i.label,
            i.issue_date,
            i.due_date,
            i.total,
            i.balance,
            i.currency,
            i.status,
            tuple((n.label, n.amount) for n in view.notes.get(i.id, [])),
        )
        for i in sorted(view.open + view.closed, key=lambda i: (i.issue_date, i.id))
    ]
    return documents.statement_pdf(
        business=view.business,
        contact=contact,
        lines=lines,
        totals=view.totals,
        today=today,
        created=now,
    )


# --- Notices ---------------------------------------------------------------------


def notify_owner(
    session: Session,
    *,
    contact: Contact,
    kind: str,
    facts: dict[str, Any],
    dedupe_key: str,
    now: dt.datetime,
    buttons: list[tuple[str, str]] | None = None,
) -> bool:
    """Queue an alert to the owner about this customer; False if none is reachable."""
    address = owner_address(session, business_id=contact.business_id)
    if address is None:
        log.warning(
            "owner unreachable; alert not queued",
            extra={"business_id": contact.business_id, "kind": kind},
        )
        return False
    channel, recipient = address
    business = session.get(Business, contact.business_id)
    assert business is not None
    payload = {
        "kind": kind,
        "business_name": business.name,
        "contact_name": contact.display_name,
        **facts,
        "buttons": [{"title": t, "payload": p} for t, p in buttons or []],
    }
    row = enqueue(
        session,
        business_id=contact.business_id,
        channel=channel,
        recipient=recipient,
        template=OWNER_ALERT,
        payload=payload,
        dedupe_key=dedupe_key,
        now=now,
    )
    return row is not None


def notify_customer(
    session: Session,
    *,
    contact: Contact,
    kind: str,
    facts: dict[str, Any],
    dedupe_key: str,
    now: dt.datetime,
) -> list[str]:
    """Queue a note to the customer on their first reachable channel."""
    business = session.get(Business, contact.business_id)
    assert business is not None
    options = customer_channels(contact)
    if not options:
        return []
    channel, recipient = options[0]
    enqueue(
        session,
        business_id=contact.business_id,
        contact_id=contact.id,
        channel=channel,
        recipient=recipient,
        template=CUSTOMER_NOTE,
        payload={
            "kind": kind,
            "business_name": business.name,
            "contact_name": contact.display_name,
            **facts,
        },
        dedupe_key=dedupe_key,
        now=now,
    )
    return [channel]


# --- Payment reports ("ya pagué") ------------------------------------------------


def report_payment(
    session: Session,
    *,
    contact: Contact,
    invoice: Invoice | None,
    amount: Decimal | None,
    currency: str | None,
    channel: str,
    now: dt.datetime,
    today: dt.date,
    proof_path: str | None = None,
    proof_content_type: str | None = None,
    note: str | None = None,
) -> PaymentReport:
    """Keep the customer's word (and proof), hold reminders 3 days, ask the owner.

    Without an amount the owner gets no confirm button: only they can say how much
    arrived, by registering the payment themselves.
    """
    if invoice is not None and invoice.contact_id != contact.id:
        raise NotFound("No encontré esa factura.")
    if amount is not None:
        amount = to_money(amount)
        if amount <= 0:
            raise InvalidInput("El monto del pago debe ser mayor a cero.")
    if amount is None and invoice is not None:
        amount = invoice.balance
    currency = currency or (invoice.currency if invoice is not None else "MXN")
    # Limitation: the owner's alert says whether a proof came but does not carry
    # the file; the outbox attaches only invoice XML, and the proof stays on disk.
    report = PaymentReport(
        business_id=contact.business_id,
        contact_id=contact.id,
        invoice_id=invoice.id if invoice is not None else None,
        amount=amount,
        currency=currency,
        proof_path=proof_path,
        proof_content_type=proof_content_type,
        note=(note or "")[:MAX_NOTE] or None,
        channel=channel,
        status="pending",
        hold_until=today + REPORT_HOLD,
        created_at=now,
    )
    session.add(report)
    session.flush()
    emit_event(
        session,
        contact.business_id,
        "payment.reported",
        {
            "report_id": report.id,
            "contact_rfc": contact.rfc,
            "invoice_id": report.invoice_id,
            "amount": str(amount) if amount is not None else None,
            "currency": currency,
            "with_proof": proof_path is not None,
        },
        now,
        key=f"report:{report.id}",
    )

    notify_owner(
        session,
        contact=contact,
        kind="payment_report",
        facts={
            "amount": str(amount) if amount is not None else None,
            "currency": currency,
            "invoice_label": invoice.label if invoice is not None else None,
            "has_proof": proof_path is not None,
            "note": report.note,
            "source": "portal" if channel == "web" else channel,
        },
        dedupe_key=f"report:{report.id}:owner",
        now=now,
        buttons=_report_buttons(report),
    )
    audit(
        session,
        business_id=contact.business_id,
        actor=f"contact:{contact.id}",
        channel=channel,
        action="payment_report.created",
        subject=f"payment_report:{report.id}",
        data={
            "amount": str(amount) if amount is not None else None,
            "proof": bool(proof_path),
        },
        now=now,
    )
    log.info(
        "payment report created",
        extra={
            "business_id": contact.business_id,
            "channel": channel,
            "report_id": report.id,
            "has_proof": proof_path is not None,
        },
    )
    return report


def last_payment(
    session: Session, *, contact: Contact, invoice_id: int | None = None
) -> Payment | None:
    """The contact's latest payment in force, to one invoice when given."""
    query = select(Payment).where(
        Payment.business_id == contact.business_id,
        Payment.contact_id == contact.id,
        Payment.direction == "in",
        Payment.reversed_at.is_(None),
    )
    if invoice_id is not None:
        query = query.where(
            Payment.id.in_(
                select(PaymentAllocation.payment_id).where(
                    PaymentAllocation.invoice_id == invoice_id
                )
            )
        )
    return session.scalar(
        query.order_by(Payment.paid_at.desc(), Payment.id.desc()).limit(1)
    )


def latest_pending_report(
    session: Session, *, contact: Contact, since: dt.datetime
) -> PaymentReport | None:
    return session.scalar(
        select(PaymentReport)
        .where(
            PaymentReport.contact_id == contact.id,
            PaymentReport.status == "pending",
            PaymentReport.created_at >= since,
        )
        .order_by(PaymentReport.created_at.desc(), PaymentReport.id.desc())
        .limit(1)
    )


def attach_proof(
    session: Session,
    *,
    report: PaymentReport,
    path: str,
    content_type: str,
    now: dt.datetime,
) -> None:
    """A proof sent after the report: kept with it, and the owner told once."""
    report.proof_path = path
    report.proof_content_type = content_type
    contact = session.get(Contact, report.contact_id)
    assert contact is not None
    notify_owner(
        session,
        contact=contact,
        kind="payment_proof",
        facts={
            "amount": str(report.amount) if report.amount is not None else None,
            "currency": report.currency,
        },
        dedupe_key=f"report:{report.id}:proof",
        now=now,
        buttons=_report_buttons(report),
    )


def _report_buttons(report: PaymentReport) -> list[tuple[str, str]]:
    buttons = [("Rechazar", f"report:{report.id}:reject")]
    if report.amount is not None:
        buttons.insert(0, ("Confirmar", f"report:{report.id}:confirm"))
    return buttons


def report_of(
    session: Session, *, business_id: int, report_id: int
) -> PaymentReport | None:
    report = session.get(PaymentReport, report_id, with_for_update=True)
    if report is None or report.business_id != business_id:
        return None
    return report


def confirm_report(
    session: Session,
    *,
    report: PaymentReport,
    actor: str,
    channel: str,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
) -> Payment:
    """Record the reported payment (the named invoice first, then the oldest)."""
    if report.status != "pending":
        raise InvalidInput("Ese aviso de pago ya fue atendido.")
    if report.amount is None:
        raise InvalidInput(
            "El cliente no dijo el monto; regístralo tú con «registra pago de … por …»."
        )
    contact = session.get(Contact, report.contact_id)
    assert contact is not None
    allocations = _allocate_report(session, report=report, contact=contact)
    payment = record_payment(
        session,
        contact=contact,
        amount=report.amount,
        currency=report.currency,
        paid_at=report.created_at,
        allocations=allocations,
        source="portal" if report.channel == "web" else "chat",
        actor=actor,
        channel=channel,
        now=now,
        idempotency_key=f"report:{report.id}",
    )
    report.status = "confirmed"
    report.payment_id = payment.id
    report.hold_until = None
    queue_payment_receipt(
        session,
        payment=payment,
        public_base_url=public_base_url,
        portal_key=portal_key,
        now=now,
    )
    audit(
        session,
        business_id=report.business_id,
        actor=actor,
        channel=channel,
        action="payment_report.confirmed",
        subject=f"payment_report:{report.id}",
        data={"payment_id": payment.id},
        now=now,
    )
    return payment


def _allocate_report(
    session: Session, *, report: PaymentReport, contact: Contact
) -> list[Allocation]:
    assert report.amount is not None
    pool = [
        i
        for i in repo.open_invoices(
            session,
            business_id=contact.business_id,
            direction="receivable",
            contact_id=contact.id,
            for_update=True,
        )
        if i.currency == report.currency
    ]
    if not pool:
        raise MoneyRuleViolation(
            f"{contact.display_name} ya no tiene facturas abiertas en "
            f"{report.currency}; no registré nada."
        )
    named = [i for i in pool if i.id == report.invoice_id]
    if not named:
        return propose_allocation(pool, report.amount)
    first = named[0]
    take = min(report.amount, first.balance)
    plan = [Allocation(first, take)]
    rest = report.amount - take
    if rest > 0:
        plan += propose_allocation(
            [i for i in pool if i.id != first.id] or [first], rest
        )
    return plan


def reject_report(
    session: Session,
    *,
    report: PaymentReport,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """The owner did not find the money: reminders resume and the customer is told."""
    if report.status != "pending":
        raise InvalidInput("Ese aviso de pago ya fue atendido.")
    report.status = "rejected"
    report.hold_until = None
    contact = session.get(Contact, report.contact_id)
    assert contact is not None
    notify_customer(
        session,
        contact=contact,
        kind="report_rejected",
        facts={
            "amount": str(report.amount) if report.amount is not None else None,
            "currency": report.currency,
        },
        dedupe_key=f"report:{report.id}:rejected",
        now=now,
    )
    audit(
        session,
        business_id=report.business_id,
        actor=actor,
        channel=channel,
        action="payment_report.rejected",
        subject=f"payment_report:{report.id}",
        now=now,
    )


# --- Disputes --------------------------------------------------------------------


def open_dispute(
    session: Session,
    *,
    contact: Contact,
    invoice: Invoice | None,
    reason: str,
    channel: str,
    now: dt.datetime,
) -> tuple[Dispute, bool]:
    """Open a dispute and tell the owner; an open one on the same invoice is reused.

    Returns the dispute and whether it is new.
    """
    invoice_id = invoice.id if invoice is not None else None
    earlier = session.scalar(
        select(Dispute).where(
            Dispute.contact_id == contact.id,
            Dispute.status == "open",
            Dispute.invoice_id == invoice_id
            if invoice_id is not None
            else Dispute.invoice_id.is_(None),
        )
    )
    if earlier is not None:
        return earlier, False
    dispute = Dispute(
        business_id=contact.business_id,
        contact_id=contact.id,
        invoice_id=invoice_id,
        reason=reason[:MAX_NOTE],
        status="open",
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    emit_event(
        session,
        contact.business_id,
        "dispute.opened",
        {
            "dispute_id": dispute.id,
            "contact_rfc": contact.rfc,
            "invoice_id": invoice_id,
            "reason": dispute.reason,
        },
        now,
        key=f"dispute:{dispute.id}",
    )
    notify_owner(
        session,
        contact=contact,
        kind="dispute",
        facts={
            "invoice_label": invoice.label if invoice is not None else None,
            "reason": dispute.reason,
        },
        dedupe_key=f"dispute:{dispute.id}:owner",
        now=now,
        buttons=[("Resuelta", f"dispute:{dispute.id}:resolve")],
    )
    audit(
        session,
        business_id=contact.business_id,
        actor=f"contact:{contact.id}",
        channel=channel,
        action="dispute.opened",
        subject=f"dispute:{dispute.id}",
        now=now,
    )
    return dispute, True


def open_disputes(
    session: Session, *, business_id: int, contact_id: int | None = None
) -> list[Dispute]:
    query = select(Dispute).where(
        Dispute.business_id == business_id, Dispute.status == "open"
    )
    if contact_id is not None:
        query = query.where(Dispute.contact_id == contact_id)
    return list(session.scalars(query.order_by(Dispute.created_at, Dispute.id)))


def dispute_of(
    session: Session, *, business_id: int, dispute_id: int
) -> Dispute | None:
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None or dispute.business_id != business_id:
        return None
    return dispute


def resolve_dispute(
    session: Session, *, dispute: Dispute, actor: str, channel: str, now: dt.datetime
) -> bool:
    """Close the dispute (reminders resume) and tell the customer; False if closed."""
    if dispute.status != "open":
        return False
    dispute.status = "resolved"
    dispute.resolved_at = now
    contact = session.get(Contact, dispute.contact_id)
    assert contact is not None
    invoice = session.get(Invoice, dispute.invoice_id) if dispute.invoice_id else None
    notify_customer(
        session,
        contact=contact,
        kind="dispute_resolved",
        facts={"invoice_label": invoice.label if invoice is not None else None},
        dedupe_key=f"dispute:{dispute.id}:resolved",
        now=now,
    )
    audit(
        session,
        business_id=dispute.business_id,
        actor=actor,
        channel=channel,
        action="dispute.resolved",
        subject=f"dispute:{dispute.id}",
        now=now,
    )
    return True


# --- Anything else ---------------------------------------------------------------


def pass_to_owner(
    session: Session,
    *,
    contact: Contact,
    text: str,
    channel: str,
    now: dt.datetime,
    message_key: str,
) -> bool:
    """Forward a customer's message the rules could not place to the owner."""
    sent = notify_owner(
        session,
        contact=contact,
        kind="message",
        facts={"text": text[:MAX_NOTE], "channel": channel},
        dedupe_key=f"customer_message:{contact.id}:{message_key}",
        now=now,
    )
    audit(
        session,
        business_id=contact.business_id,
        actor=f"contact:{contact.id}",
        channel=channel,
        action="contact.message_passed",
        subject=f"contact:{contact.id}",
        now=now,
    )
    return sent
