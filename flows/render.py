"""Turns an outbox row into a message for its channel, from the es-MX templates.

Email uses `prompts/email/<template>.{subject,txt,html}.j2`; WhatsApp and Telegram
use `prompts/messages/<template>.txt.j2`. Payloads hold raw values (amounts as
strings, dates in ISO); formatting happens here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.fmt import as_utc, money, short_date
from flows.messages import Button
from flows.outbox import Attachment, RenderedMessage
from flows.sat.notices import cfdi_attachments
from storage.models import Contact, InboundMessage, Invoice, OutboundMessage

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
WHATSAPP_WINDOW = dt.timedelta(hours=24)
MAX_XML_ATTACHMENTS = 5


def _money(value: str | Decimal | int, currency: str = "MXN") -> str:
    return money(Decimal(str(value)), currency)


def _date(value: str | dt.date, today: str | dt.date | None = None) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    ref = dt.date.fromisoformat(today) if isinstance(today, str) else today
    return short_date(day, today=ref)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PROMPTS)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["money"] = _money
    env.filters["fecha"] = _date
    env.globals["plural"] = _plural
    return env


def render_text(name: str, payload: dict[str, Any]) -> str:
    """One template file under prompts/, e.g. `messages/reminder.txt.j2`.

    A message whose template has no file but whose payload carries its own `text`
    (and, for email, `subject`) is shown as it came.
    """
    try:
        template = environment().get_template(name)
    except TemplateNotFound:
        if "text" not in payload:
            raise
        if name.endswith(".subject.j2"):
            return str(payload.get("subject") or payload.get("business_name") or "")
        if name.endswith(".html.j2"):
            body = escape(str(payload["text"])).replace("\n", Markup("<br>"))
            return str(Markup("<p>") + body + Markup("</p>"))
        return str(payload["text"]).strip()
    return template.render(**payload).strip()


def render_outbound(
    session: Session, row: OutboundMessage, now: dt.datetime
) -> RenderedMessage:
    """The row as its channel's sender needs it."""
    if row.channel == "webhook":
        from flows.webhooks_out import render_webhook  # signs at each attempt

        return render_webhook(session, row, now)
    payload = dict(row.payload or {})
    buttons = tuple(
        Button(b["title"], b["payload"]) for b in payload.get("buttons", [])
    )
    if row.channel == "email":
        return RenderedMessage(
            outbox_id=row.id,
            channel=row.channel,
            recipient=row.recipient,
            subject=render_text(f"email/{row.template}.subject.j2", payload),
            text=render_text(f"email/{row.template}.txt.j2", payload),
            html=render_text(f"email/{row.template}.html.j2", payload),
            attachments=_attachments(session, payload)
            + cfdi_attachments(session, payload, now=now),
            buttons=buttons,
            message_id=message_id(row),
        )
    text = render_text(f"messages/{row.template}.txt.j2", payload)
    return RenderedMessage(
        outbox_id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        subject=text.splitlines()[0] if text else row.template,
        text=text,
        attachments=_carried_files(payload),
        buttons=buttons,
        whatsapp_template=row.template,
        variables=whatsapp_variables(row.template, payload),
        template_required=_needs_template(session, row, now),
    )


def message_id(row: OutboundMessage) -> str:
    """The email's Message-ID left part: the same on every retry of the row."""
    digest = hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:16]
    return f"cobra.{row.id}.{digest}"


def whatsapp_variables(template: str, payload: dict[str, Any]) -> dict[str, str]:
    """The numbered variables of the approved WhatsApp template of each message."""
    name = str(payload.get("contact_name", ""))
    business = str(payload.get("business_name", ""))
    if template in ("reminder", "statement"):
        totals = payload.get("totals", [])
        total = ", ".join(_money(t["amount"], t["currency"]) for t in totals)
        return {
            "1": name,
            "2": business,
            "3": total,
            "4": payload.get("portal_url", ""),
        }
    if template == "payment_receipt":
        remaining = payload.get("remaining", [])
        rest = ", ".join(_money(t["amount"], t["currency"]) for t in remaining)
        return {
            "1": name,
            "2": _money(payload["amount"], payload["currency"]),
            "3": business,
            "4": rest or _money(0, payload["currency"]),
        }
    return {"1": render_text(f"messages/{template}.txt.j2", payload)[:1000]}


def _needs_template(session: Session, row: OutboundMessage, now: dt.datetime) -> bool:
    """WhatsApp outside the 24 hours after the person last wrote needs a template."""
    if row.channel != "whatsapp":
        return False
    if row.contact_id is None:
        # The owner or staff: when they last wrote is in the inbound log.
        # Limitation: that lookup has no index of its own; it serves the few
        # messages a day sent to a business's people, not bulk sends.
        last = session.scalar(
            select(func.max(InboundMessage.received_at)).where(
                InboundMessage.channel == "whatsapp",
                InboundMessage.sender == row.recipient,
            )
        )
    else:
        last = session.scalar(
            select(Contact.whatsapp_last_inbound_at).where(Contact.id == row.contact_id)
        )
    if last is None:
        return True
    return now - as_utc(last) >= WHATSAPP_WINDOW


def _carried_files(payload: dict[str, Any]) -> tuple[Attachment, ...]:
    """Files a chat message carries in its own payload (an answer the channel
    did not take at first, left to the outbox)."""
    return tuple(
        Attachment(
            filename=str(item["filename"]),
            content_type=str(item["content_type"]),
            content=base64.b64decode(item["content"]),
        )
        for item in payload.get("files", [])
    )


def _attachments(session: Session, payload: dict[str, Any]) -> tuple[Attachment, ...]:
    """The CFDI XML of the invoices the payload asks to attach (their PDFs, and
    complements, come from `flows.sat.notices.cfdi_attachments`)."""
    ids = [int(i) for i in payload.get("attach_invoice_ids", [])][:MAX_XML_ATTACHMENTS]
    if not ids:
        return ()
    rows = session.execute(
        select(Invoice.id, Invoice.series, Invoice.folio, Invoice.uuid, Invoice.xml)
        .where(Invoice.id.in_(ids), Invoice.xml.is_not(None))
        .order_by(Invoice.id)
    ).all()
    attachments = []
    for row in rows:
        label = "-".join(p for p in (row.series, row.folio) if p) or row.uuid or row.id
        attachments.append(
            Attachment(
                filename=f"factura-{label}.xml",
                content_type="application/xml",
                content=row.xml.encode("utf-8"),
            )
        )
    return tuple(attachments)
