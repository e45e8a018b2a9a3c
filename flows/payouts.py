"""Paying suppliers through STP: an order per idempotency key, sent once, its status
updates marking the payable paid (with the supplier's receipt) or reporting why not.

States: scheduled -> pending -> sending -> sent -> liquidated | returned, or failed.
A `sending` order whose outcome is unknown (a timeout) is looked up at STP by its
tracking key before anything is sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.deposits import SPEI_METHOD, join_labels, tell_owner
from flows.errors import InvalidInput, MoneyRuleViolation, NotFound, ProviderError
from flows.fmt import as_utc, local_date, mask_clabe, money, to_money, validate_clabe
from flows.money import Allocation, propose_allocation, record_payment, reverse_payment
from flows.receipts import queue_supplier_receipt
from storage import repo
from storage.db import transaction
from storage.models import (
    Business,
    Contact,
    ContactKind,
    Direction,
    Invoice,
    Payment,
    PayoutStatus,
    SupplierPayment,
)

log = logging.getLogger(__name__)

ACTIVE = (
    PayoutStatus.SCHEDULED,
    PayoutStatus.PENDING,
    PayoutStatus.SENDING,
    PayoutStatus.SENT,
)
# A `sending` order is looked at again only after this long, so two workers do not
# ask (or resend) at once.
RETRY_AFTER = dt.timedelta(seconds=60)
# After this many unanswered attempts the owner is told; the order stays `sending`
# because the money may have left.
WARN_AFTER_ATTEMPTS = 5


# --- what STP is asked, and answers ----------------------------------------


@dataclass(frozen=True)
class TransferOrder:
    """A transfer order as Cobra hands it to the STP client."""

    clave_rastreo: str
    fecha_operacion: dt.date
    amount: Decimal
    concept: str
    beneficiary_clabe: str
    beneficiary_name: str
    beneficiary_rfc: str
    ordering_account: str
    ordering_name: str
    numeric_reference: int


@dataclass(frozen=True)
class OrderStatus:
    """What STP says about an order: sent (accepted), liquidated, returned, failed."""

    state: str
    stp_id: str | None = None
    cause: str | None = None
    settled_at: dt.datetime | None = None


class TransferClient(Protocol):
    def register_order(self, order: TransferOrder) -> str:
        """Send the order; STP's order id. ProviderError when refused or unknown."""
        ...

    def order_status(
        self, *, clave_rastreo: str, fecha_operacion: dt.date
    ) -> OrderStatus | None:
        """STP's view of an order by tracking key; None when STP never got it."""
        ...


class OrderUncertain(ProviderError):
    """The order may or may not have reached STP (a timeout, a dropped connection)."""


# --- planning and creating ---------------------------------------------------


@dataclass(frozen=True)
class PayoutPlan:
    supplier: Contact
    allocations: list[Allocation]
    amount: Decimal
    currency: str

    @property
    def labels(self) -> list[str]:
        return [a.invoice.label for a in self.allocations]


def plan_payout(
    session: Session,
    *,
    supplier: Contact,
    invoices: Sequence[Invoice] = (),
    amount: Decimal | None = None,
) -> PayoutPlan:
    """What paying this supplier would do; nothing changes.

    Named invoices are paid in full (or up to `amount`); an amount alone pays the
    supplier's oldest open payables first.
    """
    if supplier.kind != ContactKind.SUPPLIER:
        raise InvalidInput(f"{supplier.name} no es proveedor.")
    if not supplier.clabe:
        raise InvalidInput(
            f"No tengo la CLABE de {supplier.display_name}. Escribe "
            f"«la CLABE de {supplier.display_name} es …»."
        )
    validate_clabe(supplier.clabe)
    pool = list(invoices) or list(
        repo.open_invoices(
            session,
            business_id=supplier.business_id,
            direction=Direction.PAYABLE,
            contact_id=supplier.id,
        )
    )
    pool = [i for i in pool if i.status == "pending" and i.balance > 0]
    for invoice in pool:
        if invoice.contact_id != supplier.id or invoice.direction != Direction.PAYABLE:
            raise MoneyRuleViolation(
                f"La factura {invoice.label} no es de ese proveedor."
            )
    if not pool:
        raise MoneyRuleViolation(
            f"{supplier.display_name} no tiene facturas por pagar."
        )
    currencies = {i.currency for i in pool}
    if currencies != {"MXN"}:
        raise MoneyRuleViolation("Por SPEI sólo puedo pagar facturas en pesos (MXN).")
    busy = _invoices_in_flight(session, supplier)
    for invoice in pool:
        if invoice.id in busy:
            raise MoneyRuleViolation(
                f"Ya hay una orden de pago en curso para la {invoice.label}."
            )
    owed = sum((i.balance for i in pool), Decimal("0"))
    total = to_money(amount) if amount is not None else owed
    allocations = propose_allocation(pool, total)
    return PayoutPlan(supplier, allocations, total, "MXN")


def create_payout(
    session: Session,
    *,
    business: Business,
    plan: PayoutPlan,
    pay_on: dt.date,
    idempotency_key: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> SupplierPayment:
    """Keep the confirmed order; it is sent on `pay_on` by `run_scheduled_payouts`.

    A key used before returns the first order unchanged.
    """
    earlier = session.scalar(
        select(SupplierPayment).where(
            SupplierPayment.idempotency_key == idempotency_key
        )
    )
    if earlier is not None:
        return earlier
    supplier = plan.supplier
    today = local_date(now, business.timezone)
    payout = SupplierPayment(
        business_id=business.id,
        contact_id=supplier.id,
        idempotency_key=idempotency_key,
        amount=plan.amount,
        currency=plan.currency,
        clabe=validate_clabe(supplier.clabe or ""),
        beneficiary_name=supplier.name,
        concept=_concept(plan),
        allocations={str(a.invoice.id): str(a.amount) for a in plan.allocations},
        status=PayoutStatus.SCHEDULED if pay_on > today else PayoutStatus.PENDING,
        scheduled_for=max(pay_on, today),
        attempts=0,
        requested_by=actor,
        created_at=now,
    )
    session.add(payout)
    session.flush()
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="payout.created",
        subject=f"supplier_payment:{payout.id}",
        data={
            "amount": str(plan.amount),
            "contact_id": supplier.id,
            "invoices": payout.allocations,
            "scheduled_for": payout.scheduled_for.isoformat(),
        },
        now=now,
    )
    log.info(
        "payout created",
        extra={"business_id": business.id, "payout_id": payout.id, "channel": channel},
    )
    return payout


def cancel_payout(
    session: Session,
    *,
    payout: SupplierPayment,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """Only an order not sent yet can be cancelled."""
    if payout.status not in (PayoutStatus.SCHEDULED, PayoutStatus.PENDING):
        raise MoneyRuleViolation("Esa orden ya se mandó; no la puedo cancelar.")
    payout.status = PayoutStatus.CANCELLED
    audit(
        session,
        business_id=payout.business_id,
        actor=actor,
        channel=channel,
        action="payout.cancelled",
        subject=f"supplier_payment:{payout.id}",
        now=now,
    )


# --- sending -------------------------------------------------------------------


def run_scheduled_payouts(
    factory: sessionmaker[Session], now: dt.datetime, *, client: TransferClient
) -> dict[str, int]:
    """The scheduler's pass: orders due today are sent; unsure ones are checked."""
    with factory() as session:
        rows = session.execute(
            select(SupplierPayment.id, SupplierPayment.status, SupplierPayment.sent_at)
            .where(
                SupplierPayment.status.in_(
                    (PayoutStatus.SCHEDULED, PayoutStatus.PENDING, PayoutStatus.SENDING)
                ),
                SupplierPayment.scheduled_for <= now.date() + dt.timedelta(days=1),
            )
            .order_by(SupplierPayment.id)
        ).all()
    counts: dict[str, int] = {}
    for payout_id, status, sent_at in rows:
        if (
            status == PayoutStatus.SENDING
            and sent_at
            and as_utc(sent_at) > now - RETRY_AFTER
        ):
            continue
        result = send_payout(factory, payout_id=payout_id, client=client, now=now)
        counts[result] = counts.get(result, 0) + 1
    return counts


def send_payout(
    factory: sessionmaker[Session],
    *,
    payout_id: int,
    client: TransferClient,
    now: dt.datetime,
) -> str:
    """Send one order, or, when an earlier try's outcome is unknown, ask STP first.

    Returns the order's state afterwards.
    """
    with transaction(factory) as session:
        payout = session.get(SupplierPayment, payout_id, with_for_update=True)
        if payout is None:
            raise NotFound("No existe esa orden de pago.")
        business = session.get(Business, payout.business_id)
        assert business is not None
        today = local_date(now, business.timezone)
        if payout.status == PayoutStatus.SCHEDULED:
            if payout.scheduled_for > today:
                return str(payout.status)
            payout.status = PayoutStatus.PENDING
        if payout.status not in (PayoutStatus.PENDING, PayoutStatus.SENDING):
            return str(payout.status)
        recent = (
            payout.sent_at is not None and as_utc(payout.sent_at) > now - RETRY_AFTER
        )
        if payout.status == PayoutStatus.SENDING and recent:
            return str(payout.status)
        if not business.clabe:
            cause = "el negocio no tiene registrada su cuenta STP (CLABE)"
            _not_paid(
                session, payout, OrderStatus(PayoutStatus.FAILED, cause=cause), now
            )
            return str(payout.status)
        check_first = payout.status == PayoutStatus.SENDING
        if payout.clave_rastreo is None:
            payout.clave_rastreo = tracking_key(payout)
            payout.fecha_operacion = today
        payout.status = PayoutStatus.SENDING
        payout.attempts += 1
        payout.sent_at = now
        order = _order(payout, business)

    if check_first:
        try:
            known = client.order_status(
                clave_rastreo=order.clave_rastreo, fecha_operacion=order.fecha_operacion
            )
        except ProviderError as exc:
            return _note_attempt(factory, payout_id, exc, now)
        if known is not None:
            with transaction(factory) as session:
                payout = session.get(SupplierPayment, payout_id, with_for_update=True)
                assert payout is not None
                _apply_status(session, payout, known, now)
                return str(payout.status)

    try:
        stp_id = client.register_order(order)
    except ProviderError as exc:
        return _note_attempt(factory, payout_id, exc, now)
    with transaction(factory) as session:
        payout = session.get(SupplierPayment, payout_id, with_for_update=True)
        assert payout is not None
        if payout.status == PayoutStatus.SENDING:
            payout.status = PayoutStatus.SENT
        payout.stp_order_id = stp_id
        payout.last_error = None
        log.info(
            "payout sent",
            extra={"business_id": payout.business_id, "payout_id": payout.id},
        )
        return str(payout.status)


def tracking_key(payout: SupplierPayment) -> str:
    """Unique per order and kept across retries: STP refuses a key used before."""
    return f"CBR{payout.business_id:05d}{payout.id:010d}"


# --- status updates -----------------------------------------------------------


def handle_order_status(
    session: Session,
    *,
    status: OrderStatus,
    now: dt.datetime,
    clave_rastreo: str | None = None,
) -> SupplierPayment | None:
    """STP's status update for an order (by its id or tracking key)."""
    conditions = []
    if status.stp_id:
        conditions.append(SupplierPayment.stp_order_id == status.stp_id)
    if clave_rastreo:
        conditions.append(SupplierPayment.clave_rastreo == clave_rastreo)
    if not conditions:
        return None
    payout = session.scalars(
        select(SupplierPayment).where(or_(*conditions)).with_for_update()
    ).first()
    if payout is None:
        log.warning("stp order status for an unknown order")
        return None
    _apply_status(session, payout, status, now)
    return payout


def _apply_status(
    session: Session, payout: SupplierPayment, status: OrderStatus, now: dt.datetime
) -> None:
    if status.stp_id and not payout.stp_order_id:
        payout.stp_order_id = status.stp_id
    if status.state == PayoutStatus.SENT:
        if payout.status == PayoutStatus.SENDING:
            payout.status = PayoutStatus.SENT
        return
    if status.state == PayoutStatus.LIQUIDATED:
        _liquidated(session, payout, status, now)
    elif status.state in (PayoutStatus.RETURNED, PayoutStatus.FAILED):
        _not_paid(session, payout, status, now)


def _liquidated(
    session: Session, payout: SupplierPayment, status: OrderStatus, now: dt.datetime
) -> None:
    if payout.status in (PayoutStatus.LIQUIDATED, PayoutStatus.RETURNED):
        return
    payout.status = PayoutStatus.LIQUIDATED
    payout.settled_at = status.settled_at or now
    supplier = payout.contact
    business = session.get(Business, payout.business_id)
    assert business is not None
    allocations, left = _fit_allocations(session, payout)
    labels = [a.invoice.label for a in allocations]
    if allocations:
        payment = record_payment(
            session,
            contact=supplier,
            amount=payout.amount - left,
            currency=payout.currency,
            paid_at=payout.settled_at,
            allocations=allocations,
            source="stp",
            actor="stp",
            channel="stp",
            now=now,
            method=SPEI_METHOD,
            reference=payout.clave_rastreo,
            idempotency_key=f"stp-out:{payout.clave_rastreo}",
        )
        payout.payment_id = payment.id
        queue_supplier_receipt(session, payment=payment, now=now)
    name = supplier.display_name
    text = (
        f"Listo: le llegó a {name} tu pago de {money(payout.amount, payout.currency)}"
        + (f" por {join_labels(labels)}" if labels else "")
        + f". Clave de rastreo {payout.clave_rastreo}."
    )
    if left > 0:
        # Limitation: when the payables were paid by other means meanwhile, what
        # the transfer carried beyond their balance is reported, not kept as credit.
        text += (
            f" {money(left, payout.currency)} no se aplicó a ninguna factura porque "
            "ya estaban pagadas; revísalo con tu proveedor."
        )
    tell_owner(
        session,
        business=business,
        text=text,
        dedupe_key=f"payout:{payout.id}:liquidated",
        now=now,
    )
    log.info(
        "payout liquidated",
        extra={"business_id": business.id, "payout_id": payout.id},
    )


def _not_paid(
    session: Session, payout: SupplierPayment, status: OrderStatus, now: dt.datetime
) -> None:
    if payout.status in (PayoutStatus.RETURNED, PayoutStatus.FAILED):
        return
    was_paid = payout.status == PayoutStatus.LIQUIDATED
    payout.status = (
        PayoutStatus.RETURNED
        if status.state == PayoutStatus.RETURNED
        else PayoutStatus.FAILED
    )
    payout.last_error = status.cause
    if was_paid and payout.payment_id is not None:
        payment = session.get(Payment, payout.payment_id)
        if payment is not None and payment.reversed_at is None:
            reverse_payment(
                session, payment=payment, actor="stp", channel="stp", now=now
            )
    business = session.get(Business, payout.business_id)
    assert business is not None
    name = payout.contact.display_name
    verb = "regresó" if payout.status == PayoutStatus.RETURNED else "no se hizo"
    cause = f" Motivo: {status.cause}." if status.cause else ""
    tell_owner(
        session,
        business=business,
        text=(
            f"⚠️ La transferencia a {name} por {money(payout.amount, payout.currency)} "
            f"{verb} (cuenta {mask_clabe(payout.clabe)}).{cause} Las facturas siguen "
            "por pagar."
        ),
        dedupe_key=f"payout:{payout.id}:{payout.status}",
        now=now,
    )
    log.warning(
        "payout not paid",
        extra={
            "business_id": payout.business_id,
            "payout_id": payout.id,
            "state": str(payout.status),
        },
    )


def _fit_allocations(
    session: Session, payout: SupplierPayment
) -> tuple[list[Allocation], Decimal]:
    """The confirmed split, each invoice up to what it still owes today."""
    result: list[Allocation] = []
    left = Decimal("0")
    for invoice_id, raw in sorted(
        payout.allocations.items(), key=lambda kv: int(kv[0])
    ):
        invoice = session.get(Invoice, int(invoice_id), with_for_update=True)
        wanted = Decimal(raw)
        if invoice is None or invoice.status != "pending":
            left += wanted
            continue
        take = min(wanted, invoice.balance)
        if take > 0:
            result.append(Allocation(invoice, take))
        left += wanted - take
    return result, to_money(left)


def _note_attempt(
    factory: sessionmaker[Session], payout_id: int, exc: ProviderError, now: dt.datetime
) -> str:
    with transaction(factory) as session:
        payout = session.get(SupplierPayment, payout_id, with_for_update=True)
        assert payout is not None
        payout.last_error = exc.message[:1000]
        if not exc.temporary and not isinstance(exc, OrderUncertain):
            _not_paid(
                session,
                payout,
                OrderStatus(state=PayoutStatus.FAILED, cause=exc.message),
                now,
            )
            return str(payout.status)
        log.warning(
            "payout outcome unknown; will ask STP before resending",
            extra={"payout_id": payout.id, "attempts": payout.attempts},
        )
        if payout.attempts >= WARN_AFTER_ATTEMPTS:
            business = session.get(Business, payout.business_id)
            assert business is not None
            tell_owner(
                session,
                business=business,
                text=(
                    f"⚠️ No he podido confirmar con STP la transferencia a "
                    f"{payout.beneficiary_name} por "
                    f"{money(payout.amount, payout.currency)} (rastreo "
                    f"{payout.clave_rastreo}). No la reenvío hasta saber si salió."
                ),
                dedupe_key=f"payout:{payout.id}:unconfirmed",
                now=now,
            )
        return str(payout.status)


def _order(payout: SupplierPayment, business: Business) -> TransferOrder:
    assert business.clabe is not None
    assert payout.clave_rastreo is not None and payout.fecha_operacion is not None
    return TransferOrder(
        clave_rastreo=payout.clave_rastreo,
        fecha_operacion=payout.fecha_operacion,
        amount=payout.amount,
        concept=payout.concept,
        beneficiary_clabe=payout.clabe,
        beneficiary_name=payout.beneficiary_name,
        beneficiary_rfc=payout.contact.rfc,
        ordering_account=business.clabe,
        ordering_name=business.name,
        numeric_reference=payout.id % 10_000_000,
    )


def _concept(plan: PayoutPlan) -> str:
    labels = plan.labels
    text = "Pago " + ", ".join(labels) if labels else "Pago a proveedor"
    return text[:39]


def _invoices_in_flight(session: Session, supplier: Contact) -> set[int]:
    rows = session.scalars(
        select(SupplierPayment).where(
            SupplierPayment.business_id == supplier.business_id,
            SupplierPayment.contact_id == supplier.id,
            SupplierPayment.status.in_(ACTIVE),
        )
    ).all()
    return {int(key) for row in rows for key in row.allocations}


def payout_by_key(session: Session, *, idempotency_key: str) -> SupplierPayment | None:
    return session.scalar(
        select(SupplierPayment).where(
            SupplierPayment.idempotency_key == idempotency_key
        )
    )


def payouts_of(
    session: Session, *, business_id: int, statuses: Sequence[str] = ACTIVE
) -> Sequence[SupplierPayment]:
    return session.scalars(
        select(SupplierPayment)
        .where(
            SupplierPayment.business_id == business_id,
            SupplierPayment.status.in_(statuses),
        )
        .order_by(SupplierPayment.scheduled_for, SupplierPayment.id)
    ).all()
