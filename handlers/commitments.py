"""What customers said they would do: promises to pay and open disputes.

The owner lists them («¿quién prometió pagar?», «aclaraciones»), sees them next to a
customer's balance, and writes down a promise made by phone («Acme paga el
viernes»), which holds that customer's reminders until the day, as one made in
the chat does.
"""

from __future__ import annotations

import datetime as dt

from flows import customer_side, promises
from flows.fmt import as_utc, money, short_date
from flows.messages import Reply
from handlers.common import capped
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.resolve import find_contact, find_invoices
from storage import repo
from storage.models import Contact, Dispute, Invoice, Promise


def day_phrase(day: dt.date, today: dt.date) -> str:
    """`hoy`, `mañana`, `el 11 dic`: when a promise falls."""
    if day == today:
        return "hoy"
    if day == today + dt.timedelta(days=1):
        return "mañana"
    if day < today:
        return f"el {short_date(day, today=today)} (aún sin pago)"
    return f"el {short_date(day, today=today)}"


def promise_text(turn: Turn, promise: Promise) -> str:
    """`$5,000.00 de la A-102 hoy`: what was promised and when."""
    invoice = (
        turn.session.get(Invoice, promise.invoice_id) if promise.invoice_id else None
    )
    parts = []
    if promise.amount is not None:
        currency = invoice.currency if invoice is not None else "MXN"
        parts.append(money(promise.amount, currency))
    if invoice is not None:
        parts.append(f"de la {invoice.label}" if parts else f"la {invoice.label}")
    parts.append(day_phrase(promise.promised_on, turn.today))
    return " ".join(parts)


def dispute_text(turn: Turn, dispute: Dispute) -> str:
    """`A-102, hace 3 días: «no llegó la mercancía»`."""
    invoice = (
        turn.session.get(Invoice, dispute.invoice_id) if dispute.invoice_id else None
    )
    about = invoice.label if invoice is not None else "su saldo"
    days = (turn.now - as_utc(dispute.created_at)).days
    since = "hoy" if days < 1 else f"hace {days} día{'s' * (days != 1)}"
    return f"{about}, {since}: «{dispute.reason}»"


def word_lines(turn: Turn, contact: Contact) -> list[str]:
    """What one customer has said: their open promise and disputes, one line each."""
    lines = [
        f"🗓️ Prometió pagar {promise_text(turn, promise)}."
        for promise in promises.open_promises(
            turn.session, business_id=turn.business.id, contact_id=contact.id
        )
    ]
    lines += [
        f"❗ Aclaración abierta: {dispute_text(turn, dispute)}"
        for dispute in customer_side.open_disputes(
            turn.session, business_id=turn.business.id, contact_id=contact.id
        )
    ]
    return lines


def promises_list(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿Quién prometió pagar?"; with a name and a day, writes the promise down."""
    contact = None
    if understanding.entities.customer:
        found = find_contact(turn, understanding)
        if isinstance(found, Reply):
            return found
        contact = found
        # "Acme paga el viernes" writes it down; "¿Acme paga el viernes?" asks.
        if understanding.entities.date is not None and "?" not in turn.inbound.text:
            return _write_down(turn, understanding, contact)
    open_ones = promises.open_promises(
        turn.session,
        business_id=turn.business.id,
        contact_id=contact.id if contact is not None else None,
    )
    if contact is not None and not open_ones:
        return Reply().say(
            f"{contact.display_name} no tiene una promesa de pago abierta. Si te dijo "
            f"cuándo paga, escríbeme «{contact.display_name} paga el viernes»."
        )
    if not open_ones:
        return Reply().say(
            "Nadie tiene una promesa de pago abierta. Cuando un cliente me diga "
            "cuándo paga, te aviso y aparece aquí."
        )
    names = _names(turn, {p.contact_id for p in open_ones})
    count = len(open_ones)
    lines = [f"Promesas de pago ({count}):"]
    lines += capped(
        [f"• {names[p.contact_id]}: {promise_text(turn, p)}" for p in open_ones],
        "Pregunta por un cliente: «¿Acme prometió pagar?».",
    )
    lines.append("Mientras tanto no les mando recordatorios.")
    return Reply().say("\n".join(lines))


def disputes_list(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿Qué aclaraciones tengo?": the open disputes, oldest first."""
    contact = None
    if understanding.entities.customer:
        found = find_contact(turn, understanding)
        if isinstance(found, Reply):
            return found
        contact = found
    open_ones = customer_side.open_disputes(
        turn.session,
        business_id=turn.business.id,
        contact_id=contact.id if contact is not None else None,
    )
    if not open_ones:
        who = f" de {contact.display_name}" if contact is not None else ""
        return Reply().say(f"No hay aclaraciones abiertas{who}. ✅")
    names = _names(turn, {d.contact_id for d in open_ones})
    count = len(open_ones)
    lines = [f"Aclaraciones abiertas ({count}):"]
    lines += capped(
        [f"• {names[d.contact_id]} · {dispute_text(turn, d)}" for d in open_ones], ""
    )
    example = names[open_ones[0].contact_id]
    lines.append(
        "Sus recordatorios están en pausa. Cuando quede una, escribe «resuelve la "
        f"aclaración de {example}»."
    )
    return Reply().say("\n".join(lines))


def _names(turn: Turn, ids: set[int]) -> dict[int, str]:
    """Display names by contact id (a handful: the rows of one list)."""
    found = (turn.session.get(Contact, i) for i in ids)
    return {c.id: c.display_name for c in found if c is not None}


def _write_down(turn: Turn, understanding: Understanding, contact: Contact) -> Reply:
    """ "Acme paga el viernes": the team writes down a promise made to them."""
    day = understanding.entities.date
    assert day is not None
    name = contact.display_name
    if day < turn.today:
        return Reply().say(
            f"El {short_date(day, today=turn.today)} ya pasó. ¿Qué día dijo {name} "
            "que paga?"
        )
    if day > turn.today + promises.MAX_AHEAD:
        return Reply().say(
            "Es una fecha muy lejana para una promesa. Si van a pagar en partes, "
            f"escribe «ofrécele un plan de pagos a {name}»."
        )
    open_invoices = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        contact_id=contact.id,
    )
    if not open_invoices:
        return Reply().say(f"{name} no te debe nada; no hay pago que esperar. ✅")
    named = find_invoices(
        turn, understanding.entities.invoice_refs, contact_id=contact.id
    )
    invoice = named[0] if named else None
    if invoice is None and len(open_invoices) == 1:
        invoice = open_invoices[0]
    promise = promises.record_promise(
        turn.session,
        contact=contact,
        invoice=invoice,
        promised_on=day,
        amount=understanding.entities.amount,
        channel=turn.channel,
        now=turn.now,
        today=turn.today,
        actor=turn.speaker.actor,
    )
    return Reply().say(
        f"Anotado: {name} paga {promise_text(turn, promise)}. No le mando "
        "recordatorios hasta entonces; si no veo el pago, te aviso al día siguiente."
    )


INTENTS = {
    Intent.PROMISES: promises_list,
    Intent.DISPUTES: disputes_list,
}
