"""The page Cobra draws its PDFs on (invoices, statements, CFDI copies): Letter
paper, core fonts so nothing is loaded from disk, a footer on every page, text
lines and table rows; and how amounts and quantities read on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from flows.fmt import money


class LetterPage(FPDF):
    """A page with `footer_text` at the bottom; subclasses set the type sizes."""

    TEXT_SIZE: float = 10
    LINE_FACTOR = 0.5  # a text line's height per point of type
    FOOTER_SIZE = 8
    FOOTER_HEIGHT: float = 6
    ROW_SIZE = 9
    ROW_HEIGHT = 6.0
    ROW_CHARS = 70  # a table cell's text is cut here

    def __init__(self, footer_text: str, created: dt.datetime) -> None:
        super().__init__(format="Letter")
        self.footer_text = footer_text
        self.set_creation_date(created)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(16, 16, 16)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", self.FOOTER_SIZE)
        self.set_text_color(110, 110, 110)
        self.cell(0, self.FOOTER_HEIGHT, latin(self.footer_text), align="C")

    def line_text(
        self, text: str, *, size: float | None = None, bold: bool = False
    ) -> None:
        size = self.TEXT_SIZE if size is None else size
        self.set_font("Helvetica", "B" if bold else "", size)
        self.multi_cell(
            0,
            size * self.LINE_FACTOR + 1,
            latin(text),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def row(
        self, cells: Sequence[tuple[str, float, str]], *, bold: bool = False
    ) -> None:
        self.set_font("Helvetica", "B" if bold else "", self.ROW_SIZE)
        for text, width, align in cells:
            self.cell(
                width,
                self.ROW_HEIGHT,
                latin(text)[: self.ROW_CHARS],
                border="B",
                align=align,
            )
        self.ln(self.ROW_HEIGHT)


def latin(text: str) -> str:
    """Core PDF fonts speak Latin-1: Spanish is fine, emoji and others become '?'."""
    # Limitation: no TrueType font is embedded (it would add a font file to the
    # package), so names with characters outside Latin-1 print with '?'.
    return text.encode("latin-1", "replace").decode("latin-1")


def amount_text(raw: str, currency: str) -> str:
    """An amount as the XML wrote it, shown as money; left as written if unreadable."""
    try:
        return money(Decimal(raw), currency or "MXN")
    except (InvalidOperation, ValueError):
        return raw


def quantity_text(raw: str) -> str:
    """A quantity without trailing zeros (`2.000000` reads `2`)."""
    try:
        return f"{Decimal(raw).normalize():f}"
    except (InvalidOperation, ValueError):
        return raw
