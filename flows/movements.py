"""Money in and out for a period: the rows, their totals per contact, and the CSV
and XLSX files the owner downloads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from flows.errors import InvalidInput
from flows.fmt import as_utc, zone
from storage.models import (
    Business,
    DepositStatus,
    Payment,
    PaymentAllocation,
    StpDeposit,
)

log = logging.getLogger(__name__)

UNIDENTIFIED = "Depósito sin identificar"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    "fecha",
    "tipo",
    "contacto",
    "rfc",
    "monto",
    "moneda",
    "facturas",
    "referencia",
    "origen",
)


@dataclass(frozen=True)
class Movement:
    """One payment received or made, as the report shows it."""

    day: dt.date
    direction: str  # "in" or "out"
    contact_name: str
    contact_rfc: str
    amount: Decimal
    currency: str
    invoices: str
    reference: str
    source: str

    def row(self) -> list[str]:
        return [
            self.day.isoformat(),
            "entrada" if self.direction == "in" else "salida",
            self.contact_name,
            self.contact_rfc,
            f"{self.amount:.2f}",
            self.currency,
            self.invoices,
            self.reference,
            self.source,
        ]


@dataclass(frozen=True)
class Summary:
    """Totals by direction and currency, and by contact within each."""

    totals: dict[tuple[str, str], Decimal]
    counts: dict[tuple[str, str], int]
    by_contact: dict[tuple[str, str], list[tuple[str, Decimal]]]


def period_bounds(period: str | None, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """First and last local day of "today", "yesterday", "week", "last_week",
    "month", "last_month"; this week for anything else."""
    if period == "today":
        return today, today, "hoy"
    if period == "yesterday":
        yesterday = today - dt.timedelta(days=1)
        return yesterday, yesterday, "ayer"
    if period == "last_week":
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return monday, monday + dt.timedelta(days=6), "la semana pasada"
    if period == "month":
        return today.replace(day=1), today, "este mes"
    if period == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last, "el mes pasado"
    start = today - dt.timedelta(days=today.weekday())
    return start, today, "esta semana"


def movements(
    session: Session,
    *,
    business: Business,
    start: dt.date,
    end: dt.date,
    contact_id: int | None = None,
) -> list[Movement]:
    """Payments in and out (not undone) from `start` to `end`, local days, inclusive."""
    if end < start:
        raise InvalidInput("La fecha final es anterior a la inicial.")
    tz = zone(business.timezone)
    since = dt.datetime.combine(start, dt.time(0), tz).astimezone(dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tz).astimezone(
        dt.UTC
    )
    query = (
        select(Payment)
        .where(
            Payment.business_id == business.id,
            Payment.reversed_at.is_(None),
            Payment.paid_at >= since,
            Payment.paid_at < until,
        )
        .options(
            selectinload(Payment.contact),
            selectinload(Payment.allocations).selectinload(PaymentAllocation.invoice),
        )
        .order_by(Payment.paid_at, Payment.id)
    )
    if contact_id is not None:
        query = query.where(Payment.contact_id == contact_id)
    rows: list[Movement] = []
    for payment in session.scalars(query):
        contact = payment.contact
        rows.append(
            Movement(
                day=as_utc(payment.paid_at).astimezone(tz).date(),
                direction="in" if payment.direction == "in" else "out",
                contact_name=contact.display_name,
                contact_rfc=contact.rfc,
                amount=payment.amount,
                currency=payment.currency,
                invoices=", ".join(a.invoice.label for a in payment.allocations),
                reference=payment.reference or "",
                source=payment.source,
            )
        )
    if contact_id is None:
        rows.extend(_waiting_deposits(session, business.id, start, end))
    rows.sort(key=lambda m: (m.day, m.direction))
    return rows


def summarize(rows: Sequence[Movement]) -> Summary:
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    per: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for row in rows:
        key = (row.direction, row.currency)
        totals[key] += row.amount
        counts[key] += 1
        per[key][row.contact_name] += row.amount
    by_contact = {
        key: sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))
        for key, names in per.items()
    }
    return Summary(dict(totals), dict(counts), by_contact)


def to_csv(rows: Sequence[Movement]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.row())
    return buffer.getvalue()


def to_xlsx(rows: Sequence[Movement], *, title: str) -> bytes:
    """A workbook with the movements (amounts as numbers) and a totals sheet."""
    from openpyxl import Workbook  # local: only the export needs it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Movimientos"
    sheet.append(list(COLUMNS))
    for row in rows:
        values: list[object] = list(row.row())
        values[0] = row.day
        values[4] = row.amount
        sheet.append(values)
    for cell in sheet["E"][1:]:
        cell.number_format = "#,##0.00"
    for column, width in zip(
        "ABCDEFGHI", (12, 10, 36, 15, 14, 8, 24, 30, 10), strict=True
    ):
        sheet.column_dimensions[column].width = width

    totals = book.create_sheet("Totales")
    totals.append([title])
    totals.append(["tipo", "moneda", "pagos", "total"])
    summary = summarize(rows)
    for (direction, currency), amount in sorted(summary.totals.items()):
        kind = "entrada" if direction == "in" else "salida"
        totals.append([kind, currency, summary.counts[(direction, currency)], amount])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_filename(start: dt.date, end: dt.date) -> str:
    return f"movimientos_{start}_{end}.xlsx"


def _waiting_deposits(
    session: Session, business_id: int, start: dt.date, end: dt.date
) -> list[Movement]:
    """Deposits that are no customer's payment (yet): money in all the same."""
    deposits = session.scalars(
        select(StpDeposit).where(
            StpDeposit.business_id == business_id,
            StpDeposit.status.in_((DepositStatus.UNAPPLIED, DepositStatus.DISMISSED)),
            StpDeposit.fecha_operacion >= start,
            StpDeposit.fecha_operacion <= end,
        )
    ).all()
    return [
        Movement(
            day=d.fecha_operacion,
            direction="in",
            contact_name=UNIDENTIFIED
            if d.status == DepositStatus.UNAPPLIED
            else (d.payer_name or "Depósito"),
            contact_rfc="",
            amount=d.amount,
            currency=d.currency,
            invoices="",
            reference=d.clave_rastreo,
            source="stp",
        )
        for d in deposits
    ]
