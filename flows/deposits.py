"""SPEI deposits through STP: a notice stored once, then applied to a customer's
invoices (exact amount first, else oldest first), with the customer's receipt and
a notice to the owner; what cannot be applied waits for the owner to place it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.errors import MoneyRuleViolation, NotFound
from flows.fmt import local_date, mask_clabe, money, short_date
from flows.money import Allocation, exact_match, propose_allocation, record_payment
from flows.outbox import enqueue, owner_address
from flows.receipts import queue_payment_receipt
from storage import repo
from storage.db import is_postgres, transaction
from storage.models import (
    Business,
    Contact,
    ContactKind,
    DepositStatus,
    Direction,
    Invoice,
    Payment,
    StpDeposit,
)

log = logging.getLogger(__name__)

SOURCE = "stp"
ACTOR = "stp"
SPEI_METHOD = "03"  # SAT's "transferencia electrónica de fondos"
# The owner hears from Cobra through the plain owner-update template.
OWNER_TEMPLATE = "owner_update"
# After this many failed attempts a deposit stops being retried and waits for the
# owner instead, so one bad row cannot block the others forever.
MAX_ATTEMPTS = 5
REASONS = {
    "unknown_account": "la cuenta que recibió el depósito no es de ningún cliente",
    "no_invoices": "ese cliente no tiene facturas pendientes",
    "excess": "es más de lo que ese cliente debe",
    "error": "no pude aplicarlo automáticamente",
}


@dataclass(frozen=True)
class DepositNotice:
    """One deposit as STP describes it, already checked and typed."""

    clave_rastreo: str
    fecha_operacion: dt.date
    amount: Decimal
    beneficiary_account: str
    stp_id: str | None = None
    payer_account: str | None = None
    payer_name: str | None = None
    payer_bank: str | None = None
    concept: str | None = None
    numeric_reference: str | None = None
    settled_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        return f"stp:{self.clave_rastreo}:{self.fecha_operacion:%Y%m%d}"


@dataclass(frozen=True)
class ReceiptConfig:
    """What the customer's receipt needs to carry their portal link."""

    public_base_url: str
    portal_key: bytes


@dataclass(frozen=True)
class Outcome:
    deposit_id: int
    status: str
    payment_id: int | None = None
    reason: str | None = None


def store_notice(
    session: Session, *, notice: DepositNotice, now: dt.datetime
) -> tuple[StpDeposit, bool]:
    """Keep the notice before it is acknowledged; a repeated one adds nothing.

    Returns the row and whether it is new.
    """
    values = {
        "stp_id": notice.stp_id,
        "clave_rastreo": notice.clave_rastreo,
        "fecha_operacion": notice.fecha_operacion,
        "amount": notice.amount,
        "currency": "MXN",
        "beneficiary_account": notice.beneficiary_account,
        "payer_account": notice.payer_account,
        "payer_name": (notice.payer_name or "")[:120] or None,
        "payer_bank": notice.payer_bank,
        "concept": (notice.concept or "")[:210] or None,
        "numeric_reference": notice.numeric_reference,
        "settled_at": notice.settled_at,
        "raw": notice.raw,
        "status": DepositStatus.RECEIVED,
        "attempts": 0,
        "received_at": now,
    }
    insert = pg_insert if is_postgres(session) else sqlite_insert
    statement = (
        insert(StpDeposit)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["clave_rastreo", "fecha_operacion"])
        .returning(StpDeposit.id)
    )
    new_id = session.execute(statement).scalar()
    row = session.scalar(
        select(StpDeposit).where(
            StpDeposit.clave_rastreo == notice.clave_rastreo,
            StpDeposit.fecha_operacion == notice.fecha_operacion,
        )
    )
    assert row is not None
    return row, new_id is not None


def apply_deposit(
    session: Session, *, deposit_id: int, config: ReceiptConfig, now: dt.datetime
) -> Outcome:
    """Apply a stored deposit once: find the customer, then the invoices."""
    deposit = session.scalar(
        select(StpDeposit).where(StpDeposit.id == deposit_id).with_for_update()
    )
    if deposit is None:
        raise NotFound("No existe ese depósito.")
    if deposit.status != DepositStatus.RECEIVED:
        return Outcome(deposit.id, deposit.status, deposit.payment_id, deposit.reason)
    deposit.attempts += 1

    business, contact = _owner_of_account(session, deposit.beneficiary_account)
    deposit.business_id = business.id if business else None
    deposit.contact_id = contact.id if contact else None
    if business is None or contact is None:
        return _keep_unapplied(session, deposit, business, "unknown_account", now)

    invoices = _open_invoices(session, contact, deposit.currency)
    if not invoices:
        return _keep_unapplied(session, deposit, business, "no_invoices", now)
    owed = sum((i.balance for i in invoices), Decimal("0"))
    if deposit.amount > owed:
        return _keep_unapplied(session, deposit, business, "excess", now)

    payment = _record(
        session, deposit, contact, invoices, actor=ACTOR, channel=SOURCE, now=now
    )
    queue_payment_receipt(
        session,
        payment=payment,
        public_base_url=config.public_base_url,
        portal_key=config.portal_key,
        now=now,
    )
    _tell_owner(
        session,
        business,
        text=applied_text(contact, payment),
        dedupe_key=f"stp-deposit:{deposit.id}:applied",
        now=now,
    )
    log.info(
        "stp deposit applied",
        extra={
            "business_id": business.id,
            "deposit_id": deposit.id,
            "payment_id": payment.id,
        },
    )
    return Outcome(deposit.id, deposit.status, payment.id)


def apply_stored(
    factory: sessionmaker[Session],
    *,
    deposit_id: int,
    config: ReceiptConfig,
    now: dt.datetime,
) -> Outcome | None:
    """Apply one deposit in its own transaction; a failure is kept on the row."""
    try:
        with transaction(factory) as session:
            return apply_deposit(session, deposit_id=deposit_id, config=config, now=now)
    except Exception as exc:
        log.exception("stp deposit not applied", extra={"deposit_id": deposit_id})
        _note_failure(factory, deposit_id, exc, now)
        return None


def run_pending_deposits(
    factory: sessionmaker[Session],
    *,
    config: ReceiptConfig,
    now: dt.datetime,
    older_than: dt.timedelta = dt.timedelta(seconds=30),
    limit: int = 500,
) -> int:
    """Apply deposits stored but never applied (a crash after the acknowledgement)."""
    with factory() as session:
        ids = session.scalars(
            select(StpDeposit.id)
            .where(
                StpDeposit.status == DepositStatus.RECEIVED,
                StpDeposit.received_at <= now - older_than,
            )
            .order_by(StpDeposit.id)
            .limit(limit)
        ).all()
    done = 0
    for deposit_id in ids:
        if apply_stored(factory, deposit_id=deposit_id, config=config, now=now):
            done += 1
    if ids:
        log.info("stp pending deposits run", extra={"found": len(ids), "done": done})
    return done


def received_ids(session: Session) -> list[int]:
    """Deposits stored but not applied yet, oldest first."""
    return list(
        session.scalars(
            select(StpDeposit.id)
            .where(StpDeposit.status == DepositStatus.RECEIVED)
            .order_by(StpDeposit.id)
        ).all()
    )


def unapplied_deposits(session: Session, *, business_id: int) -> Sequence[StpDeposit]:
    """What waits for the owner, oldest first."""
    return session.scalars(
        select(StpDeposit)
        .where(
            StpDeposit.business_id == business_id,
            StpDeposit.status == DepositStatus.UNAPPLIED,
        )
        .order_by(StpDeposit.received_at, StpDeposit.id)
    ).all()


def deposit_of(session: Session, *, business_id: int, deposit_id: int) -> StpDeposit:
    deposit = session.get(StpDeposit, deposit_id)
    if deposit is None or deposit.business_id != business_id:
        raise NotFound("No encontré ese depósito.")
    return deposit


def plan_assignment(
    session: Session, *, deposit: StpDeposit, contact: Contact
) -> list[Allocation]:
    """How a waiting deposit would be applied to this customer (nothing changes)."""
    if deposit.status != DepositStatus.UNAPPLIED:
        raise MoneyRuleViolation("Ese depósito ya no está pendiente.")
    invoices = _open_invoices(session, contact, deposit.currency)
    return _allocate(invoices, deposit.amount)


def assign_deposit(
    session: Session,
    *,
    deposit: StpDeposit,
    contact: Contact,
    config: ReceiptConfig,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> Payment:
    """The owner's answer: the waiting deposit is this customer's payment."""
    session.refresh(deposit, with_for_update=True)
    if deposit.status != DepositStatus.UNAPPLIED:
        raise MoneyRuleViolation("Ese depósito ya no está pendiente.")
    if (
        contact.kind != ContactKind.CUSTOMER
        or contact.business_id != deposit.business_id
    ):
        raise MoneyRuleViolation("Ese contacto no es cliente de este negocio.")
    invoices = _open_invoices(session, contact, deposit.currency)
    payment = _record(
        session, deposit, contact, invoices, actor=actor, channel=channel, now=now
    )
    deposit.contact_id = contact.id
    queue_payment_receipt(
        session,
        payment=payment,
        public_base_url=config.public_base_url,
        portal_key=config.portal_key,
        now=now,
    )
    return payment


def dismiss_deposit(
    session: Session, *, deposit: StpDeposit, actor: str, channel: str, now: dt.datetime
) -> None:
    """The owner says the deposit is not a customer's payment; it stays on record."""
    if deposit.status != DepositStatus.UNAPPLIED:
        raise MoneyRuleViolation("Ese depósito ya no está pendiente.")
    deposit.status = DepositStatus.DISMISSED
    assert deposit.business_id is not None
    audit(
        session,
        business_id=deposit.business_id,
        actor=actor,
        channel=channel,
        action="stp_deposit.dismissed",
        subject=f"stp_deposit:{deposit.id}",
        data={"amount": str(deposit.amount), "clave_rastreo": deposit.clave_rastreo},
        now=now,
    )


def describe_deposit(deposit: StpDeposit, *, today: dt.date | None = None) -> str:
    """`$3,000.00 del 3 dic de JUAN PEREZ (cuenta ••••1234, rastreo ABC123)`."""
    who = f" de {deposit.payer_name}" if deposit.payer_name else ""
    account = (
        f"cuenta {mask_clabe(deposit.payer_account)}, " if deposit.payer_account else ""
    )
    return (
        f"{money(deposit.amount, deposit.currency)} del "
        f"{short_date(deposit.fecha_operacion, today=today)}{who} "
        f"({account}rastreo {deposit.clave_rastreo})"
    )


def applied_text(contact: Contact, payment: Payment) -> str:
    """`Acme te pagó $12,500.00, aplicado a A-102 y A-105`."""
    labels = [a.invoice.label for a in payment.allocations]
    return (
        f"{contact.display_name} te pagó "
        f"{money(payment.amount, payment.currency)}, aplicado a {join_labels(labels)}."
    )


def join_labels(labels: Sequence[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " y " + labels[-1]


# --- inside the steps --------------------------------------------------------


def _owner_of_account(
    session: Session, account: str
) -> tuple[Business | None, Contact | None]:
    """The customer whose virtual CLABE received it, else the business it belongs to."""
    contacts = session.scalars(
        select(Contact).where(
            Contact.virtual_clabe == account, Contact.kind == ContactKind.CUSTOMER
        )
    ).all()
    if len(contacts) == 1:
        contact = contacts[0]
        return session.get(Business, contact.business_id), contact
    if len(contacts) > 1:
        log.warning(
            "virtual clabe shared by businesses", extra={"count": len(contacts)}
        )
        return None, None
    business = session.scalars(
        select(Business).where(Business.clabe == account).order_by(Business.id)
    ).first()
    return business, None


def _open_invoices(session: Session, contact: Contact, currency: str) -> list[Invoice]:
    invoices = repo.open_invoices(
        session,
        business_id=contact.business_id,
        direction=Direction.RECEIVABLE,
        contact_id=contact.id,
        for_update=True,
    )
    return [i for i in invoices if i.currency == currency and i.balance > 0]


def _allocate(invoices: Sequence[Invoice], amount: Decimal) -> list[Allocation]:
    exact = exact_match(invoices, amount)
    if exact is not None:
        return [Allocation(exact, amount)]
    return propose_allocation(invoices, amount)


def _record(
    session: Session,
    deposit: StpDeposit,
    contact: Contact,
    invoices: Sequence[Invoice],
    *,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> Payment:
    payment = record_payment(
        session,
        contact=contact,
        amount=deposit.amount,
        currency=deposit.currency,
        paid_at=deposit.settled_at or now,
        allocations=_allocate(invoices, deposit.amount),
        source=SOURCE,
        actor=actor,
        channel=channel,
        now=now,
        method=SPEI_METHOD,
        reference=deposit.clave_rastreo,
        idempotency_key=(
            f"stp:{deposit.clave_rastreo}:{deposit.fecha_operacion:%Y%m%d}"
        ),
    )
    deposit.status = DepositStatus.APPLIED
    deposit.reason = None
    deposit.payment_id = payment.id
    deposit.applied_at = now
    return payment


def _keep_unapplied(
    session: Session,
    deposit: StpDeposit,
    business: Business | None,
    reason: str,
    now: dt.datetime,
) -> Outcome:
    deposit.status = DepositStatus.UNAPPLIED
    deposit.reason = reason
    log.info(
        "stp deposit kept unapplied",
        extra={
            "business_id": business.id if business else None,
            "deposit_id": deposit.id,
            "reason": reason,
        },
    )
    if business is None:
        # Limitation: a deposit to an account of no business has nobody to ask; it
        # stays in stp_deposit for the operator (it is never dropped).
        return Outcome(deposit.id, deposit.status, reason=reason)
    today = local_date(now, business.timezone)
    text = (
        f"Recibí un depósito de {describe_deposit(deposit, today=today)} y no lo "
        f"apliqué: {REASONS[reason]}. Escribe «depósitos sin aplicar» para decirme "
        "de qué cliente es."
    )
    _tell_owner(
        session,
        business,
        text=text,
        dedupe_key=f"stp-deposit:{deposit.id}:unapplied",
        now=now,
    )
    return Outcome(deposit.id, deposit.status, reason=reason)


def _tell_owner(
    session: Session,
    business: Business,
    *,
    text: str,
    dedupe_key: str,
    now: dt.datetime,
) -> None:
    address = owner_address(session, business_id=business.id)
    if address is None:
        log.info(
            "owner notice not queued: no address", extra={"business_id": business.id}
        )
        return
    channel, recipient = address
    enqueue(
        session,
        business_id=business.id,
        channel=channel,
        recipient=recipient,
        template=OWNER_TEMPLATE,
        payload={
            "business_name": business.name,
            "contact_name": "",
            "text": text,
        },
        dedupe_key=dedupe_key,
        now=now,
    )


def tell_owner(
    session: Session,
    *,
    business: Business,
    text: str,
    dedupe_key: str,
    now: dt.datetime,
) -> None:
    """A short notice to the owner on their usual channel, once per dedupe key."""
    _tell_owner(session, business, text=text, dedupe_key=dedupe_key, now=now)


def _note_failure(
    factory: sessionmaker[Session], deposit_id: int, exc: Exception, now: dt.datetime
) -> None:
    with transaction(factory) as session:
        deposit = session.get(StpDeposit, deposit_id, with_for_update=True)
        if deposit is None or deposit.status != DepositStatus.RECEIVED:
            return
        deposit.attempts += 1
        deposit.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if deposit.attempts < MAX_ATTEMPTS:
            return
        business, _ = _owner_of_account(session, deposit.beneficiary_account)
        deposit.business_id = business.id if business else None
        _keep_unapplied(session, deposit, business, "error", now)
