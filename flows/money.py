"""The money rules: payments allocated to invoices, balances, status and due dates.

Every change of money state goes through here, keeps `paid + balance == total` on
each invoice, refuses what would overpay, and leaves an audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from flows.audit import AuditEntry, audit, audit_all
from flows.errors import MoneyRuleViolation
from flows.fmt import money, to_money
from flows.webhooks_out import emit_payment_recorded
from storage.models import (
    Base,
    ComplementStatus,
    Contact,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
PAYMENT_TABLE: Table = Payment.__table__  # type: ignore[assignment]
ALLOCATION_TABLE: Table = PaymentAllocation.__table__  # type: ignore[assignment]


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


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One payment to record: who pays, how much, when, and to which invoices."""

    contact: Contact
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    allocations: Sequence[Allocation]
    source: str
    actor: str
    channel: str
    method: str | None = None
    reference: str | None = None
    idempotency_key: str | None = None
    complement_uuid: str | None = None


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
    request = PaymentRequest(
        contact=contact,
        amount=amount,
        currency=currency,
        paid_at=paid_at,
        allocations=allocations,
        source=source,
        actor=actor,
        channel=channel,
        method=method,
        reference=reference,
        idempotency_key=idempotency_key,
        complement_uuid=complement_uuid,
    )
    (payment,) = record_payments(session, [request], now=now)
    assert isinstance(payment, Payment)
    return payment


def record_payments(
    session: Session,
    requests: Sequence[PaymentRequest],
    *,
    now: dt.datetime,
    strict: bool = True,
) -> list[Payment | MoneyRuleViolation]:
    """Record and apply many payments in order, with a few statements for them all.

    Each request sees the invoices as the requests before it left them. A request
    whose idempotency key was used before (in the database or earlier in the same
    call) gives back that first payment. With `strict`, the first refusal raises
    before anything changes; without it, a refused request is skipped, its slot
    holds the refusal, and the others still apply. One result per request.
    """
    earlier = _payments_by_key(session, requests)
    balances: dict[int, Decimal] = {}
    claimed: dict[tuple[int, str], int] = {}
    results: list[Payment | MoneyRuleViolation | int] = []
    planned: list[tuple[int, PaymentRequest, Decimal]] = []
    for index, request in enumerate(requests):
        key = _key_of(request)
        if key is not None and key in earlier:
            results.append(earlier[key])
            continue
        if key is not None and key in claimed:
            results.append(claimed[key])
            continue
        amount = to_money(request.amount)
        try:
            _check_allocations(
                request.contact,
                amount,
                request.currency,
                request.allocations,
                lambda invoice: balances.get(invoice.id, invoice.balance),
            )
        except MoneyRuleViolation as refusal:
            if strict:
                raise
            results.append(refusal)
            continue
        for allocation in request.allocations:
            invoice = allocation.invoice
            balance = balances.get(invoice.id, invoice.balance)
            balances[invoice.id] = to_money(balance - allocation.amount)
        if key is not None:
            claimed[key] = index
        planned.append((index, request, amount))
        results.append(index)

    created = _write_payments(session, planned, now)
    return [
        created[result] if isinstance(result, int) else result for result in results
    ]


def _key_of(request: PaymentRequest) -> tuple[int, str] | None:
    if not request.idempotency_key:
        return None
    return request.contact.business_id, request.idempotency_key


def _payments_by_key(
    session: Session, requests: Sequence[PaymentRequest]
) -> dict[tuple[int, str], Payment]:
    """The payments already recorded under any of the requests' keys, in one query
    per business."""
    wanted: dict[int, set[str]] = {}
    for request in requests:
        key = _key_of(request)
        if key is not None:
            wanted.setdefault(key[0], set()).add(key[1])
    found: dict[tuple[int, str], Payment] = {}
    for business_id, keys in wanted.items():
        payments = session.scalars(
            select(Payment).where(
                Payment.business_id == business_id,
                Payment.idempotency_key.in_(keys),
            )
        )
        for payment in payments:
            assert payment.idempotency_key is not None
            found[business_id, payment.idempotency_key] = payment
    return found


def _write_payments(
    session: Session,
    planned: Sequence[tuple[int, PaymentRequest, Decimal]],
    now: dt.datetime,
) -> dict[int, Payment]:
    """Store the checked requests: payments and their allocations in one INSERT
    each, the invoices' new balances with the session's next flush, then their audit
    events in one INSERT, and their webhooks.

    The rows go in through Core and the objects join the session as already
    stored: the unit of work's bookkeeping per object cost more than the
    INSERTs themselves when a CFDI import records thousands of payments.
    """
    if not planned:
        return {}
    invoice_ids = {
        a.invoice.id for _, request, _ in planned for a in request.allocations
    }
    partials = _partial_counts(session, invoice_ids)

    created: dict[int, Payment] = {}
    allocations: list[tuple[Payment, PaymentAllocation, Invoice]] = []
    for index, request, amount in planned:
        contact = request.contact
        direction = "in" if contact.kind == "customer" else "out"
        needs_complement = any(
            a.invoice.payment_method == "PPD" for a in request.allocations
        )
        complement = ComplementStatus.NOT_REQUIRED
        if request.complement_uuid:
            complement = ComplementStatus.ISSUED
        elif needs_complement and direction == "in":
            complement = ComplementStatus.PENDING
        payment = Payment(
            business_id=contact.business_id,
            contact_id=contact.id,
            direction=direction,
            amount=amount,
            currency=request.currency,
            paid_at=request.paid_at,
            method=request.method,
            reference=request.reference,
            source=request.source,
            idempotency_key=request.idempotency_key,
            complement_status=complement,
            complement_uuid=request.complement_uuid,
            recorded_by=request.actor,
            reversed_at=None,
            created_at=now,
        )
        for allocation in request.allocations:
            invoice = allocation.invoice
            partials[invoice.id] = partials.get(invoice.id, 0) + 1
            row = PaymentAllocation(
                amount=allocation.amount,
                previous_balance=invoice.balance,
                partial_number=partials[invoice.id],
            )
            allocations.append((payment, row, invoice))
            _apply(invoice, allocation.amount)
        created[index] = payment

    _insert_as_stored(session, PAYMENT_TABLE, list(created.values()))
    for payment, row, invoice in allocations:
        row.payment_id = payment.id
        row.invoice_id = invoice.id
    _insert_as_stored(session, ALLOCATION_TABLE, [row for _, row, _ in allocations])
    by_payment: dict[int, list[PaymentAllocation]] = {}
    for payment, row, invoice in allocations:
        set_committed_value(row, "payment", payment)
        set_committed_value(row, "invoice", invoice)
        by_payment.setdefault(payment.id, []).append(row)
    for index, request, _ in planned:
        payment = created[index]
        set_committed_value(payment, "contact", request.contact)
        set_committed_value(payment, "allocations", by_payment.get(payment.id, []))

    entries: list[AuditEntry] = []
    for index, request, amount in planned:
        payment = created[index]
        business_id = request.contact.business_id
        entries.append(
            AuditEntry(
                business_id=business_id,
                actor=request.actor,
                channel=request.channel,
                action="payment.recorded",
                subject=f"payment:{payment.id}",
                data={
                    "amount": str(amount),
                    "currency": request.currency,
                    "contact_id": request.contact.id,
                    "invoices": {
                        str(a.invoice.id): str(a.amount) for a in request.allocations
                    },
                    "source": request.source,
                },
            )
        )
        emit_payment_recorded(session, payment=payment, now=now)
        log.info(
            "payment recorded",
            extra={
                "business_id": business_id,
                "channel": request.channel,
                "payment_id": payment.id,
                "invoices": len(request.allocations),
            },
        )
    audit_all(session, entries, now=now)
    return created


def _insert_as_stored(session: Session, table: Table, objects: Sequence[Base]) -> None:
    """INSERT new objects of one table in one statement and add them to the session
    as loaded, with their ids; every column must already hold its value.

    Limitation: if the transaction then rolls back, these objects stay in the
    session as if stored (the unit of work would have made them new again); every
    caller discards its session after a rollback, so none reads them.
    """
    if not objects:
        return
    columns = [c for c in table.columns if not c.primary_key and c.key != "_sentinel"]
    rows = [{c.key: getattr(obj, c.key) for c in columns} for obj in objects]
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, rows).scalars().all()
    for obj, new_id in zip(objects, ids, strict=True):
        obj.id = new_id  # type: ignore[attr-defined]
        make_transient_to_detached(obj)
        session.add(obj)


def _check_allocations(
    contact: Contact,
    amount: Decimal,
    currency: str,
    allocations: Sequence[Allocation],
    balance_of: Callable[[Invoice], Decimal],
) -> None:
    """Refuse what breaks a rule; `balance_of` gives each invoice's balance as the
    payments before this one (in the same batch) leave it."""
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
        balance = balance_of(invoice)
        if allocation.amount > balance:
            raise MoneyRuleViolation(
                f"A la factura {invoice.label} sólo le quedan "
                f"{money(balance, currency)} por pagar; no acepto "
                f"{money(allocation.amount, currency)}."
            )
        total += allocation.amount
    if total != amount:
        raise MoneyRuleViolation(
            f"Los abonos suman {money(total, currency)} y el pago es de "
            f"{money(amount, currency)}."
        )


def _partial_counts(session: Session, invoice_ids: set[int]) -> dict[int, int]:
    """Live payments so far per invoice; the next is the Pagos 2.0 `NumParcialidad`."""
    rows = session.execute(
        select(PaymentAllocation.invoice_id, func.count(PaymentAllocation.id))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            PaymentAllocation.invoice_id.in_(invoice_ids),
            Payment.reversed_at.is_(None),
        )
        .group_by(PaymentAllocation.invoice_id)
    )
    return {invoice_id: int(count) for invoice_id, count in rows}


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
