"""«¿Cómo mandas los recordatorios?»: the owner's reminder settings in words.

The default set's steps (days before and after the due date, by which channel),
the statement's rhythm, the hour they leave and the quiet hours, and how many
customers each channel reaches, with the phrases that change each part.
"""

from __future__ import annotations

from sqlalchemy import func, select

from flows import business as business_flows
from flows.messages import Reply
from flows.outbox import QUIET_FROM, QUIET_UNTIL
from flows.reminders import DIGEST_RELEASE, PLAN_TIME
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from storage.models import Contact, ContactKind, ReminderRule


def _when(rule: ReminderRule) -> str:
    days = rule.offset_days
    plural = "s" if abs(days) != 1 else ""
    if rule.event == "issued":
        return "al emitir la factura" if days == 0 else f"{days} día{plural} después"
    if days == 0:
        return "el día que vence"
    if days < 0:
        return f"{-days} día{plural} antes de vencer"
    return f"{days} día{plural} después de vencer"


def _channels(rule: ReminderRule) -> str:
    pairs = (("correo", rule.email), ("WhatsApp", rule.whatsapp))
    return " y ".join(name for name, on in pairs if on) or "ningún canal"


def _customers(count: int | None) -> str:
    return "1 cliente" if count == 1 else f"{count or 0} clientes"


def reminder_settings(turn: Turn, understanding: Understanding) -> Reply:
    business = turn.business
    reminder_set = business_flows.default_reminder_set(turn.session, business=business)
    lines = ["Así van tus recordatorios:"]
    steps = sorted(
        reminder_set.rules, key=lambda r: (r.event != "issued", r.offset_days)
    )
    for rule in steps:
        lines.append(f"• {_when(rule)}: por {_channels(rule)}")
    if reminder_set.statement_every_days:
        lines.append(
            f"• Estado de cuenta cada {reminder_set.statement_every_days} días a "
            "quien te deba."
        )
    hour = DIGEST_RELEASE if business.owner_digest else PLAN_TIME
    when = f"Salen a las {hour:%H:%M} (hora de tu negocio)"
    if business.owner_digest:
        when += ", después de tu resumen de la mañana"
    lines.append(
        f"{when}; nunca entre las {QUIET_FROM:%H:%M} y las {QUIET_UNTIL:%H:%M}."
    )

    customers = select(func.count()).where(
        Contact.business_id == business.id, Contact.kind == ContactKind.CUSTOMER
    )
    paused = turn.session.scalar(customers.where(Contact.reminders_enabled.is_(False)))
    by_whatsapp = turn.session.scalar(
        customers.where(
            Contact.reminders_enabled.is_(True),
            Contact.whatsapp_reminders.is_(True),
            Contact.whatsapp.is_not(None),
            Contact.whatsapp_opted_out.is_(False),
        )
    )
    no_email = turn.session.scalar(
        customers.where(func.coalesce(Contact.emails, "") == "")
    )
    lines.append(
        f"WhatsApp: lo reciben {_customers(by_whatsapp)} (se activa por cliente: "
        "«activa WhatsApp a Acme»)."
    )
    if no_email:
        lines.append(
            f"Sin correo: {_customers(no_email)} («¿quién no tiene correo?» para "
            "verlos)."
        )
    if paused:
        lines.append(
            f"En pausa: {_customers(paused)} («reanuda los recordatorios de Acme»)."
        )
    if business.reminders_paused:
        lines.insert(
            0,
            "⏸️ Ahora están en pausa para todo tu negocio («reanuda los "
            "recordatorios» para volver a mandarlos).",
        )
    return Reply().say("\n".join(lines))


INTENTS = {Intent.REMINDER_SETTINGS: reminder_settings}
