"""Issuing a CFDI 4.0 Ingreso: draft it from what Cobra knows, seal it with the CSD,
stamp it through the PAC and book it as a receivable.

The customer's tax data comes from earlier CFDIs (the contact), the product and
unit keys from the business's own invoices, PUE or PPD from the payment terms.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol

from lxml import etree
from satcfdi.create.cfd import cfdi40
from satcfdi.models import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.cfdi import read_cfdi
from flows.errors import InvalidInput, MoneyRuleViolation
from flows.fmt import money, to_money, zone
from flows.money import due_date_for
from flows.sat.pac import Pac, Stamped
from storage.models import (
    Business,
    Contact,
    Direction,
    Invoice,
    InvoiceSource,
    InvoiceStatus,
)

log = logging.getLogger(__name__)

IVA_RATE = Decimal("0.160000")
DEFAULT_PRODUCT_KEY = "84111506"  # servicios de facturación
DEFAULT_UNIT_KEY = "E48"  # unidad de servicio
SERIES = "A"
GENERAL_USE = "G03"  # gastos en general
NO_OBLIGATIONS_REGIME = "616"
NO_OBLIGATIONS_USE = "S01"
PPD_FORM = "99"  # por definir
PUE_FORM = "03"  # transferencia electrónica
CONCEPTO = "{http://www.sat.gob.mx/cfd/4}Concepto"
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    """An invoice ready to seal: every value the CFDI needs, all plain strings."""

    business_id: int
    contact_id: int
    customer_rfc: str
    customer_name: str
    customer_regime: str
    customer_postal_code: str
    use: str
    concept: str
    product_key: str
    unit_key: str
    subtotal: str
    iva: str
    total: str
    currency: str
    payment_method: str
    payment_form: str
    terms_days: int

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> InvoiceDraft:
        return cls(**data)

    def summary(self) -> str:
        """The draft as the owner reads it before saying yes."""
        terms = (
            f"PPD, crédito {self.terms_days} días"
            if self.payment_method == "PPD"
            else "PUE, de contado"
        )
        lines = [
            f"Factura para {self.customer_name} ({self.customer_rfc})",
            f"Concepto: {self.concept} (clave {self.product_key}, unidad "
            f"{self.unit_key})",
            f"Subtotal {money(Decimal(self.subtotal), self.currency)}",
        ]
        if Decimal(self.iva):
            lines.append(f"IVA 16% {money(Decimal(self.iva), self.currency)}")
        lines.append(f"Total {money(Decimal(self.total), self.currency)}")
        lines.append(f"{terms}; uso {self.use}")
        return "\n".join(lines)


def draft_invoice(
    session: Session,
    *,
    business: Business,
    contact: Contact,
    amount: Decimal,
    concept: str,
    plus_iva: bool,
    currency: str = "MXN",
    keys: tuple[str, str] | None = None,
) -> InvoiceDraft:
    """A draft Ingreso for the customer; `plus_iva` adds 16% on top of the amount.

    Without `plus_iva` the amount is the total, IVA included. `keys` are the
    ClaveProdServ and ClaveUnidad to use (a catalog item's, see flows/catalog.py);
    without them, the business's usual ones.
    """
    _check_issuer(business)
    if contact.kind != "customer":
        raise InvalidInput(f"{contact.name} es proveedor; sólo facturo a clientes.")
    missing = [
        label
        for label, value in (
            ("régimen fiscal", contact.tax_regime),
            ("código postal fiscal", contact.postal_code),
        )
        if not value
    ]
    if missing:
        raise InvalidInput(
            f"Me falta el {' y el '.join(missing)} de {contact.name}; no lo veo en "
            "facturas anteriores. Pídeselo a tu cliente (viene en su constancia "
            "de situación fiscal)."
        )
    amount = to_money(amount)
    if amount <= 0:
        raise MoneyRuleViolation("El monto de la factura debe ser mayor a cero.")
    concept = " ".join(concept.split())
    if not concept:
        raise InvalidInput("¿Por qué concepto es la factura?")

    unit_price = amount if plus_iva else to_money(amount / (1 + IVA_RATE))
    product_key, unit_key = keys or usual_keys(session, business_id=business.id)
    terms = contact.terms_days
    if terms is None:
        terms = business.default_terms_days
    method = "PPD" if terms > 0 else "PUE"
    use = (
        NO_OBLIGATIONS_USE
        if contact.tax_regime == NO_OBLIGATIONS_REGIME
        else GENERAL_USE
    )

    draft = InvoiceDraft(
        business_id=business.id,
        contact_id=contact.id,
        customer_rfc=contact.rfc,
        customer_name=contact.name,
        customer_regime=contact.tax_regime or "",
        customer_postal_code=contact.postal_code or "",
        use=use,
        concept=concept[:1000],
        product_key=product_key,
        unit_key=unit_key,
        subtotal=str(unit_price),
        iva="0",
        total="0",
        currency=currency,
        payment_method=method,
        payment_form=PPD_FORM if method == "PPD" else PUE_FORM,
        terms_days=terms,
    )
    comprobante = build_comprobante(
        business, draft, series=SERIES, folio="0", at=dt.datetime(2000, 1, 1)
    )
    subtotal = to_money(comprobante["SubTotal"])
    total = to_money(comprobante["Total"])
    return InvoiceDraft(
        **{
            **draft.as_payload(),
            "subtotal": str(subtotal),
            "iva": str(total - subtotal),
            "total": str(total),
        }
    )


def usual_keys(session: Session, *, business_id: int) -> tuple[str, str]:
    """The most frequent ClaveProdServ and ClaveUnidad in the business's invoices."""
    rows = session.scalars(
        select(Invoice.xml)
        .where(
            Invoice.business_id == business_id,
            Invoice.direction == Direction.RECEIVABLE,
            Invoice.cfdi_type == "I",
            Invoice.xml.is_not(None),
        )
        .order_by(Invoice.issued_at.desc())
        .limit(200)
    ).all()
    products: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for xml in rows:
        if not xml:
            continue
        try:
            root = etree.fromstring(xml.encode(), _SAFE_PARSER)
        except (etree.XMLSyntaxError, ValueError):
            continue
        for concepto in root.iter(CONCEPTO):
            if key := concepto.get("ClaveProdServ"):
                products[key] += 1
            if unit := concepto.get("ClaveUnidad"):
                units[unit] += 1
    product = products.most_common(1)[0][0] if products else DEFAULT_PRODUCT_KEY
    unit = units.most_common(1)[0][0] if units else DEFAULT_UNIT_KEY
    return product, unit


class _Receiving(Protocol):
    """What a draft (invoice or credit note) says of its customer."""

    @property
    def customer_rfc(self) -> str: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def customer_postal_code(self) -> str: ...
    @property
    def customer_regime(self) -> str: ...
    @property
    def use(self) -> str: ...


def issuer(business: Business) -> cfdi40.Emisor:
    return cfdi40.Emisor(
        rfc=business.rfc,
        nombre=business.name.upper(),
        regimen_fiscal=business.tax_regime or "",
    )


def receiver(draft: _Receiving) -> cfdi40.Receptor:
    return cfdi40.Receptor(
        rfc=draft.customer_rfc,
        nombre=draft.customer_name.upper(),
        domicilio_fiscal_receptor=draft.customer_postal_code,
        regimen_fiscal_receptor=draft.customer_regime,
        uso_cfdi=draft.use,
    )


def single_concept(
    *,
    product_key: str,
    unit_key: str,
    description: str,
    subtotal: Decimal,
    taxed: bool,
) -> cfdi40.Concepto:
    """One concept line; with IVA at 16% it is "objeto de impuesto" (02), else 01."""
    return cfdi40.Concepto(
        clave_prod_serv=product_key,
        cantidad=Decimal("1"),
        clave_unidad=unit_key,
        descripcion=description,
        valor_unitario=subtotal,
        objeto_imp="02" if taxed else "01",
        impuestos=cfdi40.Impuestos(
            traslados=cfdi40.Traslado(
                impuesto="002", tipo_factor="Tasa", tasa_o_cuota=IVA_RATE
            )
        )
        if taxed
        else None,
    )


def build_comprobante(
    business: Business,
    draft: InvoiceDraft,
    *,
    series: str,
    folio: str,
    at: dt.datetime,
) -> cfdi40.Comprobante:
    """The unsealed CFDI 4.0 for a draft; `at` is the local issue time, naive."""
    taxed = Decimal(draft.iva) != 0 or draft.total == "0"
    return cfdi40.Comprobante(
        emisor=issuer(business),
        lugar_expedicion=business.postal_code or "",
        receptor=receiver(draft),
        conceptos=[
            single_concept(
                product_key=draft.product_key,
                unit_key=draft.unit_key,
                description=draft.concept,
                subtotal=Decimal(draft.subtotal),
                taxed=taxed,
            )
        ],
        moneda=draft.currency,
        serie=series,
        folio=folio,
        forma_pago=draft.payment_form,
        metodo_pago=draft.payment_method,
        condiciones_de_pago=(
            f"Crédito {draft.terms_days} días"
            if draft.payment_method == "PPD"
            else None
        ),
        fecha=at.replace(microsecond=0),
    )


def issue_invoice(
    session: Session,
    *,
    business: Business,
    draft: InvoiceDraft,
    signer: Signer,
    pac: Pac,
    now: dt.datetime,
    actor: str,
    channel: str,
) -> Invoice:
    """Seal the draft with the CSD, stamp it and book it as a receivable.

    # Limitation: the PAC call sits inside the caller's transaction; if the commit
    # after a successful stamp fails, the invoice exists at the SAT and not here
    # until the next SAT sync brings it in.
    """
    _check_issuer(business)
    if draft.business_id != business.id:
        raise InvalidInput("Ese borrador es de otro negocio.")
    contact = session.get(Contact, draft.contact_id)
    if contact is None or contact.business_id != business.id:
        raise InvalidInput("Ya no encuentro al cliente de ese borrador.")
    if str(signer.rfc or "").upper() != business.rfc.upper():
        raise InvalidInput("El CSD guardado es de otro RFC.")

    folio = next_folio(session, business_id=business.id, series=SERIES)
    local = now.astimezone(zone(business.timezone)).replace(tzinfo=None)
    comprobante = build_comprobante(
        business, draft, series=SERIES, folio=folio, at=local
    )
    comprobante.sign(signer)
    stamped = pac.stamp(comprobante)

    invoice = book_issued(
        session, business=business, contact=contact, stamped=stamped, now=now
    )
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="invoice.issued",
        subject=f"invoice:{invoice.id}",
        data={"uuid": invoice.uuid, "total": str(invoice.total), "pac": pac.name},
        now=now,
    )
    log.info(
        "invoice issued",
        extra={"business_id": business.id, "invoice_id": invoice.id, "pac": pac.name},
    )
    return invoice


def book_issued(
    session: Session,
    *,
    business: Business,
    contact: Contact,
    stamped: Stamped,
    now: dt.datetime,
) -> Invoice:
    """The stamped XML, read back by the import's extractor, booked as receivable."""
    cfdi = read_cfdi(stamped.xml)
    tz = zone(business.timezone)
    issued_at = cfdi.issued_at.replace(tzinfo=tz).astimezone(dt.UTC)
    issue_date = cfdi.issued_at.date()
    method = cfdi.payment_method or "PUE"
    invoice = Invoice(
        business_id=business.id,
        contact_id=contact.id,
        direction=Direction.RECEIVABLE,
        cfdi_type=cfdi.cfdi_type,
        uuid=cfdi.uuid,
        series=cfdi.series,
        folio=cfdi.folio,
        issued_at=issued_at,
        issue_date=issue_date,
        due_date=due_date_for(
            issue_date=issue_date,
            payment_method=method,
            contact_terms=contact.terms_days,
            payment_terms_text=cfdi.payment_terms,
            default_terms=business.default_terms_days,
        ),
        currency=cfdi.currency,
        exchange_rate=cfdi.exchange_rate,
        subtotal=cfdi.subtotal,
        total=cfdi.total,
        paid=Decimal("0"),
        balance=cfdi.total,
        payment_method=method,
        payment_form=cfdi.payment_form,
        payment_terms=cfdi.payment_terms,
        status=InvoiceStatus.PENDING,
        source=InvoiceSource.ISSUED,
        description=cfdi.description,
        xml=stamped.xml.decode("utf-8"),
        created_at=now,
    )
    session.add(invoice)
    session.flush()
    return invoice


def next_folio(session: Session, *, business_id: int, series: str) -> str:
    """One more than the highest numeric folio of the series.

    # Limitation: two invoices issued at the same instant could take the same folio;
    # the folio is internal (the UUID is what the SAT checks), so this is tolerated
    # rather than locked.
    """
    folios = session.scalars(
        select(Invoice.folio).where(
            Invoice.business_id == business_id,
            Invoice.direction == Direction.RECEIVABLE,
            Invoice.series == series,
        )
    ).all()
    numbers = [int(f) for f in folios if f and f.isdigit()]
    return str(max(numbers, default=0) + 1)


def _check_issuer(business: Business) -> None:
    if not business.tax_regime or not business.postal_code:
        raise InvalidInput(
            "Para facturar necesito el régimen fiscal y el código postal de tu negocio."
        )
