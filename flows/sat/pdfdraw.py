"""Drawing a CFDI's readable copy from its `Facts` (see `flows.sat.pdf`)."""

from __future__ import annotations

import datetime as dt

from flows.pdfpage import LetterPage, amount_text, quantity_text
from flows.sat.pdf import KINDS, METHODS, Facts


def draw(facts: Facts, *, cancelled: bool) -> bytes:
    """The PDF's bytes; the same facts always give the same bytes."""
    pdf = _Page(facts)
    pdf.add_page()
    _header(pdf, facts, cancelled=cancelled)
    if facts.kind == "P":
        _payments(pdf, facts)
    else:
        _lines(pdf, facts)
        _totals(pdf, facts)
    _seals(pdf, facts)
    return bytes(pdf.output())


class _Page(LetterPage):
    """A CFDI's copy: smaller type, and the page says what kind of document it is."""

    TEXT_SIZE = 9
    LINE_FACTOR = 0.45
    FOOTER_SIZE = 7
    FOOTER_HEIGHT = 5
    ROW_SIZE = 8
    ROW_HEIGHT = 5.5
    ROW_CHARS = 80

    def __init__(self, facts: Facts) -> None:
        # A fixed creation date: the same XML always gives the same bytes.
        super().__init__(
            "Este documento es una representación impresa de un CFDI.",
            dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        )
        self.set_title(f"{KINDS.get(facts.kind, 'CFDI')} {facts.label or facts.uuid}")


def _header(pdf: _Page, facts: Facts, *, cancelled: bool) -> None:
    name, rfc, regime = facts.issuer
    pdf.line_text(name, size=15, bold=True)
    pdf.line_text(f"RFC {rfc} · Régimen fiscal {regime}")
    pdf.ln(2)
    title = f"{KINDS.get(facts.kind, 'CFDI')} {facts.label}".strip()
    pdf.line_text(title, size=12, bold=True)
    if cancelled:
        pdf.set_text_color(180, 0, 0)
        pdf.line_text("CANCELADO", size=12, bold=True)
        pdf.set_text_color(0, 0, 0)
    pdf.line_text(f"Folio fiscal (UUID): {facts.uuid or 'sin timbrar'}")
    pdf.line_text(f"Fecha de emisión: {facts.issued}   Timbrado: {facts.stamped}")
    name, rfc, regime = facts.receiver
    pdf.ln(2)
    pdf.line_text("Receptor", bold=True)
    pdf.line_text(f"{name} · RFC {rfc} · Régimen {regime} · Uso {facts.use}")
    if facts.kind != "P":
        method = METHODS.get(facts.method, facts.method)
        pdf.line_text(f"Método de pago: {method} · Forma de pago: {facts.form}")
    pdf.ln(3)


def _lines(pdf: _Page, facts: Facts) -> None:
    pdf.row(
        [
            ("Concepto", 100, "L"),
            ("Cant.", 16, "R"),
            ("P. unit.", 33, "R"),
            ("Importe", 35, "R"),
        ],
        bold=True,
    )
    for line in facts.lines:
        pdf.row(
            [
                (line.description, 100, "L"),
                (quantity_text(line.quantity), 16, "R"),
                (amount_text(line.unit_price, facts.currency), 33, "R"),
                (amount_text(line.amount, facts.currency), 35, "R"),
            ]
        )
    pdf.ln(2)


def _totals(pdf: _Page, facts: Facts) -> None:
    totals = [("Subtotal", facts.subtotal)]
    if facts.taxes:
        totals.append(("IVA trasladado", facts.taxes))
    totals.append(("Total", facts.total))
    for name, value in totals:
        pdf.row(
            [
                ("", 100, "L"),
                (name, 49, "R"),
                (amount_text(value, facts.currency), 35, "R"),
            ],
            bold=name == "Total",
        )
    pdf.ln(3)


def _payments(pdf: _Page, facts: Facts) -> None:
    for when, amount, currency, paid in facts.payments:
        pdf.line_text(
            f"Pago del {when[:10]} por {amount_text(amount, currency or 'MXN')}",
            bold=True,
        )
        pdf.row(
            [
                ("Factura", 28, "L"),
                ("Folio fiscal", 64, "L"),
                ("Parc.", 12, "R"),
                ("Saldo ant.", 27, "R"),
                ("Pagado", 26, "R"),
                ("Saldo", 27, "R"),
            ],
            bold=True,
        )
        for item in paid:
            pdf.row(
                [
                    (item.label, 28, "L"),
                    (item.uuid, 64, "L"),
                    (item.partial, 12, "R"),
                    (amount_text(item.before, currency), 27, "R"),
                    (amount_text(item.paid, currency), 26, "R"),
                    (amount_text(item.after, currency), 27, "R"),
                ]
            )
        pdf.ln(3)


def _seals(pdf: _Page, facts: Facts) -> None:
    seal, sat_seal, sat_certificate = facts.seals
    pdf.ln(2)
    pdf.line_text("Sello digital del emisor", size=7, bold=True)
    pdf.line_text(seal, size=6)
    pdf.line_text("Sello del SAT", size=7, bold=True)
    pdf.line_text(sat_seal, size=6)
    pdf.line_text(f"Certificado del SAT: {sat_certificate}", size=7)
