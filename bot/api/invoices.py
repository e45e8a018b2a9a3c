"""Invoices: list with filters, read one, import CFDI XML."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from bot.api import queries
from bot.api.core import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ApiError,
    CallerDep,
    amount,
    decode_cursor,
    encode_cursor,
    problem_response,
)
from bot.api.schemas import CfdiImportResult, Id, InvoiceOut, InvoicePage
from flows.cfdi.ingest import import_sources
from flows.errors import NotFound
from storage.models import Invoice

router = APIRouter(tags=["facturas"])
MAX_XML_BYTES = 2 * 1024 * 1024


def invoice_out(invoice: Invoice) -> dict[str, Any]:
    return InvoiceOut(
        id=invoice.id,
        contact_id=invoice.contact_id,
        direction=invoice.direction,
        uuid=invoice.uuid,
        series=invoice.series,
        folio=invoice.folio,
        label=invoice.label,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        total=amount(invoice.total) or "0.00",
        paid=amount(invoice.paid) or "0.00",
        balance=amount(invoice.balance) or "0.00",
        payment_method=invoice.payment_method,
        status=invoice.status,
        source=invoice.source,
    ).model_dump(mode="json")


@router.get("/invoices", response_model=InvoicePage, summary="Lista las facturas")
def list_invoices(
    who: CallerDep,
    status: Literal["pending", "paid", "cancelled"] | None = None,
    direction: Literal["receivable", "payable"] | None = None,
    contact_id: Id | None = None,
    due_from: Annotated[
        dt.date | None, Query(description="Vencen en o después de esta fecha.")
    ] = None,
    due_to: Annotated[
        dt.date | None, Query(description="Vencen en o antes de esta fecha.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    """Facturas del negocio por estado, contacto y fechas de vencimiento."""
    after = decode_cursor(cursor)
    with who.transaction() as (session, business):
        query = queries.invoices(
            business.id,
            status=status,
            direction=direction,
            contact_id=contact_id,
            due_from=due_from,
            due_to=due_to,
        )
        rows, last = queries.page(session, query, Invoice, after=after, limit=limit)
        items = [invoice_out(i) for i in rows]
    return {"items": items, "next_cursor": encode_cursor(last) if last else None}


@router.get(
    "/invoices/{invoice_id}", response_model=InvoiceOut, summary="Lee una factura"
)
def get_invoice(who: CallerDep, invoice_id: Id) -> dict[str, Any]:
    with who.transaction() as (session, business):
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.business_id != business.id:
            raise NotFound("No existe esa factura.")
        return invoice_out(invoice)


@router.post(
    "/invoices/import",
    response_model=CfdiImportResult,
    summary="Importa un CFDI 4.0 en XML",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "El XML del CFDI (factura, nota de crédito o "
            "complemento de pago); idempotente por UUID.",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    },
    responses={
        413: problem_response("El XML pasa de 2 MB."),
        415: problem_response("El cuerpo no es XML."),
    },
)
async def import_cfdi(who: CallerDep, request: Request) -> dict[str, Any]:
    """Lo mismo que `cobra import-cfdi`: cuenta importados, duplicados y rechazados."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/xml", "text/xml"):
        raise ApiError(415, "Envía el CFDI como application/xml.")
    data = await request.body()
    if len(data) > MAX_XML_BYTES:
        raise ApiError(413, "El XML pasa de 2 MB.")
    report = await run_in_threadpool(
        import_sources,
        who.runtime.factory,
        business_id=who.business_id,
        sources=[("api.xml", data)],
        now=who.now(),
        actor=who.actor,
        channel="api",
    )
    return report.as_dict()
