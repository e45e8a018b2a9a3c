"""Payment links, balances and aging, reminders, and webhook endpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from bot.api import queries
from bot.api.contacts import contact_of
from bot.api.core import CONFLICT_RESPONSE, CallerDep, amount, idempotent
from bot.api.schemas import (
    AgingLine,
    AgingOut,
    BalanceLine,
    BalanceOut,
    ContactOut,
    ContactReminders,
    Id,
    LinkCreate,
    LinkOut,
    ReminderSetAssign,
    RemindersState,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from flows import business as flows
from flows import webhooks_out
from flows.errors import InvalidInput, NotFound
from flows.fmt import local_date
from storage import repo
from storage.models import Business, Invoice, WebhookEndpoint

router = APIRouter()
Direction = Literal["receivable", "payable"]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repetir con la misma llave devuelve la primera respuesta.",
    ),
]


# --- Payment links ------------------------------------------------------------


@router.post(
    "/payment-links",
    response_model=LinkOut,
    status_code=201,
    responses=CONFLICT_RESPONSE,
    tags=["links de pago"],
    summary="Crea un link de pago",
)
def create_link(
    who: CallerDep, body: LinkCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """El link al portal del cliente, para un cliente, una factura o un monto.

    Es el mismo link que el chat envía; mientras no se revoque, no cambia.
    """

    def act(session: Session, business: Business) -> tuple[int, dict[str, Any]]:
        invoice = None
        if body.invoice_id is not None:
            invoice = session.get(Invoice, body.invoice_id)
            if invoice is None or invoice.business_id != business.id:
                raise NotFound("No existe esa factura.")
        contact_id = body.contact_id or (invoice.contact_id if invoice else None)
        if contact_id is None:
            raise InvalidInput("Indica el cliente (contact_id) o la factura.")
        if invoice is not None and invoice.contact_id != contact_id:
            raise InvalidInput("La factura no es de ese cliente.")
        contact = contact_of(session, business, contact_id)
        if contact.kind != "customer":
            raise InvalidInput("Los links de pago son para clientes.")
        token = flows.portal_token(
            session, contact=contact, key=who.runtime.portal_key, now=who.now()
        )
        url = flows.portal_url(who.runtime.settings.public_base_url, token)
        # Limitation: the invoice and amount travel as query parameters of the
        # customer's portal link; the portal shows all of the customer's open
        # invoices and may ignore them.
        query = {}
        if invoice is not None:
            query["factura"] = str(invoice.id)
        if body.amount is not None:
            query["monto"] = amount(Decimal(body.amount)) or ""
        if query:
            url = f"{url}?{urlencode(query)}"
        answer = LinkOut(
            contact_id=contact.id,
            invoice_id=invoice.id if invoice else None,
            amount=query.get("monto"),
            url=url,
        )
        return 201, answer.model_dump(mode="json")

    return idempotent(
        who,
        key=idempotency_key,
        method="POST",
        path="/payment-links",
        body=body,
        action=act,
    )


@router.delete(
    "/payment-links/{contact_id}",
    status_code=204,
    tags=["links de pago"],
    summary="Revoca los links de pago de un cliente",
)
def revoke_link(who: CallerDep, contact_id: Id) -> Response:
    """El link actual del cliente deja de funcionar; el siguiente será otro."""
    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        flows.revoke_portal_token(
            session, contact=contact, actor=who.actor, channel="api", now=who.now()
        )
    return Response(status_code=204)


# --- Balances and aging -------------------------------------------------------


def _balance(
    session: Session,
    business: Business,
    direction: str,
    contact_id: int | None,
    now: Any,
) -> dict[str, Any]:
    today = local_date(now, business.timezone)
    totals = repo.balance_totals(
        session,
        business_id=business.id,
        direction=direction,
        today=today,
        contact_id=contact_id,
    )
    return BalanceOut(
        direction=direction,
        as_of=today,
        contact_id=contact_id,
        totals=[
            BalanceLine(
                currency=currency,
                open=amount(open_) or "0.00",
                overdue=amount(late) or "0.00",
                invoices=count,
            )
            for currency, (open_, late, count) in totals.items()
        ],
    ).model_dump(mode="json")


def _aging(
    aging: dict[str, dict[str, Decimal]],
    direction: str,
    today: Any,
    contact_id: int | None,
) -> dict[str, Any]:
    return AgingOut(
        direction=direction,
        as_of=today,
        contact_id=contact_id,
        totals=[
            AgingLine(
                currency=currency,
                buckets={name: amount(v) or "0.00" for name, v in buckets.items()},
            )
            for currency, buckets in sorted(aging.items())
        ],
    ).model_dump(mode="json")


@router.get(
    "/balances", response_model=BalanceOut, tags=["saldos"], summary="Saldo total"
)
def balance(who: CallerDep, direction: Direction = "receivable") -> dict[str, Any]:
    """Lo que te deben (`receivable`) o lo que debes (`payable`), por moneda."""
    with who.transaction() as (session, business):
        return _balance(session, business, direction, None, who.now())


@router.get(
    "/contacts/{contact_id}/balance",
    response_model=BalanceOut,
    tags=["saldos"],
    summary="Saldo de un contacto",
)
def contact_balance(
    who: CallerDep, contact_id: Id, direction: Direction | None = None
) -> dict[str, Any]:
    """Sin `direction`: por cobrar si es cliente, por pagar si es proveedor."""
    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        side = direction or _side(contact.kind)
        return _balance(session, business, side, contact.id, who.now())


@router.get(
    "/aging", response_model=AgingOut, tags=["saldos"], summary="Antigüedad de saldos"
)
def aging(who: CallerDep, direction: Direction = "receivable") -> dict[str, Any]:
    """Saldo abierto por días de atraso: al corriente, 1-30, 31-60, 61-90, 90+."""
    with who.transaction() as (session, business):
        today = local_date(who.now(), business.timezone)
        totals = repo.aging_totals(
            session, business_id=business.id, direction=direction, today=today
        )
        return _aging(totals, direction, today, None)


@router.get(
    "/contacts/{contact_id}/aging",
    response_model=AgingOut,
    tags=["saldos"],
    summary="Antigüedad de saldos de un contacto",
)
def contact_aging(
    who: CallerDep, contact_id: Id, direction: Direction | None = None
) -> dict[str, Any]:
    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        side = direction or _side(contact.kind)
        today = local_date(who.now(), business.timezone)
        totals = queries.contact_aging(
            session,
            business_id=business.id,
            contact_id=contact.id,
            direction=side,
            today=today,
        )
        return _aging(totals, side, today, contact.id)


def _side(kind: str) -> str:
    return "receivable" if kind == "customer" else "payable"


# --- Reminders ----------------------------------------------------------------


@router.post(
    "/reminders/pause",
    response_model=RemindersState,
    tags=["recordatorios"],
    summary="Pausa los recordatorios del negocio",
)
def pause_reminders(who: CallerDep) -> dict[str, Any]:
    return _set_paused(who, True)


@router.post(
    "/reminders/resume",
    response_model=RemindersState,
    tags=["recordatorios"],
    summary="Reanuda los recordatorios del negocio",
)
def resume_reminders(who: CallerDep) -> dict[str, Any]:
    return _set_paused(who, False)


def _set_paused(who: CallerDep, paused: bool) -> dict[str, Any]:
    with who.transaction() as (session, business):
        flows.set_reminders_paused(
            session,
            business=business,
            paused=paused,
            actor=who.actor,
            channel="api",
            now=who.now(),
        )
        return {"paused": business.reminders_paused}


@router.put(
    "/contacts/{contact_id}/reminders",
    response_model=ContactOut,
    tags=["recordatorios"],
    summary="Activa o apaga los recordatorios de un cliente",
)
def contact_reminders(
    who: CallerDep, contact_id: Id, body: ContactReminders
) -> dict[str, Any]:
    from bot.api.contacts import contact_out

    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        flows.set_contact_reminders(
            session,
            contact=contact,
            enabled=body.enabled,
            actor=who.actor,
            channel="api",
            now=who.now(),
        )
        return contact_out(contact)


@router.put(
    "/contacts/{contact_id}/reminder-set",
    response_model=ContactOut,
    tags=["recordatorios"],
    summary="Asigna un conjunto de recordatorios a un cliente",
)
def contact_reminder_set(
    who: CallerDep, contact_id: Id, body: ReminderSetAssign
) -> dict[str, Any]:
    """El conjunto se nombra como en el chat, p. ej. «Estándar»."""
    from bot.api.contacts import contact_out
    from flows.reminders import assign_reminder_set, reminder_set_by_name

    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        found = reminder_set_by_name(session, business=business, name=body.name)
        if found is None:
            raise NotFound(f"No existe el conjunto de recordatorios «{body.name}».")
        assign_reminder_set(
            session,
            business=business,
            reminder_set=found,
            contacts=[contact],
            now=who.now(),
            actor=who.actor,
            channel="api",
        )
        session.flush()
        return contact_out(contact)


# --- Webhook endpoints --------------------------------------------------------


def webhook_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=webhooks_out.endpoint_events(endpoint),
        created_at=endpoint.created_at,
        disabled_at=endpoint.disabled_at,
    ).model_dump(mode="json")


@router.get(
    "/webhooks",
    response_model=list[WebhookOut],
    tags=["webhooks"],
    summary="Lista los webhooks activos",
)
def list_webhooks(who: CallerDep) -> list[dict[str, Any]]:
    with who.transaction() as (session, business):
        return [
            webhook_out(e) for e in webhooks_out.endpoints(session, business=business)
        ]


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    tags=["webhooks"],
    summary="Registra un webhook",
)
def create_webhook(who: CallerDep, body: WebhookCreate) -> dict[str, Any]:
    """Cada entrega lleva `Cobra-Event-Id`, `Cobra-Event`, `Cobra-Timestamp` y
    `Cobra-Signature: v1=<hex>`, el HMAC-SHA256 de `<timestamp>.<cuerpo>` con el
    secreto que se devuelve aquí una sola vez."""
    with who.transaction() as (session, business):
        endpoint = webhooks_out.add_endpoint(
            session,
            business=business,
            url=body.url,
            events=body.events,
            actor=who.actor,
            channel="api",
            now=who.now(),
        )
        return {**webhook_out(endpoint), "secret": endpoint.secret}


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    tags=["webhooks"],
    summary="Da de baja un webhook",
)
def delete_webhook(who: CallerDep, webhook_id: Id) -> Response:
    with who.transaction() as (session, business):
        webhooks_out.disable_endpoint(
            session,
            business=business,
            endpoint_id=webhook_id,
            actor=who.actor,
            channel="api",
            now=who.now(),
        )
    return Response(status_code=204)
