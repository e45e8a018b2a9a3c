"""The owner's morning digest buttons: send today's reminders now, review or hold them.

The digest carries payloads `reminders:<verb>:<YYYY-MM-DD>`; only the business's team
can act on them, and only for its own reminders.
"""

from __future__ import annotations

import datetime as dt

from flows.fmt import money, short_date
from flows.messages import Reply
from flows.reminders import hold_reminders, release_reminders, review_reminders
from handlers.context import Turn

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


PAYLOADS = {"reminders": on_digest_button}
