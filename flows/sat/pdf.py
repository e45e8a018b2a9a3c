"""The readable copy (PDF) of a stamped CFDI, invoice or payment complement, drawn
from its XML alone in milliseconds and kept in `cfdi_pdf` so a second ask is instant.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows.errors import InvalidInput
from storage.models import CfdiPdf

log = logging.getLogger(__name__)

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
MAX_CONCEPTS = 80
KINDS = {"I": "Factura", "E": "Nota de crédito", "P": "Complemento de pago"}
METHODS = {
    "PUE": "Pago en una sola exhibición",
    "PPD": "Pago en parcialidades o diferido",
}


@dataclass(frozen=True)
class Line:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclass(frozen=True)
class Paid:
    """One invoice a complement's payment covers."""

    label: str
    uuid: str
    partial: str
    before: str
    paid: str
    after: str


@dataclass(frozen=True)
class Facts:
    """What the readable copy shows, read straight from the stamped XML."""

    kind: str
    label: str
    uuid: str
    issued: str
    stamped: str
    issuer: tuple[str, str, str]
    receiver: tuple[str, str, str]
    currency: str
    subtotal: str
    taxes: str
    total: str
    method: str
    form: str
    use: str
    lines: tuple[Line, ...] = ()
    payments: tuple[tuple[str, str, str, tuple[Paid, ...]], ...] = ()
    seals: tuple[str, str, str] = ("", "", "")


def cached_pdf(
    session: Session, *, business_id: int, uuid: str, xml: str, now: dt.datetime
) -> bytes:
    """The CFDI's PDF: from `cfdi_pdf` when drawn before, else drawn and kept.

    A stamped CFDI never changes, so its copy is kept for good; a cancellation
    drops it (`forget_pdf`) so the next copy says so.
    """
    uuid = uuid.upper()
    found = session.scalar(
        select(CfdiPdf.pdf).where(
            CfdiPdf.business_id == business_id, CfdiPdf.uuid == uuid
        )
    )
    if found is not None:
        return bytes(found)
    started = time.perf_counter()
    content = cfdi_pdf(xml)
    try:
        with session.begin_nested():
            session.add(
                CfdiPdf(business_id=business_id, uuid=uuid, pdf=content, created_at=now)
            )
    except IntegrityError:
        # Another request drew the same copy at the same time; both are equal.
        log.info("cfdi pdf already kept", extra={"business_id": business_id})
    log.info(
        "cfdi pdf drawn",
        extra={
            "business_id": business_id,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return content


def forget_pdf(session: Session, *, business_id: int, uuid: str) -> None:
    session.execute(
        delete(CfdiPdf).where(
            CfdiPdf.business_id == business_id, CfdiPdf.uuid == uuid.upper()
        )
    )


def cfdi_pdf(xml: str | bytes, *, cancelled: bool = False) -> bytes:
    """Draw a CFDI 4.0 (type I, E or P) from its XML; same XML, same bytes."""
    # Drawing needs fpdf, imported only when a PDF is drawn: the commands and the
    # server start without it.
    from flows.sat.pdfdraw import draw

    return draw(read_facts(xml), cancelled=cancelled)


def read_facts(xml: str | bytes) -> Facts:
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(raw, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput("El XML del CFDI no se puede leer.") from exc

    def first(name: str) -> etree._Element | None:
        found = root.xpath(f"//*[local-name()='{name}']")
        return found[0] if found else None

    def party(element: etree._Element | None, regime: str) -> tuple[str, str, str]:
        if element is None:
            return ("", "", "")
        return (
            element.get("Nombre", ""),
            element.get("Rfc", ""),
            element.get(regime, ""),
        )

    stamp = first("TimbreFiscalDigital")
    taxes = root.xpath("./*[local-name()='Impuestos']")
    lines = tuple(
        Line(
            c.get("Descripcion", ""),
            c.get("Cantidad", ""),
            c.get("ValorUnitario", ""),
            c.get("Importe", ""),
        )
        for c in root.xpath("./*[local-name()='Conceptos']/*")[:MAX_CONCEPTS]
    )
    payments = []
    for pago in root.xpath("//*[local-name()='Pago']"):
        paid = tuple(
            Paid(
                label="-".join(p for p in (d.get("Serie"), d.get("Folio")) if p),
                uuid=d.get("IdDocumento", ""),
                partial=d.get("NumParcialidad", ""),
                before=d.get("ImpSaldoAnt", ""),
                paid=d.get("ImpPagado", ""),
                after=d.get("ImpSaldoInsoluto", ""),
            )
            for d in pago.xpath("./*[local-name()='DoctoRelacionado']")
        )
        payments.append(
            (
                pago.get("FechaPago", ""),
                pago.get("Monto", ""),
                pago.get("MonedaP", ""),
                paid,
            )
        )
    receiver = first("Receptor")
    kind = root.get("TipoDeComprobante", "I")
    return Facts(
        kind=kind,
        label="-".join(p for p in (root.get("Serie"), root.get("Folio")) if p),
        uuid=(stamp.get("UUID", "") if stamp is not None else "").upper(),
        issued=root.get("Fecha", ""),
        stamped=stamp.get("FechaTimbrado", "") if stamp is not None else "",
        issuer=party(first("Emisor"), "RegimenFiscal"),
        receiver=party(receiver, "RegimenFiscalReceptor"),
        currency=root.get("Moneda", "MXN"),
        subtotal=root.get("SubTotal", ""),
        taxes=taxes[0].get("TotalImpuestosTrasladados", "") if taxes else "",
        total=root.get("Total", ""),
        method=root.get("MetodoPago", ""),
        form=root.get("FormaPago", ""),
        use=receiver.get("UsoCFDI", "") if receiver is not None else "",
        lines=lines,
        payments=tuple(payments),
        seals=(
            root.get("Sello", ""),
            stamp.get("SelloSAT", "") if stamp is not None else "",
            stamp.get("NoCertificadoSAT", "") if stamp is not None else "",
        ),
    )
