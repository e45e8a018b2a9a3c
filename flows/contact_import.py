"""Bulk set-up of contacts from a CSV or Excel sheet, or the API's bulk upsert.

Rows are matched by RFC; each applies on its own (a savepoint), so a bad row is
reported by line and reason while the good ones still take effect.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from flows.business import (
    get_or_create_contact,
    set_contact_reminders,
    update_contact,
)
from flows.errors import CobraError, InvalidInput, NotFound
from flows.fmt import validate_rfc
from storage import repo
from storage.models import Business, Contact, ContactKind

log = logging.getLogger(__name__)

MAX_ROWS = 10_000
# Column names as people write them, without accents, spaces or case.
COLUMNS = {
    "rfc": "rfc",
    "nombre": "name",
    "name": "name",
    "razonsocial": "name",
    "tipo": "kind",
    "kind": "kind",
    "correo": "emails",
    "correos": "emails",
    "email": "emails",
    "emails": "emails",
    "whatsapp": "whatsapp",
    "telefono": "whatsapp",
    "celular": "whatsapp",
    "diascredito": "terms_days",
    "diasdecredito": "terms_days",
    "credito": "terms_days",
    "termsdays": "terms_days",
    "recordatorioswhatsapp": "whatsapp_reminders",
    "whatsappreminders": "whatsapp_reminders",
    "recordatorios": "reminders",
    "reminders": "reminders",
    "conjuntorecordatorios": "reminder_set",
    "conjuntoderecordatorios": "reminder_set",
    "reminderset": "reminder_set",
}
YES = {"si", "sí", "s", "yes", "y", "1", "true", "on", "x"}
NO = {"no", "n", "0", "false", "off"}
KINDS = {
    "cliente": ContactKind.CUSTOMER,
    "customer": ContactKind.CUSTOMER,
    "proveedor": ContactKind.SUPPLIER,
    "supplier": ContactKind.SUPPLIER,
}


@dataclass(frozen=True)
class ContactRow:
    """One line of the sheet, raw strings as read; `line` as the person sees it."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class RowError:
    line: int
    rfc: str | None
    reason: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    contact_ids: dict[int, int] = field(default_factory=dict)  # line -> contact id

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": len(self.errors),
            "errors": [
                {"line": e.line, "rfc": e.rfc, "reason": e.reason} for e in self.errors
            ],
        }


# --- Reading ------------------------------------------------------------------


def _column(name: object) -> str | None:
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore")
    key = "".join(ch for ch in text.decode().lower() if ch.isalnum())
    return COLUMNS.get(key)


def _rows_from_table(
    table: Iterable[Sequence[Any]], first_line: int
) -> list[ContactRow]:
    rows = iter(table)
    header = next(rows, None)
    if header is None:
        raise InvalidInput("El archivo está vacío.")
    columns = [_column(cell) for cell in header]
    if "rfc" not in columns:
        raise InvalidInput("El archivo necesita una columna RFC en su primera fila.")
    found: list[ContactRow] = []
    for offset, cells in enumerate(rows, start=first_line + 1):
        values = {
            column: cell
            for column, cell in zip(columns, cells, strict=False)
            if column is not None and cell is not None and str(cell).strip() != ""
        }
        if not values:
            continue  # a blank line
        found.append(ContactRow(offset, values))
        if len(found) > MAX_ROWS:
            raise InvalidInput(f"El archivo tiene más de {MAX_ROWS} filas.")
    return found


def read_csv(data: bytes) -> list[ContactRow]:
    """UTF-8 (with or without BOM), else Windows-1252 as Excel saves it in Mexico."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return _rows_from_table(csv.reader(io.StringIO(text), delimiter=delimiter), 1)


def read_xlsx(data: bytes) -> list[ContactRow]:
    """The first sheet of an Excel workbook; line numbers are the sheet's rows."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InvalidInput("No pude leer el archivo de Excel.") from exc
    try:
        sheet = book.worksheets[0]
        return _rows_from_table(sheet.iter_rows(values_only=True), 1)
    finally:
        book.close()


def read_file(path: Path) -> list[ContactRow]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput("El archivo debe ser .csv o .xlsx.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"No pude leer {path.name}.") from exc
    return read_xlsx(data) if suffix == ".xlsx" else read_csv(data)


# --- Applying -----------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel gives numbers as floats: 5512345678.0
    return str(value).strip()


def _flag(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise InvalidInput(f"En {column} escribe sí o no, no «{text[:20]}».")


def _terms(value: Any) -> int:
    try:
        days = int(_text(value))
    except ValueError as exc:
        raise InvalidInput("Los días de crédito deben ser un número entero.") from exc
    return days


def _emails(value: Any) -> list[str]:
    text = _text(value).replace(";", ",")
    return [e.strip() for e in text.split(",") if e.strip()]


def apply_rows(
    session: Session,
    *,
    business: Business,
    rows: Sequence[ContactRow],
    actor: str,
    channel: str,
    now: dt.datetime,
) -> ImportResult:
    """Apply each row in its own savepoint; the caller commits the good ones."""
    result = ImportResult()
    for row in rows:
        raw_rfc = row.values.get("rfc")
        rfc = _text(raw_rfc).upper() if raw_rfc is not None else None
        try:
            with session.begin_nested():
                contact, created = _apply_row(
                    session, business, row, actor=actor, channel=channel, now=now
                )
        except CobraError as exc:
            result.errors.append(RowError(row.line, rfc, exc.message))
            continue
        result.contact_ids[row.line] = contact.id
        if created:
            result.created += 1
        else:
            result.updated += 1
    log.info(
        "contacts imported",
        extra={
            "business_id": business.id,
            "channel": channel,
            "contacts_created": result.created,
            "contacts_updated": result.updated,
            "rejected": len(result.errors),
        },
    )
    return result


def _apply_row(
    session: Session,
    business: Business,
    row: ContactRow,
    *,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> tuple[Contact, bool]:
    values = row.values
    if "rfc" not in values:
        raise InvalidInput("Falta el RFC.")
    rfc = validate_rfc(_text(values["rfc"]))
    kind_text = _text(values.get("kind", "cliente")).lower()
    kind = KINDS.get(kind_text)
    if kind is None:
        raise InvalidInput(
            f"El tipo debe ser cliente o proveedor, no «{kind_text[:20]}»."
        )

    contact = repo.contact_by_rfc(session, business_id=business.id, rfc=rfc, kind=kind)
    created = False
    if contact is None:
        name = _text(values.get("name", ""))
        if not name:
            raise NotFound(f"No existe un contacto con RFC {rfc}; agrega su nombre.")
        contact, created = get_or_create_contact(
            session, business=business, kind=kind, rfc=rfc, name=name, now=now
        )

    emails = _emails(values["emails"]) if "emails" in values else []
    update_contact(
        session,
        contact=contact,
        actor=actor,
        channel=channel,
        now=now,
        whatsapp=_text(values["whatsapp"]) if "whatsapp" in values else None,
        email=emails[0] if emails else None,
        terms_days=_terms(values["terms_days"]) if "terms_days" in values else None,
        whatsapp_reminders=_flag(values["whatsapp_reminders"], "recordatorios_whatsapp")
        if "whatsapp_reminders" in values
        else None,
    )
    for address in emails[1:]:
        update_contact(
            session,
            contact=contact,
            actor=actor,
            channel=channel,
            now=now,
            email=address,
        )
    if "reminders" in values:
        set_contact_reminders(
            session,
            contact=contact,
            enabled=_flag(values["reminders"], "recordatorios"),
            actor=actor,
            channel=channel,
            now=now,
        )
    if "reminder_set" in values:
        _assign_set(
            session,
            business,
            contact,
            _text(values["reminder_set"]),
            actor,
            channel,
            now,
        )
    session.flush()
    return contact, created


def _assign_set(
    session: Session,
    business: Business,
    contact: Contact,
    name: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    from flows.reminders import assign_reminder_set, reminder_set_by_name

    reminder_set = reminder_set_by_name(session, business=business, name=name)
    if reminder_set is None:
        raise NotFound(f"No existe el conjunto de recordatorios «{name[:40]}».")
    assign_reminder_set(
        session,
        business=business,
        reminder_set=reminder_set,
        contacts=[contact],
        now=now,
        actor=actor,
        channel=channel,
    )


def customers_missing(
    session: Session, *, business: Business, what: str = "email"
) -> Sequence[Contact]:
    """Customers with no email (`what="email"`) or no WhatsApp (`"whatsapp"`).

    For the owner's "¿qué clientes no tienen correo?".
    """
    column = Contact.emails if what == "email" else Contact.whatsapp
    return session.scalars(
        select(Contact)
        .where(
            Contact.business_id == business.id,
            Contact.kind == ContactKind.CUSTOMER,
            or_(column.is_(None), column == ""),
        )
        .order_by(Contact.name)
    ).all()
