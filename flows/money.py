"""The money rules: payments allocated to invoices, balances, status and due dates.

Every change of money state goes through here, keeps `paid + balance == total` on
each invoice, refuses what would overpay, and leaves an audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import MoneyRuleViolation
from flows.fmt import money, to_money
from flows.webhooks_out import emit_payment_recorded
from storage import repo
from storage.models import (
    ComplementStatus,
    Contact,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Allocation:
    invoice: Invoice
    amount: Decimal


def terms_from_text(text: str | None) -> int | None:
    """Days named in a CFDI's `CondicionesDePago`: "30 días", "crédito 45", "NET 30"."""
    if not text:
        return None
    lowered = text.lower()
    if "contado" in lowered and not re.search(r"\d", lowered):
        return 0
    match = re.search(r"(?:net|neto)\s*(\d{1,3})", lowered) or re.search(
        r"(\d{1,3})\s*(?:d[ií]as?|days?|dias)", lowered
    )
    if match is None:
        match = re.search(r"(?:cr[eé]dito|plazo)\D{0,5}(\d{1,3})", lowered)
    if match is None:
        return None
    days = int(match.group(1))
    return days if 0 <= days <= 365 else None


def due_date_for(
    *,
    issue_date: dt.date,
    payment_method: str,
    contact_terms: int | None,
    payment_terms_text: str | None,
    default_terms: int,
) -> dt.date:
    """The contract's rule: PUE on issue; else contact terms, CFDI terms, default."""
    if payment_method == "PUE":
        return issue_date
    for days in (contact_terms, terms_from_text(payment_terms_text), default_terms):
        if days is not None:
            return issue_date + dt.timedelta(days=days)
    return issue_date


def propose_allocation(
    invoices: Sequence[Invoice], amount: Decimal
) -> list[Allocation]:
    """Oldest due first, each invoice up to its balance, until the amount is used."""
    remaining = to_money(amount)
    result: list[Allocation] = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.id)):
        if remaining <= 0:
            break
        take = min(remaining, invoice.balance)
        if take > 0:
            result.append(Allocation(invoice, take))
            remaining -= take
    if remaining > 0:
        open_total = sum((i.balance for i in invoices), ZERO)
        currency = invoices[0].currency if invoices else "MXN"
        raise MoneyRuleViolation(
            f"El pago de {money(amount, currency)} es mayor a lo que se debe "
            f"({money(open_total, currency)}). No registré nada."
        )
    return result


def exact_match(invoices: Sequence[Invoice], amount: Decimal) -> Invoice | None:
    """The oldest open invoice whose balance is exactly the amount, if any."""
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.id)):
        if invoice.balance == amount:
            return invoice
    return None


def record_payment(
    session: Session,
    *,
    contact: Contact,
    amount: Decimal,
    currency: str,
    paid_at: dt.datetime,
    allocations: Sequence[Allocation],
    source: str,
    actor: str,
    channel: str,
    now: dt.datetime,
    method: str | None = None,
    reference: str | None = None,
    idempotency_key: str | None = None,
    complement_uuid: str | None = None,
) -> Payment:
    """Record a payment and apply it; refuses overpayment and currency mixes.

    With an idempotency key already used, the first payment is returned unchanged.
    """
    if idempotency_key:
        earlier = repo.payment_by_key(
            session, business_id=contact.business_id, idempotency_key=idempotency_key
        )
        if earlier is not None:
            return earlier

    amount = to_money(amount)
    _check_allocations(contact, amount, currency, allocations)

    direction = "in" if contact.kind == "customer" else "out"
    needs_complement = any(a.invoice.payment_method == "PPD" for a in allocations)
    complement = ComplementStatus.NOT_REQUIRED
    if complement_uuid:
        complement = ComplementStatus.ISSUED
    elif needs_complement and direction == "in":
        complement = ComplementStatus.PENDING
    payment = Payment(
        business_id=contact.business_id,
        contact_id=contact.id,
        direction=direction,
        amount=amount,
        currency=currency,
        paid_at=paid_at,
        method=method,
        reference=reference,
        source=source,
        idempotency_key=idempotency_key,
        complement_status=complement,
        complement_uuid=complement_uuid,
        recorded_by=actor,
        created_at=now,
    )
    for allocation in allocations:
        invoice = allocation.invoice
        payment.allocations.append(
            PaymentAllocation(
                invoice_id=invoice.id,
                amount=allocation.amount,
                previous_balance=invoice.balance,
                partial_number=_partial_number(session, invoice),
            )
        )
        _apply(invoice, allocation.amount)
    session.add(payment)
    session.flush()

    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="payment.recorded",
        subject=f"payment:{payment.id}",
        data={
            "amount": str(amount),
            "currency": currency,
            "contact_id": contact.id,
            "invoices": {str(a.invoice.id): str(a.amount) for a in allocations},
            "source": source,
        },
        now=now,
    )
    emit_payment_recorded(session, payment=payment, now=now)
    log.info(
        "payment recorded",
        extra={
            "business_id": contact.business_id,
            "channel": channel,
            "payment_id": payment.id,
            "invoices": len(allocations),
        },
    )
    return payment


def _check_allocations(
    contact: Contact,
    amount: Decimal,
    currency: str,
    allocations: Sequence[Allocation],
) -> None:
    if amount <= 0:
        raise MoneyRuleViolation("El monto del pago debe ser mayor a cero.")
    if not allocations:
        raise MoneyRuleViolation("El pago no se aplica a ninguna factura abierta.")
    total = ZERO
    for allocation in allocations:
        invoice = allocation.invoice
        if invoice.business_id != contact.business_id or (
            invoice.contact_id != contact.id
        ):
            raise MoneyRuleViolation(
                f"La factura {invoice.label} no es de {contact.name}."
            )
        if invoice.status == InvoiceStatus.CANCELLED:
            raise MoneyRuleViolation(
                f"La factura {invoice.label} está cancelada; no se le pueden "
                "aplicar pagos."
            )
        if invoice.currency != currency:
            raise MoneyRuleViolation(
                f"La factura {invoice.label} es en {invoice.currency} y el pago en "
                f"{currency}; regístralos por separado."
            )
        if allocation.amount <= 0:
            raise MoneyRuleViolation("Cada abono debe ser mayor a cero.")
        if allocation.amount > invoice.balance:
            raise MoneyRuleViolation(
                f"A la factura {invoice.label} sólo le quedan "
                f"{money(invoice.balance, currency)} por pagar; no acepto "
                f"{money(allocation.amount, currency)}."
            )
        total += allocation.amount
    if total != amount:
        raise MoneyRuleViolation(
            f"Los abonos suman {money(total, currency)} y el pago es de "
            f"{money(amount, currency)}."
        )


def _partial_number(session: Session, invoice: Invoice) -> int:
    """Which partial payment this is for the invoice (Pagos 2.0 `NumParcialidad`)."""
    count = session.scalar(
        select(func.count(PaymentAllocation.id))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            PaymentAllocation.invoice_id == invoice.id,
            Payment.reversed_at.is_(None),
        )
    )
    return int(count or 0) + 1


def _apply(invoice: Invoice, amount: Decimal) -> None:
    invoice.paid = to_money(invoice.paid + amount)
    invoice.balance = to_money(invoice.total - invoice.paid)
    if invoice.balance <= 0:
        invoice.balance = ZERO
        invoice.status = InvoiceStatus.PAID


def reverse_payment(
    session: Session,
    *,
    payment: Payment,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """Undo a payment: its allocations go back to the invoices' balances."""
    if payment.reversed_at is not None:
        raise MoneyRuleViolation("Ese pago ya estaba deshecho.")
    for allocation in payment.allocations:
        invoice = allocation.invoice
        invoice.paid = to_money(invoice.paid - allocation.amount)
        invoice.balance = to_money(invoice.total - invoice.paid)
        if invoice.status == InvoiceStatus.PAID and invoice.balance > 0:
            invoice.status = InvoiceStatus.PENDING
    payment.reversed_at = now
    audit(
        session,
        business_id=payment.business_id,
        actor=actor,
        channel=channel,
        action="payment.reversed",
        subject=f"payment:{payment.id}",
        data={"amount": str(payment.amount), "currency": payment.currency},
        now=now,
    )


def cancel_invoice(
    session: Session, *, invoice: Invoice, actor: str, channel: str, now: dt.datetime
) -> None:
    """A cancelled invoice leaves every balance; its payments stay on record."""
    if invoice.status == InvoiceStatus.CANCELLED:
        return
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at = now
    audit(
        session,
        business_id=invoice.business_id,
        actor=actor,
        channel=channel,
        action="invoice.cancelled",
        subject=f"invoice:{invoice.id}",
        data={"uuid": invoice.uuid, "total": str(invoice.total)},
        now=now,
    )
