"""Invoice and statement PDFs drawn by Cobra from the invoice's own data and CFDI XML.

A CFDI's legal document is its XML; the PDF is a readable copy. satcfdi's renderer
takes seconds per invoice, so Cobra draws its own in milliseconds and keeps the
last ones in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from threading import Lock

from lxml import etree

from flows.fmt import as_utc, money, short_date
from storage.models import Business, Contact, Invoice

log = logging.getLogger(__name__)

CACHE_SIZE = 256
PDF_TYPE = "application/pdf"
XML_TYPE = "application/xml"
MAX_CONCEPTS = 60
STATUS_NAMES = {"pending": "Pendiente", "paid": "Pagada", "cancelled": "Cancelada"}


@dataclass(frozen=True)
class Concept:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclass(frozen=True)
class CfdiFacts:
    """What a readable copy shows that the invoice row does not keep."""

    issuer_name: str | None = None
    issuer_rfc: str | None = None
    receiver_name: str | None = None
    receiver_rfc: str | None = None
    stamped_at: str | None = None
    taxes: str | None = None
    concepts: tuple[Concept, ...] = ()


class _Cache:
    """A small thread-safe LRU of rendered PDFs keyed by their source's digest."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: str, value: bytes) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_cache = _Cache(CACHE_SIZE)


def clear_cache() -> None:
    _cache.clear()


def invoice_filename(invoice: Invoice, extension: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in invoice.label)
    return f"factura-{safe}.{extension}"


def invoice_xml(invoice: Invoice) -> bytes | None:
    """The CFDI as it was stamped, or None for an invoice captured by hand."""
    return invoice.xml.encode("utf-8") if invoice.xml else None


def invoice_pdf(invoice: Invoice, *, business: Business, contact: Contact) -> bytes:
    """A readable copy of the invoice; the same invoice data gives the same bytes."""
    xml = invoice.xml or ""
    key = hashlib.sha256(
        "|".join(
            [
                str(invoice.id),
                invoice.uuid or "",
                invoice.status,
                business.name,
                contact.name,
                xml,
            ]
        ).encode()
    ).hexdigest()
    cached = _cache.get(key)
    if cached is not None:
        return cached
    facts = cfdi_facts(xml) if xml else CfdiFacts()
    content = _draw_invoice(invoice, business, contact, facts)
    _cache.put(key, content)
    log.info(
        "invoice pdf drawn",
        extra={"business_id": business.id, "invoice_id": invoice.id},
    )
    return content


def cfdi_facts(xml: str) -> CfdiFacts:
    """Issuer, receiver, concepts and taxes read from a CFDI 3.3/4.0 document."""
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        log.warning("invoice xml unreadable; pdf drawn from the row only")
        return CfdiFacts()

    def first(name: str) -> etree._Element | None:
        found = root.xpath(f"//*[local-name()='{name}']")
        return found[0] if found else None

    issuer, receiver = first("Emisor"), first("Receptor")
    stamp, taxes = (
        first("TimbreFiscalDigital"),
        root.xpath("./*[local-name()='Impuestos']"),
    )
    concepts = tuple(
        Concept(
            description=c.get("Descripcion", ""),
            quantity=c.get("Cantidad", ""),
            unit_price=c.get("ValorUnitario", ""),
            amount=c.get("Importe", ""),
        )
        for c in root.xpath("//*[local-name()='Concepto']")[:MAX_CONCEPTS]
    )
    return CfdiFacts(
        issuer_name=issuer.get("Nombre") if issuer is not None else None,
        issuer_rfc=issuer.get("Rfc") if issuer is not None else None,
        receiver_name=receiver.get("Nombre") if receiver is not None else None,
        receiver_rfc=receiver.get("Rfc") if receiver is not None else None,
        stamped_at=stamp.get("FechaTimbrado") if stamp is not None else None,
        taxes=taxes[0].get("TotalImpuestosTrasladados") if taxes else None,
        concepts=concepts,
    )


def _draw_invoice(
    invoice: Invoice, business: Business, contact: Contact, facts: CfdiFacts
) -> bytes:
    # fpdf is imported when a PDF is drawn, not when Cobra starts.
    from flows.pdfpage import LetterPage, amount_text, quantity_text

    issued = as_utc(invoice.issued_at)
    pdf = LetterPage(
        "Representación legible de un CFDI; el documento fiscal es su XML.", issued
    )
    pdf.set_title(f"Factura {invoice.label}")
    pdf.add_page()

    pdf.line_text(facts.issuer_name or business.name, size=16, bold=True)
    pdf.line_text(f"RFC {facts.issuer_rfc or business.rfc}", size=9)
    pdf.ln(3)
    pdf.line_text(f"Factura {invoice.label}", size=13, bold=True)
    if invoice.uuid:
        pdf.line_text(f"Folio fiscal (UUID): {invoice.uuid}", size=9)
    if facts.stamped_at:
        pdf.line_text(f"Fecha de timbrado: {facts.stamped_at}", size=9)
    pdf.line_text(
        f"Emitida: {short_date(invoice.issue_date)}   Vence: "
        f"{short_date(invoice.due_date)}   Método: {invoice.payment_method}",
        size=9,
    )
    pdf.ln(2)
    pdf.line_text("Cliente", size=10, bold=True)
    pdf.line_text(facts.receiver_name or contact.name, size=10)
    pdf.line_text(f"RFC {facts.receiver_rfc or contact.rfc}", size=9)
    pdf.ln(3)

    pdf.row(
        [
            ("Concepto", 98, "L"),
            ("Cant.", 18, "R"),
            ("P. unit.", 33, "R"),
            ("Importe", 35, "R"),
        ],
        bold=True,
    )
    concepts = facts.concepts or (
        Concept(
            invoice.description or "Según factura",
            "1",
            str(invoice.subtotal),
            str(invoice.subtotal),
        ),
    )
    for concept in concepts:
        pdf.row(
            [
                (concept.description, 98, "L"),
                (quantity_text(concept.quantity), 18, "R"),
                (amount_text(concept.unit_price, invoice.currency), 33, "R"),
                (amount_text(concept.amount, invoice.currency), 35, "R"),
            ]
        )
    pdf.ln(2)
    totals = [("Subtotal", money(invoice.subtotal, invoice.currency))]
    if facts.taxes:
        totals.append(
            ("Impuestos trasladados", amount_text(facts.taxes, invoice.currency))
        )
    totals += [
        ("Total", money(invoice.total, invoice.currency)),
        ("Pagado", money(invoice.paid, invoice.currency)),
        ("Saldo", money(invoice.balance, invoice.currency)),
    ]
    for name, value in totals:
        pdf.row(
            [("", 98, "L"), (name, 51, "R"), (value, 35, "R")], bold=name == "Saldo"
        )
    pdf.ln(3)
    pdf.line_text(f"Estado: {STATUS_NAMES.get(invoice.status, invoice.status)}", size=9)
    return bytes(pdf.output())


@dataclass(frozen=True)
class StatementLine:
    label: str
    issue_date: dt.date
    due_date: dt.date
    total: Decimal
    balance: Decimal
    currency: str
    status: str
    # Credit notes applied to the invoice: (label, amount taken off), shown under it.
    notes: tuple[tuple[str, Decimal], ...] = ()


def statement_pdf(
    *,
    business: Business,
    contact: Contact,
    lines: Sequence[StatementLine],
    totals: dict[str, Decimal],
    today: dt.date,
    created: dt.datetime,
) -> bytes:
    """The customer's account statement: every invoice and what is still owed."""
    from flows.pdfpage import LetterPage

    pdf = LetterPage(
        f"{business.name} · Estado de cuenta al {short_date(today)}", created
    )
    pdf.set_title("Estado de cuenta")
    pdf.add_page()
    pdf.line_text(business.name, size=16, bold=True)
    pdf.line_text(f"Estado de cuenta de {contact.name} al {short_date(today)}", size=11)
    pdf.ln(3)
    pdf.row(
        [
            ("Factura", 36, "L"),
            ("Emitida", 28, "L"),
            ("Vence", 28, "L"),
            ("Total", 32, "R"),
            ("Saldo", 32, "R"),
            ("Estado", 28, "L"),
        ],
        bold=True,
    )
    for line in lines:
        pdf.row(
            [
                (line.label, 36, "L"),
                (short_date(line.issue_date), 28, "L"),
                (short_date(line.due_date), 28, "L"),
                (money(line.total, line.currency), 32, "R"),
                (money(line.balance, line.currency), 32, "R"),
                (STATUS_NAMES.get(line.status, line.status), 28, "L"),
            ]
        )
        for label, amount in line.notes:
            pdf.row(
                [
                    (f"  Nota de crédito {label}", 92, "L"),
                    (money(-amount, line.currency), 32, "R"),
                    ("", 60, "L"),
                ]
            )
    pdf.ln(3)
    if totals:
        for currency, amount in totals.items():
            pdf.line_text(f"Saldo pendiente: {money(amount, currency)}", bold=True)
    else:
        pdf.line_text("Sin saldo pendiente.", bold=True)
    return bytes(pdf.output())
