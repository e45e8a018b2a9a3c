"""Realistic CFDI 4.0 documents for tests and the benchmark: I, E and P (Pagos 2.0).

The structure, namespaces and amounts are the SAT's; seals and certificates are
placeholders in base64, since signatures are checked elsewhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import uuid as uuidlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

CFDI = "http://www.sat.gob.mx/cfd/4"
CFDI33 = "http://www.sat.gob.mx/cfd/3"
TFD = "http://www.sat.gob.mx/TimbreFiscalDigital"
PAGO20 = "http://www.sat.gob.mx/Pagos20"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CENT = Decimal("0.01")
IVA = Decimal("0.16")


@dataclass(frozen=True)
class Party:
    rfc: str
    name: str
    regime: str = "601"
    postal_code: str = "06600"


@dataclass(frozen=True)
class Item:
    description: str
    quantity: Decimal
    unit_price: Decimal
    product_key: str = "72101500"
    unit_key: str = "E48"


@dataclass(frozen=True)
class Paid:
    """One document a complement pays (a `DoctoRelacionado`)."""

    invoice_uuid: str
    amount: Decimal | str
    previous_balance: Decimal | str | None = None
    partial: int = 1
    currency: str = "MXN"
    equivalence: Decimal | str = "1"
    series: str | None = None
    folio: str | None = None


BUSINESS = Party("FTU010101AB1", "FERRETERIA LA TUERCA", "601", "06600")
ACME = Party("AIN850101AB2", "ACME INDUSTRIAL", "601", "64000")
BETA = Party("BCO900202CD3", "BETA CONSTRUCTORA", "612", "44100")
SUPPLIER = Party("ACE950303EF4", "ACEROS DEL CENTRO", "601", "76000")
STRANGER = Party("XYZ010101XY9", "OTRA EMPRESA", "601", "01000")


def new_uuid(seed: int | str | None = None) -> str:
    """A random UUID, or a stable one for a seed."""
    if seed is None:
        return str(uuidlib.uuid4()).upper()
    digest = hashlib.md5(str(seed).encode()).hexdigest()
    return str(uuidlib.UUID(digest)).upper()


def _seal(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return base64.b64encode(digest * 8).decode()


def _fmt(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _stamp(
    complement: etree._Element, uuid: str, stamped_at: dt.datetime, seal: str
) -> None:
    etree.SubElement(
        complement,
        f"{{{TFD}}}TimbreFiscalDigital",
        {
            f"{{{XSI}}}schemaLocation": (
                f"{TFD} http://www.sat.gob.mx/sitio_internet/cfd/"
                "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"
            ),
            "Version": "1.1",
            "UUID": uuid,
            "FechaTimbrado": stamped_at.isoformat(timespec="seconds"),
            "RfcProvCertif": "SAT970701NN3",
            "SelloCFD": seal,
            "NoCertificadoSAT": "30001000000500003456",
            "SelloSAT": _seal("sat", uuid),
        },
        nsmap={"tfd": TFD},
    )


def _comprobante(
    attrs: dict[str, str], *, namespace: str = CFDI, version: str = "4.0"
) -> etree._Element:
    location = (
        f"{namespace} http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
        if namespace == CFDI
        else f"{namespace} http://www.sat.gob.mx/sitio_internet/cfd/3/cfdv33.xsd"
    )
    return etree.Element(
        f"{{{namespace}}}Comprobante",
        {f"{{{XSI}}}schemaLocation": location, "Version": version, **attrs},
        nsmap={"cfdi": namespace, "xsi": XSI},
    )


def _parties(
    root: etree._Element, ns: str, issuer: Party, receiver: Party, use: str
) -> None:
    etree.SubElement(
        root,
        f"{{{ns}}}Emisor",
        {"Rfc": issuer.rfc, "Nombre": issuer.name, "RegimenFiscal": issuer.regime},
    )
    etree.SubElement(
        root,
        f"{{{ns}}}Receptor",
        {
            "Rfc": receiver.rfc,
            "Nombre": receiver.name,
            "DomicilioFiscalReceptor": receiver.postal_code,
            "RegimenFiscalReceptor": receiver.regime,
            "UsoCFDI": use,
        },
    )


def invoice(
    *,
    issuer: Party = BUSINESS,
    receiver: Party = ACME,
    total: Decimal | str | None = "1160.00",
    items: Sequence[Item] | None = None,
    uuid: str | None = None,
    cfdi_type: str = "I",
    method: str = "PPD",
    form: str = "99",
    currency: str = "MXN",
    exchange_rate: Decimal | str | None = None,
    issued: dt.datetime = dt.datetime(2026, 11, 1, 10, 30),
    series: str | None = "A",
    folio: str | None = "1001",
    terms: str | None = None,
    related: Sequence[str] = (),
    relation: str = "01",
    stamped: bool = True,
    total_override: str | None = None,
    version: str = "4.0",
) -> bytes:
    """An Ingreso (or, with cfdi_type="E", an Egreso) with IVA at 16%.

    Give `total` (one concept, IVA included) or `items` (prices before IVA).
    """
    uuid = uuid or new_uuid()
    if items is None:
        gross = Decimal(str(total))
        net = (gross / (1 + IVA)).quantize(CENT, rounding=ROUND_HALF_UP)
        items = [Item("Servicio de mantenimiento industrial", Decimal(1), net)]
    lines = [
        (item, (item.quantity * item.unit_price).quantize(CENT, ROUND_HALF_UP))
        for item in items
    ]
    subtotal = sum((amount for _, amount in lines), Decimal(0))
    taxes = [
        (amount, (amount * IVA).quantize(CENT, ROUND_HALF_UP)) for _, amount in lines
    ]
    tax_total = sum((tax for _, tax in taxes), Decimal(0))
    grand_total = subtotal + tax_total

    namespace = CFDI if version == "4.0" else CFDI33
    attrs = {
        "Fecha": issued.isoformat(timespec="seconds"),
        "Sello": "",
        "FormaPago": form,
        "NoCertificado": "30001000000500003416",
        "Certificado": _seal("cert", issuer.rfc),
        "SubTotal": _fmt(subtotal),
        "Moneda": currency,
        "Total": total_override or _fmt(grand_total),
        "TipoDeComprobante": cfdi_type,
        "Exportacion": "01",
        "MetodoPago": method,
        "LugarExpedicion": issuer.postal_code,
    }
    if series:
        attrs = {"Serie": series, **attrs}
    if folio:
        attrs = {"Folio": folio, **attrs}
    if terms:
        attrs["CondicionesDePago"] = terms
    if exchange_rate is not None:
        attrs["TipoCambio"] = str(exchange_rate)
    attrs["Sello"] = _seal(uuid, attrs["Total"])
    root = _comprobante(attrs, namespace=namespace, version=version)

    if related:
        group = etree.SubElement(
            root, f"{{{namespace}}}CfdiRelacionados", {"TipoRelacion": relation}
        )
        for other in related:
            etree.SubElement(group, f"{{{namespace}}}CfdiRelacionado", {"UUID": other})
    _parties(root, namespace, issuer, receiver, "G03" if cfdi_type == "I" else "G02")

    concepts = etree.SubElement(root, f"{{{namespace}}}Conceptos")
    for (item, amount), (_, tax) in zip(lines, taxes, strict=True):
        concept = etree.SubElement(
            concepts,
            f"{{{namespace}}}Concepto",
            {
                "ClaveProdServ": item.product_key,
                "Cantidad": str(item.quantity),
                "ClaveUnidad": item.unit_key,
                "Unidad": "Servicio" if item.unit_key == "E48" else "Pieza",
                "Descripcion": item.description,
                "ValorUnitario": _fmt(item.unit_price, "0.000001"),
                "Importe": _fmt(amount),
                "ObjetoImp": "02",
            },
        )
        concept_taxes = etree.SubElement(concept, f"{{{namespace}}}Impuestos")
        transfers = etree.SubElement(concept_taxes, f"{{{namespace}}}Traslados")
        _transfer(transfers, namespace, amount, tax)

    summary = etree.SubElement(
        root,
        f"{{{namespace}}}Impuestos",
        {"TotalImpuestosTrasladados": _fmt(tax_total)},
    )
    transfers = etree.SubElement(summary, f"{{{namespace}}}Traslados")
    _transfer(transfers, namespace, subtotal, tax_total)

    complement = etree.SubElement(root, f"{{{namespace}}}Complemento")
    if stamped:
        _stamp(complement, uuid, issued + dt.timedelta(minutes=2), attrs["Sello"])
    return _serialize(root)


def credit_note(
    *,
    related: Sequence[str],
    total: Decimal | str = "116.00",
    issuer: Party = BUSINESS,
    receiver: Party = ACME,
    **kwargs: object,
) -> bytes:
    """An Egreso that credits the related invoices (TipoRelacion 01)."""
    kwargs.setdefault("method", "PUE")
    kwargs.setdefault("form", "15")
    kwargs.setdefault("series", "NC")
    return invoice(
        issuer=issuer,
        receiver=receiver,
        total=total,
        cfdi_type="E",
        related=related,
        **kwargs,  # type: ignore[arg-type]
    )


def _transfer(parent: etree._Element, ns: str, base: Decimal, amount: Decimal) -> None:
    etree.SubElement(
        parent,
        f"{{{ns}}}Traslado",
        {
            "Base": _fmt(base),
            "Impuesto": "002",
            "TipoFactor": "Tasa",
            "TasaOCuota": "0.160000",
            "Importe": _fmt(amount),
        },
    )


def payment(
    *,
    paid: Sequence[Paid],
    issuer: Party = BUSINESS,
    receiver: Party = ACME,
    uuid: str | None = None,
    paid_on: dt.datetime = dt.datetime(2026, 11, 20, 12, 0),
    issued: dt.datetime | None = None,
    form: str = "03",
    currency: str = "MXN",
    exchange_rate: Decimal | str | None = None,
    folio: str | None = "P-1",
) -> bytes:
    """A CFDI of type P with a Pagos 2.0 complement paying the given documents."""
    uuid = uuid or new_uuid()
    issued = issued or paid_on + dt.timedelta(days=1)
    attrs = {
        "Fecha": issued.isoformat(timespec="seconds"),
        "Sello": _seal(uuid, "P"),
        "NoCertificado": "30001000000500003416",
        "Certificado": _seal("cert", issuer.rfc),
        "SubTotal": "0",
        "Moneda": "XXX",
        "Total": "0",
        "TipoDeComprobante": "P",
        "Exportacion": "01",
        "LugarExpedicion": issuer.postal_code,
    }
    if folio:
        attrs = {"Serie": "P", "Folio": folio, **attrs}
    root = _comprobante(attrs)
    _parties(root, CFDI, issuer, receiver, "CP01")
    concepts = etree.SubElement(root, f"{{{CFDI}}}Conceptos")
    etree.SubElement(
        concepts,
        f"{{{CFDI}}}Concepto",
        {
            "ClaveProdServ": "84111506",
            "Cantidad": "1",
            "ClaveUnidad": "ACT",
            "Descripcion": "Pago",
            "ValorUnitario": "0",
            "Importe": "0",
            "ObjetoImp": "01",
        },
    )
    complement = etree.SubElement(root, f"{{{CFDI}}}Complemento")
    pagos = etree.SubElement(
        complement, f"{{{PAGO20}}}Pagos", {"Version": "2.0"}, nsmap={"pago20": PAGO20}
    )
    amount = Decimal(0)
    for docto in paid:
        amount += Decimal(str(docto.amount)) / Decimal(str(docto.equivalence))
    amount = amount.quantize(CENT, ROUND_HALF_UP)
    rate = Decimal(str(exchange_rate)) if exchange_rate is not None else Decimal(1)
    etree.SubElement(
        pagos,
        f"{{{PAGO20}}}Totales",
        {"MontoTotalPagos": _fmt(amount * rate)},
    )
    pago = etree.SubElement(
        pagos,
        f"{{{PAGO20}}}Pago",
        {
            "FechaPago": paid_on.isoformat(timespec="seconds"),
            "FormaDePagoP": form,
            "MonedaP": currency,
            "TipoCambioP": str(exchange_rate or "1"),
            "Monto": _fmt(amount),
        },
    )
    for docto in paid:
        value = Decimal(str(docto.amount))
        before = Decimal(str(docto.previous_balance or docto.amount))
        attrs_dr = {
            "IdDocumento": docto.invoice_uuid,
            "MonedaDR": docto.currency,
            "EquivalenciaDR": str(docto.equivalence),
            "NumParcialidad": str(docto.partial),
            "ImpSaldoAnt": _fmt(before),
            "ImpPagado": _fmt(value),
            "ImpSaldoInsoluto": _fmt(before - value),
            "ObjetoImpDR": "01",
        }
        if docto.folio:
            attrs_dr = {"Serie": docto.series or "A", "Folio": docto.folio, **attrs_dr}
        etree.SubElement(pago, f"{{{PAGO20}}}DoctoRelacionado", attrs_dr)
    _stamp(complement, uuid, issued + dt.timedelta(minutes=2), attrs["Sello"])
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A zip package like the SAT's bulk downloads, names as given (folders allowed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in entries.items():
            package.writestr(name, data)
    return buffer.getvalue()
