"""The API's request and response bodies, described in Spanish for its readers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Amount = Annotated[
    str,
    Field(
        pattern=r"^\d{1,15}(\.\d{1,2})?$",
        description="Monto en cadena decimal, hasta 2 decimales: `1160.00`.",
        examples=["1160.00"],
    ),
]
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="Moneda ISO 4217.", examples=["MXN"])
]
Id = Annotated[int, Field(ge=1, le=2**31 - 1, description="Identificador.")]
Rfc = Annotated[str, Field(min_length=12, max_length=13, description="RFC.")]
Kind = Literal["customer", "supplier"]


def _utc(value: dt.datetime) -> dt.datetime:
    """Stored times are UTC; SQLite hands them back without their zone."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


Moment = Annotated[dt.datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    next_cursor: str | None = Field(
        description="Cursor de la página siguiente; nulo en la última."
    )


# --- Contacts -----------------------------------------------------------------


class ContactOut(BaseModel):
    id: int
    kind: str = Field(description="`customer` (cliente) o `supplier` (proveedor).")
    rfc: str
    name: str = Field(description="Razón social.")
    trade_name: str | None
    emails: list[str]
    whatsapp: str | None = Field(description="WhatsApp en E.164.")
    terms_days: int | None = Field(description="Días de crédito del contacto.")
    reminders_enabled: bool
    whatsapp_reminders: bool
    whatsapp_opted_out: bool = Field(description="El cliente pidió BAJA.")
    reminder_set_id: int | None
    virtual_clabe: str | None = Field(description="CLABE para pagar por SPEI.")
    created_at: Moment


class ContactPage(Page):
    items: list[ContactOut]


class ContactCreate(Strict):
    rfc: Rfc
    name: str = Field(min_length=1, max_length=300, description="Razón social.")
    kind: Kind = "customer"
    email: str | None = Field(default=None, max_length=255)
    whatsapp: str | None = Field(default=None, max_length=20)
    terms_days: int | None = Field(default=None, ge=0, le=365)
    whatsapp_reminders: bool | None = None


class ContactUpdate(Strict):
    email: str | None = Field(
        default=None, max_length=255, description="Se agrega a los que ya tiene."
    )
    whatsapp: str | None = Field(default=None, max_length=20)
    clabe: str | None = Field(default=None, max_length=18)
    terms_days: int | None = Field(default=None, ge=0, le=365)
    whatsapp_reminders: bool | None = None
    reminders_enabled: bool | None = None


class ContactBulkRow(Strict):
    rfc: str = Field(max_length=20)
    name: str | None = Field(
        default=None, max_length=300, description="Obligatorio si el RFC es nuevo."
    )
    kind: Kind = "customer"
    emails: list[str] | None = Field(default=None, max_length=10)
    whatsapp: str | None = Field(default=None, max_length=20)
    terms_days: int | None = Field(default=None, ge=0, le=365)
    whatsapp_reminders: bool | None = None
    reminders_enabled: bool | None = None
    reminder_set: str | None = Field(
        default=None, max_length=64, description="Nombre del conjunto de recordatorios."
    )


class ContactBulk(Strict):
    contacts: list[ContactBulkRow] = Field(min_length=1, max_length=1000)


class RowErrorOut(BaseModel):
    line: int = Field(description="Posición del renglón en la lista, desde 1.")
    rfc: str | None
    reason: str


class BulkResult(BaseModel):
    created: int
    updated: int
    rejected: int
    errors: list[RowErrorOut]


# --- Invoices -----------------------------------------------------------------


class InvoiceOut(BaseModel):
    id: int
    contact_id: int
    direction: str = Field(description="`receivable` (por cobrar) o `payable`.")
    uuid: str | None = Field(description="Folio fiscal (UUID) del CFDI.")
    series: str | None
    folio: str | None
    label: str = Field(description="Cómo se nombra la factura, p. ej. `A-102`.")
    issue_date: dt.date
    due_date: dt.date
    currency: str
    total: str
    paid: str
    balance: str
    payment_method: str = Field(description="PUE o PPD.")
    status: str = Field(description="`pending`, `paid` o `cancelled`.")
    source: str


class InvoicePage(Page):
    items: list[InvoiceOut]


class CfdiRejection(BaseModel):
    path: str
    reason: str


class CfdiImportResult(BaseModel):
    imported: int
    receivables: int
    payables: int
    credit_notes: int
    complements: int
    duplicates: int
    rejected: int
    payments_applied: int
    pending: int
    rejections: list[CfdiRejection]
    warnings: list[CfdiRejection]


# --- Payments -----------------------------------------------------------------


class AllocationIn(Strict):
    invoice_id: Id
    amount: Amount


class PaymentCreate(Strict):
    contact_id: Id
    amount: Amount
    currency: Currency = "MXN"
    paid_at: dt.datetime | None = Field(
        default=None,
        description="Cuándo se pagó; sin zona, es la hora local del negocio. "
        "Por omisión, ahora.",
    )
    method: str | None = Field(
        default=None, pattern=r"^\d{2}$", description="Forma de pago SAT, p. ej. `03`."
    )
    reference: str | None = Field(
        default=None, max_length=64, description="Clave de rastreo SPEI u otra."
    )
    allocations: list[AllocationIn] | None = Field(
        default=None,
        max_length=200,
        description="A qué facturas se aplica; sin ella, a las más antiguas primero.",
    )


class AllocationOut(BaseModel):
    invoice_id: int
    amount: str


class PaymentOut(BaseModel):
    id: int
    contact_id: int
    direction: str = Field(description="`in` (cobro) u `out` (pago a proveedor).")
    amount: str
    currency: str
    paid_at: Moment
    method: str | None
    reference: str | None
    source: str
    complement_status: str
    reversed_at: Moment | None
    allocations: list[AllocationOut]


class PaymentPage(Page):
    items: list[PaymentOut]


# --- Links, balances, reminders, webhooks --------------------------------------


class LinkCreate(Strict):
    contact_id: Id | None = Field(default=None, description="El cliente del link.")
    invoice_id: Id | None = Field(
        default=None, description="Una factura; el cliente es el de la factura."
    )
    amount: Amount | None = Field(default=None, description="Un monto sugerido.")


class LinkOut(BaseModel):
    contact_id: int
    invoice_id: int | None
    amount: str | None
    url: str = Field(description="La dirección del portal de pago del cliente.")


class BalanceLine(BaseModel):
    currency: str
    open: str = Field(description="Saldo abierto.")
    overdue: str = Field(description="Saldo vencido.")
    invoices: int = Field(description="Facturas abiertas.")


class BalanceOut(BaseModel):
    direction: str
    as_of: dt.date = Field(description="Fecha local del negocio del cálculo.")
    contact_id: int | None
    totals: list[BalanceLine]


class AgingLine(BaseModel):
    currency: str
    buckets: dict[str, str] = Field(
        description="Saldo por antigüedad: current, 1-30, 31-60, 61-90, 90+ días."
    )


class AgingOut(BaseModel):
    direction: str
    as_of: dt.date
    contact_id: int | None
    totals: list[AgingLine]


class RemindersState(BaseModel):
    paused: bool = Field(description="Recordatorios del negocio en pausa.")


class ContactReminders(Strict):
    enabled: bool


class ReminderSetAssign(Strict):
    name: str = Field(min_length=1, max_length=64)


WebhookEvent = Literal[
    "invoice.paid",
    "payment.recorded",
    "payment.reported",
    "promise.created",
    "dispute.opened",
    "financing.decided",
]


class WebhookCreate(Strict):
    url: str = Field(min_length=8, max_length=2000, description="http(s)://...")
    events: list[WebhookEvent] | None = Field(
        default=None, max_length=6, description="Sin ella, todos los eventos."
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: Moment
    disabled_at: Moment | None


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Clave para verificar la firma; se muestra sólo esta vez."
    )


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
