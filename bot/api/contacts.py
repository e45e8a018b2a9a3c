"""Contacts: list, read, create, update and bulk upsert by RFC."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from bot.api import queries
from bot.api.core import (
    CONFLICT_RESPONSE,
    DEFAULT_PAGE,
    MAX_PAGE,
    CallerDep,
    decode_cursor,
    encode_cursor,
    idempotent,
)
from bot.api.schemas import (
    BulkResult,
    ContactBulk,
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactUpdate,
    Id,
    Kind,
)
from flows import business as flows
from flows.contact_import import ContactRow, apply_rows
from flows.errors import Conflict, NotFound
from flows.fmt import validate_rfc
from storage import repo
from storage.models import Business, Contact

router = APIRouter(tags=["contactos"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repetir con la misma llave devuelve la primera respuesta.",
    ),
]


def contact_out(contact: Contact) -> dict[str, Any]:
    return ContactOut(
        id=contact.id,
        kind=contact.kind,
        rfc=contact.rfc,
        name=contact.name,
        trade_name=contact.trade_name,
        emails=contact.email_list,
        whatsapp=contact.whatsapp,
        terms_days=contact.terms_days,
        reminders_enabled=contact.reminders_enabled,
        whatsapp_reminders=contact.whatsapp_reminders,
        whatsapp_opted_out=contact.whatsapp_opted_out,
        reminder_set_id=contact.reminder_set_id,
        virtual_clabe=contact.virtual_clabe,
        created_at=contact.created_at,
    ).model_dump(mode="json")


def contact_of(session: Session, business: Business, contact_id: int) -> Contact:
    """The business's contact, else 404 (another business's contact looks absent)."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.business_id != business.id:
        raise NotFound("No existe ese contacto.")
    return contact


@router.get("/contacts", response_model=ContactPage, summary="Lista los contactos")
def list_contacts(
    who: CallerDep,
    kind: Kind | None = None,
    rfc: Annotated[str | None, Query(max_length=13)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    """Clientes y proveedores del negocio, por orden de alta, página por página."""
    after = decode_cursor(cursor)
    with who.transaction() as (session, business):
        query = queries.contacts(business.id, kind=kind, rfc=rfc)
        rows, last = queries.page(session, query, Contact, after=after, limit=limit)
        items = [contact_out(c) for c in rows]
    return {"items": items, "next_cursor": encode_cursor(last) if last else None}


@router.get(
    "/contacts/{contact_id}", response_model=ContactOut, summary="Lee un contacto"
)
def get_contact(who: CallerDep, contact_id: Id) -> dict[str, Any]:
    with who.transaction() as (session, business):
        return contact_out(contact_of(session, business, contact_id))


@router.post(
    "/contacts",
    response_model=ContactOut,
    status_code=201,
    responses=CONFLICT_RESPONSE,
    summary="Da de alta un contacto",
)
def create_contact(
    who: CallerDep, body: ContactCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Un cliente o proveedor nuevo; si ya existe ese RFC, responde 409."""

    def act(session: Session, business: Business) -> tuple[int, dict[str, Any]]:
        rfc = validate_rfc(body.rfc)
        if repo.contact_by_rfc(
            session, business_id=business.id, rfc=rfc, kind=body.kind
        ):
            raise Conflict(f"Ya existe un contacto con RFC {rfc}.")
        contact, _ = flows.get_or_create_contact(
            session,
            business=business,
            kind=body.kind,
            rfc=rfc,
            name=body.name,
            now=who.now(),
        )
        flows.update_contact(
            session,
            contact=contact,
            actor=who.actor,
            channel="api",
            now=who.now(),
            whatsapp=body.whatsapp,
            email=body.email,
            terms_days=body.terms_days,
            whatsapp_reminders=body.whatsapp_reminders,
        )
        session.flush()
        return 201, contact_out(contact)

    return idempotent(
        who,
        key=idempotency_key,
        method="POST",
        path="/contacts",
        body=body,
        action=act,
    )


@router.patch(
    "/contacts/{contact_id}", response_model=ContactOut, summary="Cambia un contacto"
)
def update_contact(
    who: CallerDep, contact_id: Id, body: ContactUpdate
) -> dict[str, Any]:
    """Canales, cuenta, crédito y recordatorios; lo que no se envía no cambia."""
    with who.transaction() as (session, business):
        contact = contact_of(session, business, contact_id)
        flows.update_contact(
            session,
            contact=contact,
            actor=who.actor,
            channel="api",
            now=who.now(),
            whatsapp=body.whatsapp,
            email=body.email,
            clabe=body.clabe,
            terms_days=body.terms_days,
            whatsapp_reminders=body.whatsapp_reminders,
        )
        if body.reminders_enabled is not None:
            flows.set_contact_reminders(
                session,
                contact=contact,
                enabled=body.reminders_enabled,
                actor=who.actor,
                channel="api",
                now=who.now(),
            )
        session.flush()
        return contact_out(contact)


@router.post(
    "/contacts/bulk",
    response_model=BulkResult,
    responses=CONFLICT_RESPONSE,
    summary="Alta o cambio de muchos contactos por RFC",
)
def bulk_contacts(
    who: CallerDep, body: ContactBulk, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cada renglón se aplica por su cuenta: los inválidos se reportan con su
    posición y motivo, y los buenos se guardan."""

    def act(session: Session, business: Business) -> tuple[int, dict[str, Any]]:
        rows = [
            ContactRow(line, _bulk_values(row.model_dump(exclude_none=True)))
            for line, row in enumerate(body.contacts, start=1)
        ]
        result = apply_rows(
            session,
            business=business,
            rows=rows,
            actor=who.actor,
            channel="api",
            now=who.now(),
        )
        return 200, result.as_dict()

    return idempotent(
        who,
        key=idempotency_key,
        method="POST",
        path="/contacts/bulk",
        body=body,
        action=act,
    )


def _bulk_values(row: dict[str, Any]) -> dict[str, Any]:
    values = dict(row)
    if "emails" in values:
        values["emails"] = ",".join(values["emails"])
        if not values["emails"]:
            del values["emails"]
    if "reminders_enabled" in values:
        values["reminders"] = values.pop("reminders_enabled")
    kind = values.get("kind")
    if kind is not None:
        values["kind"] = "cliente" if kind == "customer" else "proveedor"
    return values
