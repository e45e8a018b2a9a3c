"""Reminders as the team sees them: the morning digest's buttons and their status.

The digest carries payloads `reminders:<verb>:<YYYY-MM-DD>`; only the business's team
can act on them, and only for its own reminders. "recordatorios [cliente]" (and
Telegram's `/recordatorios`) says what is on, what is off and what goes out today.
"""

from __future__ import annotations

import datetime as dt
import re

from flows.fmt import money, short_date
from flows.messages import Reply
from flows.reminders import hold_reminders, release_reminders, review_reminders
from handlers.context import Turn
from handlers.nlu import Entities, Intent, Understanding
from handlers.resolve import find_contact
from storage import repo

MAX_LINES = 10


def on_digest_button(turn: Turn, payload: str) -> Reply:
    if not turn.speaker.is_team:
        return Reply().say("Ese botón no es para ti.")
    _, verb, day_text = (payload.split(":", 2) + ["", ""])[:3]
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        return Reply().say("Ese botón ya no es válido.")
    if day != turn.today:
        return Reply().say(
            f"Ese resumen era del {short_date(day, today=turn.today)}; los "
            "recordatorios de ese día ya no se pueden cambiar."
        )
    if verb == "send":
        count = release_reminders(
            turn.session, business=turn.business, day=day, now=turn.now
        )
        return Reply().say(f"Listo, {_count(count)} sale(n) en unos minutos. 📤")
    if verb == "hold":
        if not turn.speaker.is_owner:
            return Reply().say(
                "Detener los recordatorios lo decide la dueña o el dueño."
            )
        count = hold_reminders(
            turn.session,
            business=turn.business,
            day=day,
            now=turn.now,
            actor=turn.speaker.actor,
            channel=turn.channel,
        )
        return Reply().say(f"Detuve {_count(count)} de hoy; no saldrán.")
    if verb == "review":
        return _review(turn, day)
    return Reply().say("Ese botón ya no es válido.")


def _count(count: int) -> str:
    return f"{count} recordatorio" + ("" if count == 1 else "s")


def _review(turn: Turn, day: dt.date) -> Reply:
    rows = review_reminders(turn.session, business=turn.business, day=day)
    if not rows:
        return Reply().say("Hoy no sale ningún recordatorio.")
    lines = ["Hoy salen estos recordatorios:"]
    for row in rows[:MAX_LINES]:
        total = ", ".join(money(t["amount"], t["currency"]) for t in row["totals"])
        where = "WhatsApp" if row["channel"] == "whatsapp" else "correo"
        lines.append(f"• {row['contact_name']} · {total} · {where}")
    if len(rows) > MAX_LINES:
        lines.append(f"…y {len(rows) - MAX_LINES} más.")
    return Reply().say("\n".join(lines))


STATUS_RE = re.compile(r"^/?recordatorios?(?:\s+(?:de|a|para))?\s*(?P<name>.*)$")


def reminders_status(turn: Turn, match: re.Match[str]) -> Reply:
    """What is on, what is off, and what goes out today; for one customer or all."""
    name = match.group("name").strip()
    if name:
        return _contact_status(turn, name)
    business = turn.business
    customers = repo.contacts_of(turn.session, business_id=business.id, kind="customer")
    off = [c for c in customers if not c.reminders_enabled]
    whatsapp = [c for c in customers if c.whatsapp_reminders and c.whatsapp]
    opted_out = [c for c in customers if c.whatsapp_opted_out]
    today = review_reminders(turn.session, business=business, day=turn.today)
    state = "pausados ⏸️" if business.reminders_paused else "activos ✅"
    lines = [
        f"Recordatorios {state}",
        f"• Hoy salen {_count(len(today))}.",
        f"• {len(whatsapp)} de {len(customers)} clientes los reciben por WhatsApp; "
        "todos los que tienen correo, por correo.",
    ]
    if off:
        names = ", ".join(c.display_name for c in off[:MAX_LINES])
        lines.append(f"• Apagados para: {names}.")
    if opted_out:
        lines.append(f"• {len(opted_out)} pidieron BAJA de WhatsApp.")
    lines.append(
        "Escribe «pausa todos los recordatorios», «recordatorios de Acme» o "
        "«activa WhatsApp a Acme»."
    )
    return Reply().say("\n".join(lines))


def _contact_status(turn: Turn, name: str) -> Reply:
    request = Understanding(
        intent=Intent.PAUSE_REMINDERS,
        entities=Entities(customer=name),
        source="command",
        confidence=1.0,
    )
    contact = find_contact(turn, request)
    if isinstance(contact, Reply):
        return contact
    who = contact.display_name
    if turn.business.reminders_paused:
        state = "pausados para todo el negocio"
    elif contact.reminders_enabled:
        state = "activos"
    else:
        state = "apagados para este cliente"
    email = ", ".join(contact.email_list) or "sin correo"
    if contact.whatsapp_opted_out:
        whatsapp = "pidió BAJA"
    elif contact.whatsapp_reminders and contact.whatsapp:
        whatsapp = "activo"
    else:
        whatsapp = "apagado"
    return Reply().say(
        f"{who}: recordatorios {state}.\n• Correo: {email}\n• WhatsApp: {whatsapp}"
    )


PAYLOADS = {"reminders": on_digest_button}
COMMANDS = [(STATUS_RE, reminders_status)]
