"""Read the fields Cobra needs from a CFDI 4.0 document, fast, with bare lxml.

`read_cfdi(data)` returns a `Cfdi` or raises `InvalidInput` with the reason in
Spanish (not XML, not a CFDI, another version, no timbre, totals that do not add up).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from flows.errors import InvalidInput

CFDI4 = "http://www.sat.gob.mx/cfd/4"
CFDI3 = "http://www.sat.gob.mx/cfd/3"
TFD = "http://www.sat.gob.mx/TimbreFiscalDigital"
PAGOS20 = "http://www.sat.gob.mx/Pagos20"
PAGOS10 = "http://www.sat.gob.mx/Pagos"

_C = "{" + CFDI4 + "}"
_P = "{" + PAGOS20 + "}"
COMPROBANTE = _C + "Comprobante"
EMISOR = _C + "Emisor"
RECEPTOR = _C + "Receptor"
CONCEPTOS = _C + "Conceptos"
IMPUESTOS = _C + "Impuestos"
COMPLEMENTO = _C + "Complemento"
RELACIONADOS = _C + "CfdiRelacionados"
RELACIONADO = _C + "CfdiRelacionado"
TIMBRE = "{" + TFD + "}TimbreFiscalDigital"
PAGOS = _P + "Pagos"
PAGO = _P + "Pago"
DOCTO = _P + "DoctoRelacionado"

# The tolerance for sums of amounts that each carry their own rounding.
TOLERANCE = Decimal("0.01")
ZERO = Decimal("0")
UUID_RE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")

# Entities are never expanded and nothing is fetched from the network, so a
# hostile file cannot read local files or make the importer call out.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)


@dataclass(frozen=True, slots=True)
class PaidDocument:
    """One `DoctoRelacionado` of a Pagos 2.0 complement, in the invoice's currency."""

    line: int
    invoice_uuid: str
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    method: str | None
    partial_number: int | None


@dataclass(slots=True)
class Cfdi:
    """The fields of one stamped CFDI 4.0 that the import uses; times are local."""

    uuid: str
    cfdi_type: str
    series: str | None
    folio: str | None
    issued_at: dt.datetime
    currency: str
    exchange_rate: Decimal | None
    subtotal: Decimal
    total: Decimal
    payment_method: str | None
    payment_form: str | None
    payment_terms: str | None
    issuer_rfc: str
    issuer_name: str
    issuer_regime: str | None
    receiver_rfc: str
    receiver_name: str
    receiver_regime: str | None
    receiver_postal_code: str | None
    description: str | None
    related: list[tuple[str, str]] = field(default_factory=list)
    payments: list[PaidDocument] = field(default_factory=list)


def read_cfdi(data: bytes) -> Cfdi:
    """The fields of a stamped CFDI 4.0 (I, E or P); InvalidInput says why not."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput("no es un XML válido") from exc
    except ValueError as exc:
        raise InvalidInput("no es un XML válido") from exc

    if root.tag != COMPROBANTE:
        if root.tag == "{" + CFDI3 + "}Comprobante":
            raise InvalidInput(
                f"es un CFDI {root.get('Version') or '3.x'}; sólo se importa CFDI 4.0"
            )
        raise InvalidInput("no es un CFDI (falta cfdi:Comprobante)")
    if root.get("Version") != "4.0":
        raise InvalidInput(f"versión de CFDI no soportada: {root.get('Version')}")

    # One pass over the Comprobante's children: lxml's find() goes through its
    # path engine on every call, several times dearer than reading each tag once.
    issuer = receiver = concepts = taxes = complement = None
    relations: list[etree._Element] = []
    for child in root:
        tag = child.tag
        if tag == EMISOR:
            issuer = issuer if issuer is not None else child
        elif tag == RECEPTOR:
            receiver = receiver if receiver is not None else child
        elif tag == CONCEPTOS:
            concepts = concepts if concepts is not None else child
        elif tag == IMPUESTOS:
            taxes = taxes if taxes is not None else child
        elif tag == COMPLEMENTO:
            complement = complement if complement is not None else child
        elif tag == RELACIONADOS:
            relations.append(child)

    uuid = _uuid(complement)
    cfdi_type = root.get("TipoDeComprobante") or ""
    if cfdi_type not in ("I", "E", "P"):
        kinds = {"T": "traslado", "N": "nómina"}
        name = kinds.get(cfdi_type, cfdi_type or "sin tipo")
        raise InvalidInput(f"CFDI de tipo {name}; sólo se importan I, E y P")

    if issuer is None:
        raise InvalidInput("falta el nodo Emisor")
    if receiver is None:
        raise InvalidInput("falta el nodo Receptor")
    cfdi = Cfdi(
        uuid=uuid,
        cfdi_type=cfdi_type,
        series=root.get("Serie"),
        folio=root.get("Folio"),
        issued_at=_datetime(root.get("Fecha"), "Fecha"),
        currency=root.get("Moneda") or "",
        exchange_rate=_optional_amount(root.get("TipoCambio"), "TipoCambio"),
        subtotal=_amount(root.get("SubTotal"), "SubTotal"),
        total=_amount(root.get("Total"), "Total"),
        payment_method=root.get("MetodoPago"),
        payment_form=root.get("FormaPago"),
        payment_terms=root.get("CondicionesDePago"),
        issuer_rfc=_rfc(issuer, "Emisor"),
        issuer_name=(issuer.get("Nombre") or "").strip(),
        issuer_regime=issuer.get("RegimenFiscal"),
        receiver_rfc=_rfc(receiver, "Receptor"),
        receiver_name=(receiver.get("Nombre") or "").strip(),
        receiver_regime=receiver.get("RegimenFiscalReceptor"),
        receiver_postal_code=receiver.get("DomicilioFiscalReceptor"),
        description=None,
    )
    for group in relations:
        kind = group.get("TipoRelacion") or ""
        for related in group.iterchildren(RELACIONADO):
            cfdi.related.append((kind, (related.get("UUID") or "").upper()))

    if cfdi_type == "P":
        cfdi.payments = _payments(complement, cfdi.issued_at)
    else:
        cfdi.description = _check_amounts(root, concepts, taxes, cfdi)
    return cfdi


def _uuid(complement: etree._Element | None) -> str:
    stamp = None
    if complement is not None:
        stamp = next(complement.iterchildren(TIMBRE), None)
    if stamp is None:
        raise InvalidInput("no está timbrado (falta el TimbreFiscalDigital)")
    uuid = (stamp.get("UUID") or "").strip().upper()
    if not UUID_RE.match(uuid):
        raise InvalidInput("el TimbreFiscalDigital no trae un UUID válido")
    return uuid


def _rfc(node: etree._Element, name: str) -> str:
    rfc = (node.get("Rfc") or "").strip().upper()
    if not 12 <= len(rfc) <= 13:
        raise InvalidInput(f"el RFC del {name} no es válido")
    return rfc


def _amount(raw: str | None, name: str) -> Decimal:
    if raw is None:
        raise InvalidInput(f"falta el atributo {name}")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidInput(f"{name} no es un número: {raw[:20]}") from exc
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{name} no es un importe válido: {raw[:20]}")
    return value


def _optional_amount(raw: str | None, name: str) -> Decimal | None:
    return None if raw is None else _amount(raw, name)


def _datetime(raw: str | None, name: str) -> dt.datetime:
    if not raw:
        raise InvalidInput(f"falta el atributo {name}")
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError as exc:
        raise InvalidInput(f"{name} no es una fecha válida: {raw[:25]}") from exc


def _check_amounts(
    root: etree._Element,
    concepts: etree._Element | None,
    taxes: etree._Element | None,
    cfdi: Cfdi,
) -> str | None:
    """Conceptos add up to SubTotal and SubTotal, discount and taxes to Total.

    Returns the description of the first concept, the invoice's short description.
    """
    if concepts is None or len(concepts) == 0:
        raise InvalidInput("no trae conceptos")
    lines = ZERO
    description = None
    for concept in concepts:
        lines += _amount(concept.get("Importe"), "Importe del concepto")
        if description is None:
            description = concept.get("Descripcion")
    if abs(lines - cfdi.subtotal) > TOLERANCE:
        raise InvalidInput(
            f"los conceptos suman {lines} y el SubTotal dice {cfdi.subtotal}"
        )

    discount = _optional_amount(root.get("Descuento"), "Descuento") or ZERO
    transferred = withheld = ZERO
    if taxes is not None:
        transferred = (
            _optional_amount(
                taxes.get("TotalImpuestosTrasladados"), "TotalImpuestosTrasladados"
            )
            or ZERO
        )
        withheld = (
            _optional_amount(
                taxes.get("TotalImpuestosRetenidos"), "TotalImpuestosRetenidos"
            )
            or ZERO
        )
    expected = cfdi.subtotal - discount + transferred - withheld
    if abs(expected - cfdi.total) > TOLERANCE:
        raise InvalidInput(
            f"el Total ({cfdi.total}) no cuadra con SubTotal, descuento e "
            f"impuestos ({expected})"
        )
    if not cfdi.currency:
        raise InvalidInput("falta el atributo Moneda")
    if description:
        description = description[:1000]
    return description


def _payments(
    complement: etree._Element | None, issued_at: dt.datetime
) -> list[PaidDocument]:
    """The documents a Pagos 2.0 complement pays, each in its invoice's currency."""
    pagos = complement.find(PAGOS) if complement is not None else None
    if pagos is None:
        old = (
            complement.find("{" + PAGOS10 + "}Pagos")
            if complement is not None
            else None
        )
        if old is not None:
            raise InvalidInput("complemento de pagos 1.0; sólo se importa Pagos 2.0")
        raise InvalidInput("CFDI de pago sin complemento Pagos 2.0")

    result: list[PaidDocument] = []
    for pago in pagos.iterfind(PAGO):
        paid_at = _datetime(pago.get("FechaPago"), "FechaPago")
        method = pago.get("FormaDePagoP")
        total = _amount(pago.get("Monto"), "Monto")
        applied = ZERO
        for docto in pago.iterfind(DOCTO):
            amount = _amount(docto.get("ImpPagado"), "ImpPagado")
            # EquivalenciaDR: units of the invoice's currency per unit of the
            # payment's; the amount paid is already in the invoice's currency.
            equivalence = _optional_amount(
                docto.get("EquivalenciaDR"), "EquivalenciaDR"
            )
            if equivalence is not None and equivalence == 0:
                raise InvalidInput("EquivalenciaDR no puede ser cero")
            applied += amount / (equivalence or Decimal(1))
            invoice_uuid = (docto.get("IdDocumento") or "").strip().upper()
            if not UUID_RE.match(invoice_uuid):
                raise InvalidInput("un DoctoRelacionado no trae un IdDocumento válido")
            partial = docto.get("NumParcialidad")
            result.append(
                PaidDocument(
                    line=len(result) + 1,
                    invoice_uuid=invoice_uuid,
                    amount=amount,
                    currency=docto.get("MonedaDR") or pago.get("MonedaP") or "MXN",
                    paid_at=paid_at,
                    method=method,
                    partial_number=int(partial)
                    if partial and partial.isdigit()
                    else None,
                )
            )
        # The SAT lets each converted amount round on its own; allow for that.
        if applied - total > max(TOLERANCE * 10, total / 10000):
            raise InvalidInput(
                f"los documentos relacionados suman {applied:.2f} y el pago es de "
                f"{total}"
            )
    if not result:
        raise InvalidInput("el complemento de pagos no relaciona ningún documento")
    return result
