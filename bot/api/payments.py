"""Payments: record one with its allocations (idempotent), list them."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from bot.api import queries
from bot.api.contacts import contact_of
from bot.api.core import (
    CONFLICT_RESPONSE,
    DEFAULT_PAGE,
    MAX_PAGE,
    CallerDep,
    amount,
    decode_cursor,
    encode_cursor,
    idempotent,
)
from bot.api.schemas import AllocationOut, Id, PaymentCreate, PaymentOut, PaymentPage
from flows import money, webhooks_out
from flows.errors import InvalidInput, NotFound
from flows.fmt import zone
from storage import repo
from storage.models import Business, Contact, Invoice, Payment, PaymentSource

log = logging.getLogger(__name__)
router = APIRouter(tags=["pagos"])
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def payment_out(payment: Payment) -> dict[str, Any]:
    return PaymentOut(
        id=payment.id,
        contact_id=payment.contact_id,
        direction=payment.direction,
        amount=amount(payment.amount) or "0.00",
        currency=payment.currency,
        paid_at=payment.paid_at,
        method=payment.method,
        reference=payment.reference,
        source=payment.source,
        complement_status=payment.complement_status,
        reversed_at=payment.reversed_at,
        allocations=[
            AllocationOut(invoice_id=a.invoice_id, amount=amount(a.amount) or "0.00")
            for a in payment.allocations
        ],
    ).model_dump(mode="json")


@router.get("/payments", response_model=PaymentPage, summary="Lista los pagos")
def list_payments(
    who: CallerDep,
    contact_id: Id | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    """Cobros y pagos registrados, por orden de registro."""
    after = decode_cursor(cursor)
    with who.transaction() as (session, business):
        query = queries.payments(business.id, contact_id=contact_id)
        rows, last = queries.page(session, query, Payment, after=after, limit=limit)
        items = [payment_out(p) for p in rows]
    return {"items": items, "next_cursor": encode_cursor(last) if last else None}


@router.post(
    "/payments",
    response_model=PaymentOut,
    status_code=201,
    responses=CONFLICT_RESPONSE,
    summary="Registra un pago",
)
def create_payment(
    who: CallerDep,
    body: PaymentCreate,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Obligatoria: la misma llave con el mismo cuerpo devuelve "
            "el primer pago; con otro cuerpo, 409.",
        ),
    ],
) -> JSONResponse:
    """Con las mismas reglas que el chat: no se paga de más ni se mezclan monedas.
    Sin `allocations`, el pago cubre las facturas más antiguas primero."""

    def act(session: Session, business: Business) -> tuple[int, dict[str, Any]]:
        contact = contact_of(session, business, body.contact_id)
        total = Decimal(body.amount)
        allocations = _allocations(session, business, contact, body, total)
        paid_at = _paid_at(body.paid_at, business, who.now())
        payment = money.record_payment(
            session,
            contact=contact,
            amount=total,
            currency=body.currency,
            paid_at=paid_at,
            allocations=allocations,
            source=PaymentSource.MANUAL,
            actor=who.actor,
            channel="api",
            now=who.now(),
            method=body.method,
            reference=body.reference,
            idempotency_key=payment_key(idempotency_key),
        )
        _after_payment(session, who, payment)
        return 201, payment_out(payment)

    return idempotent(
        who,
        key=idempotency_key,
        method="POST",
        path="/payments",
        body=body,
        action=act,
    )


def payment_key(header: str) -> str:
    """The payment's idempotency key, derived from the header (which may be long)."""
    digest = hashlib.sha256(header.strip().encode()).hexdigest()[:48]
    return f"api:{digest}"


def _allocations(
    session: Session,
    business: Business,
    contact: Contact,
    body: PaymentCreate,
    total: Decimal,
) -> list[money.Allocation]:
    direction = "receivable" if contact.kind == "customer" else "payable"
    if body.allocations is None:
        open_ = [
            i
            for i in repo.open_invoices(
                session,
                business_id=business.id,
                direction=direction,
                contact_id=contact.id,
                for_update=True,
            )
            if i.currency == body.currency
        ]
        return money.propose_allocation(open_, total)
    chosen: list[money.Allocation] = []
    seen: set[int] = set()
    for line in body.allocations:
        if line.invoice_id in seen:
            raise InvalidInput("Una factura aparece dos veces en `allocations`.")
        seen.add(line.invoice_id)
        invoice = session.get(Invoice, line.invoice_id, with_for_update=True)
        if invoice is None or invoice.business_id != business.id:
            raise NotFound(f"No existe la factura {line.invoice_id}.")
        if invoice.contact_id != contact.id:
            raise InvalidInput(
                f"La factura {invoice.label} no es de {contact.name}; no registré nada."
            )
        chosen.append(money.Allocation(invoice, Decimal(line.amount)))
    return chosen


def _paid_at(
    value: dt.datetime | None, business: Business, now: dt.datetime
) -> dt.datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(business.timezone))
    try:
        in_range = EARLIEST <= value <= LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidInput("La fecha del pago debe estar entre 2000 y 2100.")
    return value.astimezone(dt.UTC)


def _after_payment(session: Session, who: Any, payment: Payment) -> None:
    """The customer's receipt and the business's webhooks, as the chat does."""
    from flows.receipts import queue_payment_receipt

    if payment.direction == "in":
        queue_payment_receipt(
            session,
            payment=payment,
            public_base_url=who.runtime.settings.public_base_url,
            portal_key=who.runtime.portal_key,
            now=who.now(),
        )
    webhooks_out.emit_payment_recorded(session, payment=payment, now=who.now())
