"""The sales catalog: what the business sells, with SAT keys, price and taxes.

Filled from the concepts of the business's stored CFDIs, edited by CLI and chat,
and looked up by name with fuzzy matching to draft invoices from items.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from lxml import etree
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.errors import Ambiguous, InvalidInput, NotFound
from flows.sat.issue import (
    CONCEPTO,
    IVA_RATE,
    InvoiceDraft,
    draft_invoice,
    usual_keys,
)
from storage.models import Business, Contact, Direction, Invoice, SalesItem

log = logging.getLogger(__name__)

TRASLADO = "{http://www.sat.gob.mx/cfd/4}Traslado"
MATCH_CUTOFF = 70
# Two items whose scores are this close both fit: the person is asked which.
TIE_MARGIN = 12
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
PRICE = Decimal("0.000001")


def _key(description: str) -> str:
    return " ".join(description.split()).casefold()


def fill_from_cfdis(session: Session, *, business_id: int, now: dt.datetime) -> int:
    """Add every concept of the business's stored receivable CFDIs not in the catalog.

    The newest invoice's price wins for a description seen several times; items
    already in the catalog are left as they are. Returns how many were added.
    """
    known = {
        _key(d)
        for d in session.scalars(
            select(SalesItem.description).where(SalesItem.business_id == business_id)
        )
    }
    rows = session.execute(
        select(Invoice.xml, Invoice.currency)
        .where(
            Invoice.business_id == business_id,
            Invoice.direction == Direction.RECEIVABLE,
            Invoice.cfdi_type == "I",
            Invoice.xml.is_not(None),
        )
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    ).all()
    added = 0
    for xml, currency in rows:
        if not xml:
            continue
        try:
            root = etree.fromstring(xml.encode(), _PARSER)
        except (etree.XMLSyntaxError, ValueError):
            continue
        for concepto in root.iter(CONCEPTO):
            item = _from_concepto(concepto, business_id, currency, now)
            if item is None or _key(item.description) in known:
                continue
            known.add(_key(item.description))
            session.add(item)
            added += 1
    session.flush()
    log.info("catalog filled", extra={"business_id": business_id, "added": added})
    return added


def _from_concepto(
    concepto: etree._Element, business_id: int, currency: str, now: dt.datetime
) -> SalesItem | None:
    description = " ".join((concepto.get("Descripcion") or "").split())
    price = concepto.get("ValorUnitario")
    if not description or price is None:
        return None
    rates = [
        t.get("TasaOCuota")
        for t in concepto.iter(TRASLADO)
        if t.get("Impuesto") == "002"
    ]
    vat: str | None = None
    if rates and rates[0] is not None:
        vat = str(int(Decimal(rates[0]) * 100))
    tax_object = concepto.get("ObjetoImp") or ("02" if vat else "01")
    return SalesItem(
        business_id=business_id,
        description=description[:1000],
        product_key=(concepto.get("ClaveProdServ") or "01010101")[:8],
        unit_key=(concepto.get("ClaveUnidad") or "H87")[:3],
        unit_name=(concepto.get("Unidad") or None),
        unit_price=Decimal(price).quantize(PRICE),
        currency=currency[:3],
        vat=vat,
        tax_object=tax_object[:2],
        source="cfdi",
        created_at=now,
        updated_at=now,
    )


def add_item(
    session: Session,
    *,
    business: Business,
    description: str,
    unit_price: Decimal,
    now: dt.datetime,
    source: str,
    plus_iva: bool = True,
    vat: str | None = "16",
    product_key: str | None = None,
    unit_key: str | None = None,
    currency: str = "MXN",
) -> SalesItem:
    """A new item; without keys it takes the business's usual ones.

    With `plus_iva` false and IVA on the item, the price given includes IVA and
    the unit price kept is before it.
    """
    description = " ".join(description.split())
    if not description:
        raise InvalidInput("¿Cómo se llama el producto?")
    if unit_price <= 0:
        raise InvalidInput("El precio debe ser mayor a cero.")
    if find_exact(session, business_id=business.id, description=description):
        raise InvalidInput(f"«{description}» ya está en tu catálogo.")
    usual_product, usual_unit = usual_keys(session, business_id=business.id)
    price = Decimal(unit_price)
    if vat == "16" and not plus_iva:
        price = price / (1 + IVA_RATE)
    item = SalesItem(
        business_id=business.id,
        description=description[:1000],
        product_key=product_key or usual_product,
        unit_key=unit_key or usual_unit,
        unit_price=price.quantize(PRICE),
        currency=currency,
        vat=vat,
        tax_object="02" if vat else "01",
        source=source,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def update_item(
    session: Session,
    *,
    item: SalesItem,
    now: dt.datetime,
    description: str | None = None,
    unit_price: Decimal | None = None,
    product_key: str | None = None,
    unit_key: str | None = None,
    vat: str | None = None,
) -> SalesItem:
    if description:
        item.description = " ".join(description.split())[:1000]
    if unit_price is not None:
        if unit_price <= 0:
            raise InvalidInput("El precio debe ser mayor a cero.")
        item.unit_price = Decimal(unit_price).quantize(PRICE)
    if product_key:
        item.product_key = product_key[:8]
    if unit_key:
        item.unit_key = unit_key[:3]
    if vat is not None:
        item.vat = None if vat in ("", "none", "no") else vat
        item.tax_object = "02" if item.vat else "01"
    item.updated_at = now
    return item


def items_of(session: Session, *, business_id: int) -> list[SalesItem]:
    return list(
        session.scalars(
            select(SalesItem)
            .where(SalesItem.business_id == business_id)
            .order_by(SalesItem.description)
        )
    )


def find_exact(
    session: Session, *, business_id: int, description: str
) -> SalesItem | None:
    wanted = _key(description)
    for item in items_of(session, business_id=business_id):
        if _key(item.description) == wanted:
            return item
    return None


def find_item(session: Session, *, business_id: int, name: str) -> SalesItem:
    """The item a person names, fuzzily; `Ambiguous` (with the options) when two fit."""
    items = items_of(session, business_id=business_id)
    exact = [i for i in items if _key(i.description) == _key(name)]
    if len(exact) == 1:
        return exact[0]
    choices = {i.id: i.description for i in items}
    found = process.extract(
        name,
        choices,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=MATCH_CUTOFF,
        limit=5,
    )
    if not found:
        raise NotFound(f"No tengo «{name}» en tu catálogo.")
    best = found[0][1]
    close = [(key, text) for text, score, key in found if best - score < TIE_MARGIN]
    if len(close) > 1:
        options = ", ".join(f"«{text}»" for _, text in close)
        raise Ambiguous(f"¿Cuál de estos? {options}", [(k, t) for k, t in close])
    return next(i for i in items if i.id == found[0][2])


def draft_from_items(
    session: Session,
    *,
    business: Business,
    contact: Contact,
    lines: list[tuple[SalesItem, Decimal]],
) -> InvoiceDraft:
    """An invoice draft for catalog items and quantities, with the items' SAT keys.

    # Limitation: the SAT issuer drafts one concept per invoice, so several items
    # (or a quantity above one) become one concept naming them, priced at the sum,
    # with the first item's keys. One concept per item needs the issuer to take a
    # list of concepts.
    """
    if not lines:
        raise InvalidInput("¿Qué productos van en la factura?")
    first = lines[0][0]
    # Limitation: the issuer always adds IVA at 16%; items at another rate or
    # exempt are refused here rather than invoiced with the wrong tax.
    untaxed = [item.description for item, _ in lines if item.vat != "16"]
    if untaxed:
        raise InvalidInput(
            f"«{untaxed[0]}» no lleva IVA al 16%; por ahora sólo facturo así desde el "
            "catálogo."
        )
    amount = sum((item.unit_price * qty for item, qty in lines), Decimal("0"))
    concept = ", ".join(
        item.description if qty == 1 else f"{qty} {item.description}"
        for item, qty in lines
    )
    return draft_invoice(
        session,
        business=business,
        contact=contact,
        amount=amount,
        concept=concept,
        plus_iva=True,
        currency=first.currency,
        keys=(first.product_key, first.unit_key),
    )
