"""Payment plans: a customer's balance split into monthly instalments.

A plan is proposed (by the owner, or asked for by the customer), approved by the
owner, accepted by the customer with one tap, then followed: its instalments fill
from the payments made to its invoices, earliest first, and are reminded by their
own dates instead of the invoices' due dates.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.errors import Conflict, InvalidInput, MoneyRuleViolation, NotFound
from flows.fmt import local_date, money, short_date, to_money
from flows.links import customer_channels
from flows.outbox import enqueue, owner_address
from storage import repo
from storage.models import (
    Business,
    Contact,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentPlan,
    PlanInstalment,
    PlanInvoice,
    PlanStatus,
)

log = logging.getLogger(__name__)

TEMPLATE = "plan_notice"
MIN_INSTALMENTS = 2
# Plans that hold their invoices: nobody may start a second one on them.
OPEN_STATUSES = (PlanStatus.REQUESTED, PlanStatus.OFFERED, PlanStatus.ACTIVE)
# When an instalment is reminded: days before its date, on it, and every week late.
DAYS_BEFORE = 3
LATE_EVERY_DAYS = 7
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Part:
    number: int
    due_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Draft:
    """A plan not stored yet: what the owner or customer is asked to agree to."""

    contact: Contact
    invoices: list[Invoice]
    currency: str
    total: Decimal
    parts: list[Part]

    def describe(self) -> str:
        return describe_parts(self.parts, self.currency)


# --- Arithmetic ------------------------------------------------------------------


def split(total: Decimal, count: int) -> list[Decimal]:
    """Equal parts to the cent; the last takes the remainder, so they add up."""
    if count < 1:
        raise InvalidInput("Un plan necesita al menos un pago.")
    total = to_money(total)
    each = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    return [each] * (count - 1) + [to_money(total - each * (count - 1))]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; the 31st becomes the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def monthly_dates(first: dt.date, count: int) -> list[dt.date]:
    return [add_months(first, n) for n in range(count)]


def describe_parts(parts: list[Part], currency: str) -> str:
    return "\n".join(
        f"{p.number}. {money(p.amount, currency)} el {short_date(p.due_date)}"
        for p in parts
    )


# --- Proposing -------------------------------------------------------------------


def draft_plan(
    session: Session,
    *,
    contact: Contact,
    instalments: int,
    today: dt.date,
    first_due: dt.date | None = None,
    invoice_ids: list[int] | None = None,
) -> Draft:
    """Split what the customer owes (or the invoices named) into monthly parts.

    The first part is due `first_due`, else a month from today. Refuses fewer than
    two parts, more than the business allows, invoices already in a plan, and
    balances in more than one currency.
    """
    business = session.get(Business, contact.business_id)
    assert business is not None
    if instalments < MIN_INSTALMENTS:
        raise InvalidInput("Un plan de pagos es de al menos 2 pagos.")
    if instalments > business.plans_max_instalments:
        raise InvalidInput(
            f"{business.name} da planes de hasta {business.plans_max_instalments} "
            "pagos."
        )

    open_ones = list(
        repo.open_invoices(
            session,
            business_id=contact.business_id,
            direction="receivable",
            contact_id=contact.id,
        )
    )
    if invoice_ids is not None:
        open_ones = [i for i in open_ones if i.id in set(invoice_ids)]
    taken = _invoices_in_open_plans(session, [i.id for i in open_ones])
    invoices = [i for i in open_ones if i.id not in taken and i.balance > 0]
    if not invoices:
        if taken:
            raise Conflict("Esas facturas ya están en un plan de pagos.")
        raise NotFound("No hay saldo pendiente para dividir en pagos.")
    currencies = {i.currency for i in invoices}
    if len(currencies) > 1:
        # Limitation: one currency per plan; a customer owing in pesos and dollars
        # gets one plan per currency, by naming the invoices.
        raise MoneyRuleViolation(
            "Hay saldo en pesos y en dólares; dime qué facturas entran al plan."
        )
    currency = currencies.pop()
    total = to_money(sum((i.balance for i in invoices), Decimal("0")))
    first = first_due or add_months(today, 1)
    if first < today:
        raise InvalidInput("El primer pago no puede ser en una fecha pasada.")
    amounts = split(total, instalments)
    if amounts[0] <= 0:
        raise InvalidInput("El saldo es muy pequeño para dividirlo en tantos pagos.")
    dates = monthly_dates(first, instalments)
    parts = [
        Part(n, day, amount)
        for n, (day, amount) in enumerate(zip(dates, amounts, strict=True), start=1)
    ]
    return Draft(contact, invoices, currency, total, parts)


def create_plan(
    session: Session,
    *,
    draft: Draft,
    status: PlanStatus,
    requested_by: str,
    channel: str,
    now: dt.datetime,
) -> PaymentPlan:
    """Store a draft as a plan (requested by the customer, or offered by the owner)."""
    contact = draft.contact
    if _invoices_in_open_plans(session, [i.id for i in draft.invoices]):
        raise Conflict("Esas facturas ya están en un plan de pagos.")
    plan = PaymentPlan(
        business_id=contact.business_id,
        contact_id=contact.id,
        status=status,
        currency=draft.currency,
        total=draft.total,
        requested_by=requested_by,
        created_at=now,
    )
    if status == PlanStatus.OFFERED:
        plan.approved_by, plan.approved_at = requested_by, now
    plan.instalments = [
        PlanInstalment(number=p.number, due_date=p.due_date, amount=p.amount)
        for p in draft.parts
    ]
    plan.invoices = [
        PlanInvoice(invoice_id=i.id, balance_at_start=i.balance) for i in draft.invoices
    ]
    session.add(plan)
    session.flush()
    _audit(session, plan, "plan.created", requested_by, channel, now)
    log.info(
        "payment plan created",
        extra={
            "business_id": plan.business_id,
            "plan_id": plan.id,
            "status": str(status),
            "instalments": len(draft.parts),
        },
    )
    return plan


def _invoices_in_open_plans(session: Session, invoice_ids: list[int]) -> set[int]:
    if not invoice_ids:
        return set()
    rows = session.scalars(
        select(PlanInvoice.invoice_id)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .where(
            PlanInvoice.invoice_id.in_(invoice_ids),
            PaymentPlan.status.in_(OPEN_STATUSES),
        )
    )
    return set(rows)


# --- Agreeing --------------------------------------------------------------------


def plan_of(session: Session, *, business_id: int, plan_id: int) -> PaymentPlan | None:
    plan = session.get(PaymentPlan, plan_id)
    if plan is None or plan.business_id != business_id:
        return None
    return plan


def approve_plan(
    session: Session, *, plan: PaymentPlan, actor: str, channel: str, now: dt.datetime
) -> None:
    """The owner agrees to a customer's request; the customer gets the offer."""
    if plan.status != PlanStatus.REQUESTED:
        raise Conflict("Ese plan ya no espera tu aprobación.")
    plan.status = PlanStatus.OFFERED
    plan.approved_by, plan.approved_at = actor, now
    _audit(session, plan, "plan.approved", actor, channel, now)
    send_offer(session, plan=plan, now=now)


def send_offer(session: Session, *, plan: PaymentPlan, now: dt.datetime) -> bool:
    """Queue the offer to the customer with its one-tap answers; False if nobody."""
    contact = plan.contact
    business = session.get(Business, plan.business_id)
    assert business is not None
    text = (
        f"{business.name} te ofrece pagar {money(plan.total, plan.currency)} en "
        f"{len(plan.instalments)} pagos:\n{_plan_lines(plan)}\n"
        "¿Lo aceptas? Toca «Acepto» para quedar de acuerdo."
    )
    buttons = [
        {"title": "Acepto", "payload": f"plan:{plan.id}:accept"},
        {"title": "No, gracias", "payload": f"plan:{plan.id}:decline"},
    ]
    return _to_customer(
        session,
        contact=contact,
        business=business,
        text=text,
        buttons=buttons,
        dedupe_key=f"plan:{plan.id}:offer",
        now=now,
    )


def accept_plan(
    session: Session,
    *,
    plan: PaymentPlan,
    contact: Contact,
    channel: str,
    now: dt.datetime,
) -> None:
    """The customer's tap: the plan is on, and the owner hears of it."""
    if plan.contact_id != contact.id:
        raise NotFound("No encontré ese plan de pagos.")
    if plan.status == PlanStatus.ACTIVE:
        return
    if plan.status != PlanStatus.OFFERED:
        raise Conflict("Ese plan de pagos ya no está disponible.")
    plan.status = PlanStatus.ACTIVE
    plan.accepted_at = now
    _audit(session, plan, "plan.accepted", f"contact:{contact.id}", channel, now)
    _to_owner(
        session,
        plan=plan,
        text=(
            f"{contact.display_name} aceptó pagar {money(plan.total, plan.currency)} "
            f"en {len(plan.instalments)} pagos:\n{_plan_lines(plan)}\n"
            "Sus recordatorios siguen estas fechas."
        ),
        dedupe_key=f"plan:{plan.id}:accepted",
        now=now,
    )


def decline_plan(
    session: Session, *, plan: PaymentPlan, actor: str, channel: str, now: dt.datetime
) -> None:
    """The customer turns an offer down, or the owner a request."""
    if plan.status not in (PlanStatus.REQUESTED, PlanStatus.OFFERED):
        raise Conflict("Ese plan de pagos ya no está disponible.")
    by_owner = plan.status == PlanStatus.REQUESTED
    plan.status = PlanStatus.DECLINED
    plan.closed_at = now
    _audit(session, plan, "plan.declined", actor, channel, now)
    contact = plan.contact
    if by_owner:
        business = session.get(Business, plan.business_id)
        assert business is not None
        _to_customer(
            session,
            contact=contact,
            business=business,
            text=(
                f"{business.name} no puede darte un plan de pagos por ahora; "
                "escríbeles si quieres platicarlo."
            ),
            buttons=[],
            dedupe_key=f"plan:{plan.id}:refused",
            now=now,
        )
    else:
        _to_owner(
            session,
            plan=plan,
            text=(
                f"{contact.display_name} no aceptó el plan de pagos; su saldo "
                "sigue igual."
            ),
            dedupe_key=f"plan:{plan.id}:declined",
            now=now,
        )


def active_plan(session: Session, *, contact_id: int) -> PaymentPlan | None:
    return session.scalar(
        select(PaymentPlan)
        .where(
            PaymentPlan.contact_id == contact_id,
            PaymentPlan.status == PlanStatus.ACTIVE,
        )
        .order_by(PaymentPlan.id.desc())
    )


def open_plan(session: Session, *, contact_id: int) -> PaymentPlan | None:
    """The contact's plan being asked, offered or followed, if any."""
    return session.scalar(
        select(PaymentPlan)
        .where(
            PaymentPlan.contact_id == contact_id,
            PaymentPlan.status.in_(OPEN_STATUSES),
        )
        .order_by(PaymentPlan.id.desc())
    )


# --- Following -------------------------------------------------------------------


def sync_plan(session: Session, *, plan: PaymentPlan, now: dt.datetime) -> None:
    """Fill the instalments from the payments made to the plan's invoices.

    Payments (and credit notes) count from the plan's creation, in the order they
    were made, each instalment up to its amount before the next: a payment applies
    to the earliest instalment first, and an instalment's `paid_at` is when the
    payment that completed it was made. A reversed payment un-fills.
    """
    invoice_ids = [pi.invoice_id for pi in plan.invoices]
    rows = session.execute(
        select(PaymentAllocation.amount, Payment.paid_at)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            PaymentAllocation.invoice_id.in_(invoice_ids),
            Payment.reversed_at.is_(None),
            Payment.created_at >= plan.created_at,
        )
        .order_by(Payment.paid_at, Payment.id)
    ).all()
    pending = [(to_money(amount), paid_at) for amount, paid_at in rows]
    for instalment in plan.instalments:
        instalment.paid, instalment.paid_at = Decimal("0.00"), None
    queue = list(plan.instalments)
    for amount, paid_at in pending:
        while amount > 0 and queue:
            instalment = queue[0]
            take = min(amount, instalment.amount - instalment.paid)
            instalment.paid = to_money(instalment.paid + take)
            amount -= take
            if instalment.paid >= instalment.amount:
                instalment.paid_at = paid_at
                queue.pop(0)

    cancelled = any(
        pi.invoice.status == InvoiceStatus.CANCELLED for pi in plan.invoices
    )
    owed = sum(
        (
            pi.invoice.balance
            for pi in plan.invoices
            if pi.invoice.status != InvoiceStatus.CANCELLED
        ),
        Decimal("0"),
    )
    if plan.status == PlanStatus.ACTIVE and (owed <= 0 or not queue):
        # Limitation: an invoice cancelled while in a plan simply leaves it; the
        # plan ends when what is left is paid, without re-splitting the parts.
        plan.status = PlanStatus.COMPLETED
        plan.closed_at = now
        log.info(
            "payment plan completed",
            extra={
                "business_id": plan.business_id,
                "plan_id": plan.id,
                "cancelled": cancelled,
            },
        )


def planned_invoice() -> Any:
    """SQL: the invoice is in an active plan, so its instalments are reminded instead.

    For the reminder planning's query over invoices (`~planned_invoice()`).
    """
    return exists().where(
        PlanInvoice.invoice_id == Invoice.id,
        PaymentPlan.id == PlanInvoice.plan_id,
        PaymentPlan.status == PlanStatus.ACTIVE,
    )


@dataclass
class InstalmentCounts:
    plans: int = 0
    reminders: int = 0
    late: int = 0
    completed: int = 0


def remind_instalments(
    factory: sessionmaker[Session],
    *,
    business_id: int,
    today: dt.date,
    now: dt.datetime,
) -> InstalmentCounts:
    """One business's instalment reminders for the day, in one transaction.

    An unpaid instalment is reminded `DAYS_BEFORE` days ahead, on its date, and
    every `LATE_EVERY_DAYS` once late; the first late reminder also tells the owner.
    Each stage is queued once (its dedupe key), so a second pass adds nothing.
    """
    counts = InstalmentCounts()
    with factory() as session, session.begin():
        business = session.get(Business, business_id)
        assert business is not None
        plans = session.scalars(
            select(PaymentPlan)
            .where(
                PaymentPlan.business_id == business_id,
                PaymentPlan.status == PlanStatus.ACTIVE,
            )
            .order_by(PaymentPlan.id)
        ).all()
        for plan in plans:
            counts.plans += 1
            sync_plan(session, plan=plan, now=now)
            if plan.status == PlanStatus.COMPLETED:
                counts.completed += 1
                continue
            contact = plan.contact
            if not contact.reminders_enabled:
                continue
            for instalment in plan.instalments:
                if instalment.paid >= instalment.amount:
                    continue
                stage = _stage(instalment, today)
                if stage is None:
                    continue
                if _remind(session, business, plan, instalment, stage, today, now):
                    counts.reminders += 1
                if stage.startswith("late") and instalment.late_notified_at is None:
                    instalment.late_notified_at = now
                    counts.late += 1
                    _to_owner(
                        session,
                        plan=plan,
                        text=(
                            f"{contact.display_name} no ha cubierto el pago "
                            f"{instalment.number} de {len(plan.instalments)} de su "
                            f"plan ({money(_left(instalment), plan.currency)}, "
                            f"vencía el {short_date(instalment.due_date)}). Ya le "
                            "mandé un recordatorio."
                        ),
                        dedupe_key=f"plan:{plan.id}:{instalment.number}:late-owner",
                        now=now,
                    )
    log.info(
        "instalments reminded",
        extra={
            "business_id": business_id,
            "plans": counts.plans,
            "reminders": counts.reminders,
            "late": counts.late,
        },
    )
    return counts


def _stage(instalment: PlanInstalment, today: dt.date) -> str | None:
    days = (today - instalment.due_date).days
    if days > 0:
        return f"late-{(days - 1) // LATE_EVERY_DAYS}"
    if days == 0:
        return "due"
    if -days <= DAYS_BEFORE:
        return "upcoming"
    return None


def _remind(
    session: Session,
    business: Business,
    plan: PaymentPlan,
    instalment: PlanInstalment,
    stage: str,
    today: dt.date,
    now: dt.datetime,
) -> bool:
    amount = money(_left(instalment), plan.currency)
    which = f"el pago {instalment.number} de {len(plan.instalments)} de tu plan"
    if stage == "upcoming":
        text = f"Te recordamos que {which} ({amount}) vence el " + short_date(
            instalment.due_date
        )
    elif stage == "due":
        text = f"Hoy vence {which}: {amount}"
    else:
        days = (today - instalment.due_date).days
        text = (
            f"Tienes pendiente {which}: {amount}, vencido hace {days} "
            f"{'día' if days == 1 else 'días'}"
        )
    text = f"{business.name}: {text}. Escribe «link» para ver cómo pagar."
    return _to_customer(
        session,
        contact=plan.contact,
        business=business,
        text=text,
        buttons=[],
        dedupe_key=f"plan:{plan.id}:{instalment.number}:{stage}",
        now=now,
    )


def _left(instalment: PlanInstalment) -> Decimal:
    return to_money(instalment.amount - instalment.paid)


# --- Showing ---------------------------------------------------------------------


def plan_view(
    session: Session, *, contact: Contact, now: dt.datetime, tz: str
) -> dict[str, Any] | None:
    """The customer's active plan as the portal and the chat show it, or None."""
    plan = active_plan(session, contact_id=contact.id)
    if plan is None:
        return None
    sync_plan(session, plan=plan, now=now)
    today = local_date(now, tz)
    parts = []
    for instalment in plan.instalments:
        done = instalment.paid >= instalment.amount
        parts.append(
            {
                "number": instalment.number,
                "due_date": instalment.due_date.isoformat(),
                "amount": str(instalment.amount),
                "paid": str(instalment.paid),
                "status": "paid"
                if done
                else ("late" if instalment.due_date < today else "pending"),
            }
        )
    upcoming = next((p for p in parts if p["status"] != "paid"), None)
    return {
        "plan_id": plan.id,
        "status": str(plan.status),
        "currency": plan.currency,
        "total": str(plan.total),
        "invoices": [pi.invoice.label for pi in plan.invoices],
        "instalments": parts,
        "next": upcoming,
    }


def plan_summary(plan: PaymentPlan) -> str:
    """The plan's parts, one per line, with what is paid."""
    return _plan_lines(plan)


def _plan_lines(plan: PaymentPlan) -> str:
    lines = []
    for p in plan.instalments:
        mark = " ✅" if p.paid >= p.amount else ""
        lines.append(
            f"{p.number}. {money(p.amount, plan.currency)} el "
            f"{short_date(p.due_date)}{mark}"
        )
    return "\n".join(lines)


# --- Messages --------------------------------------------------------------------


def _to_customer(
    session: Session,
    *,
    contact: Contact,
    business: Business,
    text: str,
    buttons: list[dict[str, str]],
    dedupe_key: str,
    now: dt.datetime,
) -> bool:
    """Queue a note to the customer's first reachable channel."""
    options = customer_channels(contact)
    if not options:
        log.warning(
            "customer unreachable; plan note not queued",
            extra={"business_id": contact.business_id, "contact_id": contact.id},
        )
        return False
    channel, recipient = options[0]
    # Limitation: outside WhatsApp's 24-hour window a free-text message needs an
    # approved template; `plan_notice` must be registered in WHATSAPP_TEMPLATES
    # for offers and reminders to reach a customer who has not written lately.
    row = enqueue(
        session,
        business_id=contact.business_id,
        contact_id=contact.id,
        channel=channel,
        recipient=recipient,
        template=TEMPLATE,
        payload={
            "kind": "plan",
            "business_name": business.name,
            "contact_name": contact.display_name,
            "subject": f"{business.name}: tu plan de pagos",
            "text": text,
            "buttons": buttons,
        },
        dedupe_key=dedupe_key,
        now=now,
    )
    return row is not None


def _to_owner(
    session: Session,
    *,
    plan: PaymentPlan,
    text: str,
    dedupe_key: str,
    now: dt.datetime,
    buttons: list[dict[str, str]] | None = None,
) -> bool:
    address = owner_address(session, business_id=plan.business_id)
    if address is None:
        log.warning(
            "owner unreachable; plan notice not queued",
            extra={"business_id": plan.business_id, "plan_id": plan.id},
        )
        return False
    channel, recipient = address
    row = enqueue(
        session,
        business_id=plan.business_id,
        channel=channel,
        recipient=recipient,
        template=TEMPLATE,
        payload={
            "kind": "plan",
            "business_name": plan.contact.business.name,
            "contact_name": plan.contact.display_name,
            "subject": "Plan de pagos",
            "text": text,
            "buttons": buttons or [],
        },
        dedupe_key=dedupe_key,
        now=now,
    )
    return row is not None


def ask_owner(session: Session, *, plan: PaymentPlan, now: dt.datetime) -> bool:
    """A customer's request reaches the owner with Aprobar / Rechazar."""
    return _to_owner(
        session,
        plan=plan,
        text=(
            f"{plan.contact.display_name} pide pagar "
            f"{money(plan.total, plan.currency)} en "
            f"{len(plan.instalments)} pagos:\n{_plan_lines(plan)}\n¿Lo apruebas?"
        ),
        buttons=[
            {"title": "Aprobar", "payload": f"plan:{plan.id}:approve"},
            {"title": "Rechazar", "payload": f"plan:{plan.id}:reject"},
        ],
        dedupe_key=f"plan:{plan.id}:request",
        now=now,
    )


def _audit(
    session: Session,
    plan: PaymentPlan,
    action: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    audit(
        session,
        business_id=plan.business_id,
        actor=actor,
        channel=channel,
        action=action,
        subject=f"payment_plan:{plan.id}",
        data={
            "contact_id": plan.contact_id,
            "total": str(plan.total),
            "currency": plan.currency,
            "instalments": len(plan.instalments),
        },
        now=now,
    )
