"""Files the team sends in the chat: CFDI for the books, a sheet of contacts.

An XML forwarded on WhatsApp or Telegram (or a zip of them, as the SAT's portal
hands them out) is imported at once, as `cobra import-cfdi` would, and answered
with what it added. A CSV or Excel sheet of customers and suppliers is read and
counted, and set up after a «Sí». A photo or PDF alone is asked about: Cobra does
not read amounts from images.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from flows.cfdi import ImportReport, count_documents, import_in_session, read_cfdi
from flows.contact_import import ImportResult, apply_rows, read_csv, read_xlsx
from flows.errors import InvalidInput
from flows.fmt import money, short_date
from flows.messages import Media, Reply
from handlers import actions
from handlers.common import capped, contact_totals
from handlers.context import Turn
from storage.models import Contact, Invoice

log = logging.getLogger(__name__)

SHEET_ACTION = "import_contacts"
CSV_TYPES = ("text/csv", "text/comma-separated-values", "application/csv")
PICTURE_TYPES = ("image/", "application/pdf")
MAX_DOCUMENTS = 300  # CFDI per message
SNIFF_BYTES = 1024  # what is read of a file to tell its kind


def voice_only(turn: Turn) -> bool:
    """A voice note (or any audio) with no words: nothing Cobra can read."""
    media = turn.inbound.media
    return (
        bool(media)
        and not turn.inbound.text.strip()
        and all(m.content_type.startswith("audio/") for m in media)
    )


def receive(turn: Turn) -> Reply | None:
    """The answer to a message that carries a file the team sent, or None when
    its words should be read as usual (a caption such as «Acme me pagó 5 mil»)."""
    kept = [m for m in turn.inbound.media if m.stored_path]
    if not kept and turn.inbound.media:
        return Reply().say(
            "No pude descargar el archivo que mandaste. ¿Me lo reenvías?"
        )
    documents: list[tuple[str, bytes]] = []
    sheet: tuple[Media, str] | None = None
    pictures = 0
    for item in kept:
        path = Path(item.stored_path or "")
        kind = _kind(item, path)
        if kind == "cfdi":
            documents.append((f"archivo {len(documents) + 1}", path.read_bytes()))
        elif kind in ("csv", "xlsx") and sheet is None:
            sheet = (item, kind)
        elif item.content_type.startswith(PICTURE_TYPES):
            pictures += 1
    if documents:
        return _import_cfdi(turn, documents)
    if sheet is not None:
        return _propose_sheet(turn, *sheet)
    if pictures and not turn.inbound.text.strip():
        return Reply().say(
            "Recibí tu archivo. Si es un comprobante de pago, dime de quién y de "
            "cuánto («Acme me pagó 5 mil») y lo registro. Para dar de alta facturas "
            "mándame su XML; para contactos, un Excel o CSV con RFC y nombre."
        )
    if kept and not pictures and not turn.inbound.text.strip():
        return Reply().say(
            "No sé qué hacer con ese archivo. Puedo leer el XML de una factura (o un "
            "zip con varios) y un Excel o CSV de clientes con RFC y nombre."
        )
    return None


def _kind(item: Media, path: Path) -> str | None:
    """ "cfdi", "xlsx", "csv" or None, by what the file holds more than its label
    (its first bytes, and a zip's table of contents: a photo is not read whole)."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "cfdi"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return None
        return "xlsx" if "xl/workbook.xml" in names else "cfdi"
    content_type = item.content_type.split(";")[0].strip().lower()
    if content_type in CSV_TYPES or (item.stored_path or "").lower().endswith(".csv"):
        return "csv"
    return None


# --- CFDI ---------------------------------------------------------------------


def _import_cfdi(turn: Turn, documents: list[tuple[str, bytes]]) -> Reply:
    # Limitation: the import runs inside the turn, and the channel waits for its
    # answer (Twilio gives up after 15 s); hence the cap, and the SAT sync for
    # whole years.
    count = count_documents(documents)
    if count > MAX_DOCUMENTS:
        return Reply().say(
            f"Eso trae {count} archivos; por aquí importo hasta {MAX_DOCUMENTS} a la "
            "vez. Mándalos en partes, o conecta tu e.firma («sube mi e.firma») y "
            "traigo tus facturas del SAT solo."
        )
    report = import_in_session(
        turn.session,
        business_id=turn.business.id,
        sources=documents,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
    )
    log.info(
        "cfdi received in chat",
        extra={
            "business_id": turn.business.id,
            "channel": turn.channel,
            "documents": len(documents),
            "imported": report.imported,
            "rejected": report.rejected,
        },
    )
    if len(documents) == 1 and report.rejected == 0:
        single = _single_invoice(turn, documents[0][1])
        if single is not None:
            return Reply().say(_invoice_line(turn, single, report))
    return Reply().say(_summary(report))


def _single_invoice(turn: Turn, data: bytes) -> Invoice | None:
    try:
        uuid = read_cfdi(data).uuid
    except InvalidInput:
        return None
    return turn.session.scalar(
        select(Invoice).where(
            Invoice.business_id == turn.business.id, Invoice.uuid == uuid
        )
    )


def _invoice_line(turn: Turn, invoice: Invoice, report: ImportReport) -> str:
    contact = invoice.contact
    amount = money(invoice.total, invoice.currency)
    receivable = invoice.direction == "receivable"
    if report.duplicates:
        head = f"Esa factura ya la tenía: {invoice.label} de {contact.display_name}"
        return f"{head} por {amount}."
    whose = "por cobrar a" if receivable else "por pagar a"
    name = contact.display_name
    line = f"Guardé la factura {invoice.label} {whose} {name} por {amount}"
    if invoice.status == "pending" and invoice.due_date is not None:
        line += f", vence el {short_date(invoice.due_date, today=turn.today)}"
    line += "."
    if receivable:
        totals = contact_totals(turn, contact)
        owed = totals.get(invoice.currency)
        if owed is not None:
            line += (
                f" {contact.display_name} te debe en total "
                f"{money(owed[0], invoice.currency)}."
            )
    return line


_KINDS = (
    ("receivables", "por cobrar"),
    ("payables", "por pagar"),
    ("credit_notes", "notas de crédito"),
    ("complements", "complementos de pago"),
)


def _summary(report: ImportReport) -> str:
    parts = [
        f"{count} {label}"
        for field, label in _KINDS
        if (count := getattr(report, field))
    ]
    lines = []
    if report.imported:
        lines.append(f"Importé {report.imported} CFDI: {', '.join(parts)}.")
    if report.payments_applied:
        lines.append(f"Apliqué {report.payments_applied} pagos de los complementos.")
    if report.duplicates:
        lines.append(f"{report.duplicates} ya los tenía; no los dupliqué.")
    if report.rejections:
        lines.append(f"No importé {report.rejected}:")
        lines += capped(
            [f"• {_shown(r.name)}: {r.reason}" for r in report.rejections], ""
        )
    if report.warnings:
        lines.append(
            f"{len(report.warnings)} pagos esperan su factura; los aplico cuando "
            "llegue."
        )
    return "\n".join(lines) or "El archivo no traía CFDI."


def _shown(name: str) -> str:
    """A zip's member by its own name; a file sent alone as "archivo 1"."""
    return name.partition(":")[2] or name


# --- Contacts -----------------------------------------------------------------


def _read_sheet(data: bytes, kind: str) -> list[Any]:
    return read_xlsx(data) if kind == "xlsx" else read_csv(data)


def _propose_sheet(turn: Turn, item: Media, kind: str) -> Reply:
    path = item.stored_path or ""
    rows = _read_sheet(Path(path).read_bytes(), kind)
    if not rows:
        raise InvalidInput(
            "El archivo no trae contactos. La primera fila debe tener los "
            "encabezados (RFC, Nombre, y si quieres Tipo, Correo, WhatsApp, Días de "
            "crédito) y cada fila siguiente un contacto."
        )
    rfcs = {
        str(row.values.get("rfc") or "").strip().upper()
        for row in rows
        if row.values.get("rfc")
    }
    known = 0
    if rfcs:
        known = len(
            turn.session.scalars(
                select(Contact.id).where(
                    Contact.business_id == turn.business.id, Contact.rfc.in_(rfcs)
                )
            ).all()
        )
    count = len(rows)
    noun = "contacto" if count == 1 else "contactos"
    question = f"El archivo trae {count} {noun}"
    if known:
        question += f"; {known} ya los tengo y les actualizo los datos"
    question += ". ¿Los doy de alta?"
    payload = {"path": path, "kind": kind}
    return actions.propose(turn, SHEET_ACTION, payload, question)


def do_import_sheet(turn: Turn, payload: dict[str, Any]) -> Reply:
    try:
        data = Path(payload["path"]).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "Ya no tengo ese archivo; mándamelo otra vez, por favor."
        ) from exc
    result = apply_rows(
        turn.session,
        business=turn.business,
        rows=_read_sheet(data, payload["kind"]),
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(_sheet_summary(result))


def _sheet_summary(result: ImportResult) -> str:
    done = []
    if result.created:
        done.append(f"di de alta {result.created}")
    if result.updated:
        done.append(f"actualicé {result.updated}")
    lines = [f"Listo: {' y '.join(done)}." if done else "No di de alta a nadie."]
    if result.errors:
        lines.append(f"{len(result.errors)} renglones no pasaron:")
        lines += capped(
            [f"• Renglón {e.line}: {e.reason}" for e in result.errors],
            "Corrígelos en el archivo y mándamelo otra vez: los que ya entraron no "
            "se duplican.",
        )
    return "\n".join(lines)


actions.register(SHEET_ACTION, do_import_sheet)
