"""The money rules: payments allocated to invoices, balances, status and due dates.

Every change of money state goes through here, keeps `paid + balance == total` on
each invoice, refuses what would overpay, and leaves an audit event.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from flows.audit import AuditEntry, audit, audit_all
from flows.errors import MoneyRuleViolation
from flows.fmt import money, to_money
from flows.webhooks_out import emit_payment_recorded
from storage.models import (
    Base,
    ComplementStatus,
    Contact,
    ContactKind,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
INVOICE_TABLE: Table = Invoice.__table__  # type: ignore[assignment]
PAYMENT_TABLE: Table = Payment.__table__  # type: ignore[assignment]
ALLOCATION_TABLE: Table = PaymentAllocation.__table__  # type: ignore[assignment]
_T = TypeVar("_T", bound=Base)


@dataclass(frozen=True)
class Allocation:
    invoice: Invoice
    amount: Decimal


@functools.lru_cache(maxsize=1024)
def terms_from_text(text: str | None) -> int | None:
    """Days named in a CFDI's `CondicionesDePago`: "30 días", "crédito 45", "NET 30".

    Cached: a business writes the same few conditions on thousands of invoices.
    """
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


@dataclass(slots=True)
class OpenInvoice:
    """An invoice's money state, as the rules check and change it.

    Taken from an `Invoice` (`of`), or read straight from its columns by a caller
    that applies payments in bulk, such as the CFDI import.
    """

    id: int
    business_id: int
    contact_id: int
    label: str
    currency: str
    status: str
    payment_method: str
    total: Decimal
    paid: Decimal
    balance: Decimal

    @classmethod
    def of(cls, invoice: Invoice) -> OpenInvoice:
        return cls(
            id=invoice.id,
            business_id=invoice.business_id,
            contact_id=invoice.contact_id,
            label=invoice.label,
            currency=invoice.currency,
            status=invoice.status,
            payment_method=invoice.payment_method,
            total=invoice.total,
            paid=invoice.paid,
            balance=invoice.balance,
        )

    def take(self, amount: Decimal) -> None:
        """Apply a payment: `paid + balance == total`, paid in full at zero."""
        self.paid = to_money(self.paid + amount)
        self.balance = to_money(self.total - self.paid)
        if self.balance <= 0:
            self.balance = ZERO
            self.status = InvoiceStatus.PAID


@dataclass(frozen=True, slots=True)
class Payer:
    """The contact a payment comes from (a customer) or goes to (a supplier)."""

    id: int
    business_id: int
    kind: str
    name: str

    @classmethod
    def of(cls, contact: Contact) -> Payer:
        return cls(contact.id, contact.business_id, contact.kind, contact.name)


@dataclass(slots=True, eq=False)
class PlannedPayment:
    """A payment a `PaymentBatch` accepted; `id` (and `payment`, when attached) once
    written. Each allocation keeps the invoice's balance before it."""

    payer: Payer
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    allocations: list[tuple[OpenInvoice, Decimal, Decimal]]
    source: str
    actor: str
    channel: str
    method: str | None
    reference: str | None
    idempotency_key: str | None
    complement_uuid: str | None
    id: int | None = None
    payment: Payment | None = None


class PaymentBatch:
    """Payments checked one at a time, each against the balances the ones before it
    leave, then written together in a few statements (`write`).

    Nothing reaches the database before `write`, so a refusal leaves it as it was.
    Payments, allocations, the invoices' new balances and the audit events go in
    through Core: the unit of work's bookkeeping per object cost more than the
    statements themselves when a CFDI import records thousands of payments.
    """

    def __init__(
        self,
        session: Session,
        *,
        now: dt.datetime,
        keys: Iterable[tuple[int, str]] = (),
    ) -> None:
        """`keys` are the (business id, idempotency key) pairs the payments will
        carry, looked up in one query; a key not given here is looked up alone."""
        self.session = session
        self.now = now
        self._looked_up = set(keys)
        self._earlier = _payment_ids_by_key(session, self._looked_up)
        self._claimed: dict[tuple[int, str], PlannedPayment] = {}
        self._planned: list[PlannedPayment] = []
        self._invoices: dict[int, OpenInvoice] = {}

    def __len__(self) -> int:
        """How many new payments are planned (a repeated key plans none)."""
        return len(self._planned)

    def add(
        self,
        *,
        payer: Payer,
        amount: Decimal,
        currency: str,
        paid_at: dt.datetime,
        allocations: Sequence[tuple[OpenInvoice, Decimal]],
        source: str,
        actor: str,
        channel: str,
        method: str | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
        complement_uuid: str | None = None,
    ) -> PlannedPayment | int | MoneyRuleViolation:
        """Check a payment and apply it to the invoices' balances in memory.

        Returns the planned payment; or, when its key was used before, the first
        payment (its id when it is in the database); or why it is refused.
        Give each invoice as the same `OpenInvoice` every time.
        """
        key = (payer.business_id, idempotency_key) if idempotency_key else None
        if key is not None:
            if key not in self._looked_up:
                self._earlier.update(_payment_ids_by_key(self.session, [key]))
                self._looked_up.add(key)
            if key in self._earlier:
                return self._earlier[key]
            if key in self._claimed:
                return self._claimed[key]
        amount = to_money(amount)
        try:
            _check_allocations(payer, amount, currency, allocations)
        except MoneyRuleViolation as refusal:
            return refusal

        applied: list[tuple[OpenInvoice, Decimal, Decimal]] = []
        for invoice, share in allocations:
            applied.append((invoice, share, invoice.balance))
            invoice.take(share)
            self._invoices[invoice.id] = invoice
        planned = PlannedPayment(
            payer=payer,
            amount=amount,
            currency=currency,
            paid_at=paid_at,
            allocations=applied,
            source=source,
            actor=actor,
            channel=channel,
            method=method,
            reference=reference,
            idempotency_key=idempotency_key,
            complement_uuid=complement_uuid,
        )
        self._planned.append(planned)
        if key is not None:
            self._claimed[key] = planned
        return planned

    def write(self, *, attach: bool = False) -> None:
        """Store what was planned: payments, allocations, balances, audit events and
        webhooks. With `attach`, each payment's ORM object joins the session as
        stored (`PlannedPayment.payment`); `Invoice` objects the session holds get
        their new balances either way."""
        planned, self._planned = self._planned, []
        if not planned:
            return
        touched = {a[0].id for p in planned for a in p.allocations}
        partials = _partial_counts(self.session, touched)
        listened = _has_webhooks(self.session, {p.payer.business_id for p in planned})
        connection = self.session.connection()

        payment_rows = [self._payment_row(p) for p in planned]
        statement = insert(PAYMENT_TABLE).returning(
            PAYMENT_TABLE.c.id, sort_by_parameter_order=True
        )
        ids = connection.execute(statement, payment_rows).scalars().all()
        allocation_rows: list[dict[str, Any]] = []
        for payment, payment_id in zip(planned, ids, strict=True):
            payment.id = payment_id
            for invoice, share, before in payment.allocations:
                partials[invoice.id] = partials.get(invoice.id, 0) + 1
                allocation_rows.append(
                    {
                        "payment_id": payment_id,
                        "invoice_id": invoice.id,
                        "amount": share,
                        "partial_number": partials[invoice.id],
                        "previous_balance": before,
                    }
                )
        allocation_ids = _insert(
            connection, ALLOCATION_TABLE, allocation_rows, returning=attach or listened
        )
        self._store_balances()
        audit_all(self.session, [_audit_entry(p) for p in planned], now=self.now)

        if listened:
            _load_invoices(self.session, touched)
        if attach or listened:
            _attach(
                self.session, planned, payment_rows, allocation_rows, allocation_ids
            )
        for payment in planned:
            if listened:
                assert payment.payment is not None
                emit_payment_recorded(
                    self.session, payment=payment.payment, now=self.now
                )
            log.info(
                "payment recorded",
                extra={
                    "business_id": payment.payer.business_id,
                    "channel": payment.channel,
                    "payment_id": payment.id,
                    "invoices": len(payment.allocations),
                },
            )

    def _payment_row(self, planned: PlannedPayment) -> dict[str, Any]:
        payer = planned.payer
        direction = "in" if payer.kind == ContactKind.CUSTOMER else "out"
        complement = ComplementStatus.NOT_REQUIRED
        if planned.complement_uuid:
            complement = ComplementStatus.ISSUED
        elif direction == "in" and any(
            invoice.payment_method == "PPD" for invoice, _, _ in planned.allocations
        ):
            complement = ComplementStatus.PENDING
        return {
            "business_id": payer.business_id,
            "contact_id": payer.id,
            "direction": direction,
            "amount": planned.amount,
            "currency": planned.currency,
            "paid_at": planned.paid_at,
            "method": planned.method,
            "reference": planned.reference,
            "source": planned.source,
            "idempotency_key": planned.idempotency_key,
            "complement_status": complement,
            "complement_uuid": planned.complement_uuid,
            "recorded_by": planned.actor,
            "reversed_at": None,
            "created_at": self.now,
        }

    def _store_balances(self) -> None:
        """The touched invoices' new balances in one statement; the `Invoice` objects
        the session holds take them as already stored."""
        invoices, self._invoices = list(self._invoices.values()), {}
        statement = (
            update(INVOICE_TABLE)
            .where(INVOICE_TABLE.c.id == bindparam("invoice_id"))
            .values(
                paid=bindparam("paid"),
                balance=bindparam("balance"),
                status=bindparam("status"),
            )
        )
        self.session.connection().execute(
            statement,
            [
                {
                    "invoice_id": i.id,
                    "paid": i.paid,
                    "balance": i.balance,
                    "status": i.status,
                }
                for i in invoices
            ],
        )
        for invoice in invoices:
            held = self.session.identity_map.get(identity_key(Invoice, invoice.id))
            if isinstance(held, Invoice):
                set_committed_value(held, "paid", invoice.paid)
                set_committed_value(held, "balance", invoice.balance)
                set_committed_value(held, "status", invoice.status)


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
    # The invoices' ids and columns as this session holds them.
    session.flush()
    keys = [
        (r.contact.business_id, r.idempotency_key)
        for r in requests
        if r.idempotency_key
    ]
    batch = PaymentBatch(session, now=now, keys=keys)
    states: dict[int, OpenInvoice] = {}
    results: list[PlannedPayment | int | MoneyRuleViolation] = []
    for request in requests:
        allocations = []
        for allocation in request.allocations:
            invoice = allocation.invoice
            if invoice.id not in states:
                states[invoice.id] = OpenInvoice.of(invoice)
            allocations.append((states[invoice.id], allocation.amount))
        result = batch.add(
            payer=Payer.of(request.contact),
            amount=request.amount,
            currency=request.currency,
            paid_at=request.paid_at,
            allocations=allocations,
            source=request.source,
            actor=request.actor,
            channel=request.channel,
            method=request.method,
            reference=request.reference,
            idempotency_key=request.idempotency_key,
            complement_uuid=request.complement_uuid,
        )
        if strict and isinstance(result, MoneyRuleViolation):
            raise result
        results.append(result)
    batch.write(attach=True)

    payments: list[Payment | MoneyRuleViolation] = []
    for request, result in zip(requests, results, strict=True):
        if isinstance(result, PlannedPayment):
            assert result.payment is not None
            set_committed_value(result.payment, "contact", request.contact)
            payments.append(result.payment)
        elif isinstance(result, int):
            earlier = session.get(Payment, result)
            assert earlier is not None
            payments.append(earlier)
        else:
            payments.append(result)
    return payments


def _payment_ids_by_key(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """The payments already recorded under any of the keys, one query per business."""
    wanted: dict[int, set[str]] = {}
    for business_id, key in keys:
        wanted.setdefault(business_id, set()).add(key)
    found: dict[tuple[int, str], int] = {}
    for business_id, names in wanted.items():
        rows = session.execute(
            select(Payment.id, Payment.idempotency_key).where(
                Payment.business_id == business_id,
                Payment.idempotency_key.in_(names),
            )
        )
        for payment_id, name in rows:
            assert name is not None
            found[business_id, name] = payment_id
    return found


def _insert(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    returning: bool,
) -> list[int]:
    """INSERT the rows in one statement; their ids, in order, when asked for."""
    if not returning:
        connection.execute(insert(table), rows)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, rows).scalars().all())


def _audit_entry(planned: PlannedPayment) -> AuditEntry:
    return AuditEntry(
        business_id=planned.payer.business_id,
        actor=planned.actor,
        channel=planned.channel,
        action="payment.recorded",
        subject=f"payment:{planned.id}",
        data={
            "amount": str(planned.amount),
            "currency": planned.currency,
            "contact_id": planned.payer.id,
            "invoices": {
                str(invoice.id): str(share) for invoice, share, _ in planned.allocations
            },
            "source": planned.source,
        },
    )


def _has_webhooks(session: Session, business_ids: set[int]) -> bool:
    """Whether any of the businesses has a live webhook endpoint.

    Without one, `emit_payment_recorded` queues nothing; asking first spares
    building the ORM objects it reads for every payment of a bulk import.
    """
    found = session.execute(
        select(WebhookEndpoint.id)
        .where(
            WebhookEndpoint.business_id.in_(business_ids),
            WebhookEndpoint.disabled_at.is_(None),
        )
        .limit(1)
    )
    return found.first() is not None


def _attach(
    session: Session,
    planned: Sequence[PlannedPayment],
    payment_rows: Sequence[dict[str, Any]],
    allocation_rows: Sequence[dict[str, Any]],
    allocation_ids: Sequence[int],
) -> None:
    """Add the written payments and allocations to the session as stored objects,
    each payment with its allocations loaded.

    Limitation: if the transaction then rolls back, these objects stay in the
    session as if stored (the unit of work would have made them new again); every
    caller discards its session after a rollback, so none reads them.
    """
    rows = iter(zip(allocation_rows, allocation_ids, strict=True))
    for payment, row in zip(planned, payment_rows, strict=True):
        stored = _as_stored(session, Payment(id=payment.id, **row))
        allocations = []
        for _ in payment.allocations:
            values, allocation_id = next(rows)
            allocation = _as_stored(
                session, PaymentAllocation(id=allocation_id, **values)
            )
            set_committed_value(allocation, "payment", stored)
            invoice = session.identity_map.get(
                identity_key(Invoice, values["invoice_id"])
            )
            if invoice is not None:
                set_committed_value(allocation, "invoice", invoice)
            allocations.append(allocation)
        set_committed_value(stored, "allocations", allocations)
        payment.payment = stored


def _as_stored(session: Session, obj: _T) -> _T:
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _load_invoices(session: Session, invoice_ids: set[int]) -> None:
    """Bring the invoices into the session in one query, for the webhooks to read."""
    missing = [
        i
        for i in invoice_ids
        if session.identity_map.get(identity_key(Invoice, i)) is None
    ]
    if missing:
        session.scalars(select(Invoice).where(Invoice.id.in_(missing))).all()


def _check_allocations(
    payer: Payer,
    amount: Decimal,
    currency: str,
    allocations: Sequence[tuple[OpenInvoice, Decimal]],
) -> None:
    """Refuse what breaks a rule, against the balances as the payments before this
    one (in the same batch) leave them."""
    if amount <= 0:
        raise MoneyRuleViolation("El monto del pago debe ser mayor a cero.")
    if not allocations:
        raise MoneyRuleViolation("El pago no se aplica a ninguna factura abierta.")
    total = ZERO
    for invoice, share in allocations:
        if invoice.business_id != payer.business_id or (invoice.contact_id != payer.id):
            raise MoneyRuleViolation(
                f"La factura {invoice.label} no es de {payer.name}."
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
        if share <= 0:
            raise MoneyRuleViolation("Cada abono debe ser mayor a cero.")
        if share > invoice.balance:
            raise MoneyRuleViolation(
                f"A la factura {invoice.label} sólo le quedan "
                f"{money(invoice.balance, currency)} por pagar; no acepto "
                f"{money(share, currency)}."
            )
        total += share
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
