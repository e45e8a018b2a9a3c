"""Collections in conversation: register a payment (confirmed), undo it, send links
and, when the owner asks, a customer's statement as a reminder.

A payment is only proposed from what the person wrote: an amount is never guessed,
and nothing is recorded until they answer yes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from decimal import Decimal
from typing import Any

from flows import business as business_flows
from flows import customer_side, links, reminders
from flows.errors import MoneyRuleViolation, NotFound
from flows.fmt import as_utc, local_date, money, short_date, to_money, zone
from flows.messages import Reply
from flows.money import Allocation, propose_allocation, record_payment, reverse_payment
from flows.outbox import QUIET_UNTIL
from flows.receipts import queue_payment_receipt
from handlers import actions, sat
from handlers.common import contact_totals
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.normalize import fold
from handlers.owner import owed_text
from handlers.resolve import (
    ASK_AMOUNT_FLOW,
    find_contact,
    find_invoices,
    matching_contacts,
    own_contact,
    park,
)
from storage import repo
from storage.models import Contact, Invoice, Payment

log = logging.getLogger(__name__)
SOURCE_BY_CHANNEL = {"telegram": "telegram"}


def register_payment(turn: Turn, understanding: Understanding) -> Reply:
    entities = understanding.entities
    named: list[Invoice] = []
    contact: Contact | None = None
    received_on = entities.past_date
    if received_on is not None and received_on > turn.today:
        # Only words that point forward ("mañana") land here.
        return Reply().say(
            "Esa fecha todavía no llega: registro los pagos cuando ya los "
            "recibiste. Si te prometieron pagar ese día, escríbelo así: «Acme paga "
            "mañana», y lo anoto como promesa."
        )
    if received_on == turn.today:
        received_on = None

    if entities.invoice_refs:
        named = find_invoices(turn, entities.invoice_refs)
        owners = {i.contact_id for i in named}
        if len(owners) > 1:
            return Reply().say(
                "Esas facturas son de clientes distintos; registra un pago por cliente."
            )
        contact = named[0].contact
        said = entities.customer
        if said and _names_another(turn, said, contact):
            label = named[0].label
            return Reply().say(
                f"La {label} es de {contact.display_name}, no de «{said}». Revisa el "
                f"folio, o escribe «{contact.display_name} pagó la {label}»."
            )
        closed = [i for i in named if i.status != "pending" or i.balance <= 0]
        if closed:
            state = "cancelada" if closed[0].status == "cancelled" else "pagada"
            return Reply().say(f"La factura {closed[0].label} ya está {state}.")
    else:
        found = find_contact(turn, understanding, question="¿Quién te pagó?")
        if isinstance(found, Reply):
            return found
        contact = found

    currency = entities.currency or (named[0].currency if named else "MXN")
    amount = entities.amount
    if amount is None:
        if not named:
            return park(
                turn,
                ASK_AMOUNT_FLOW,
                understanding,
                f"¿De cuánto fue el pago de {contact.display_name}?",
                contact_id=contact.id,
            )
        amount = sum((i.balance for i in named), Decimal("0.00"))

    pool = named or list(
        repo.open_invoices(
            turn.session,
            business_id=turn.business.id,
            direction="receivable",
            contact_id=contact.id,
        )
    )
    pool = [i for i in pool if i.currency == currency]
    if not pool:
        return Reply().say(
            f"{contact.display_name} no tiene facturas abiertas en {currency}; no "
            "hay a qué aplicar el pago."
        )
    plan = _plan(pool, to_money(amount), named=bool(named))

    when = (
        f", recibido el {short_date(received_on, today=turn.today)}"
        if received_on
        else ""
    )
    lines = [
        f"Registro un pago de {money(amount, currency)} de "
        f"{contact.display_name}{when}:"
    ]
    for allocation in plan:
        rest = allocation.invoice.balance - allocation.amount
        after = "queda pagada" if rest <= 0 else f"le quedan {money(rest, currency)}"
        lines.append(
            f"• {allocation.invoice.label}: {money(allocation.amount, currency)} "
            f"({after})"
        )
    lines.append("¿Lo registro?")
    payload = {
        "contact_id": contact.id,
        "amount": str(to_money(amount)),
        "currency": currency,
        "allocations": [[a.invoice.id, str(a.amount)] for a in plan],
        "key": secrets.token_hex(8),
        "received_on": received_on.isoformat() if received_on else None,
    }
    return actions.propose(turn, "register_payment", payload, "\n".join(lines))


def _names_another(turn: Turn, said: str, owner: Contact) -> bool:
    """Whether «Tolteca pagó la A-1016» names a customer other than the invoice's
    (words that name nobody, «por SPEI», do not count)."""
    matches = matching_contacts(turn, said, kind="customer")
    return bool(matches) and all(m.id != owner.id for m in matches)


def _plan(pool: list[Invoice], amount: Decimal, *, named: bool) -> list[Allocation]:
    """Named invoices in the order given, else the customer's oldest first."""
    if not named:
        return propose_allocation(pool, amount)
    remaining = amount
    plan = []
    for invoice in pool:
        take = min(remaining, invoice.balance)
        if take > 0:
            plan.append(Allocation(invoice, take))
            remaining -= take
    if remaining > 0:
        owed = sum((i.balance for i in pool), Decimal("0.00"))
        currency = pool[0].currency
        labels = " y ".join(i.label for i in pool)
        raise MoneyRuleViolation(
            f"{labels} suma{'n' if len(pool) > 1 else ''} {money(owed, currency)} por "
            f"pagar y el pago es de {money(amount, currency)}. No registré nada; "
            "revisa el monto."
        )
    return plan


def do_register_payment(turn: Turn, payload: dict[str, Any]) -> Reply:
    """Carry out a confirmed payment, checking balances again as they are now."""
    contact = own_contact(turn, payload["contact_id"], "Ese cliente ya no existe.")
    allocations = []
    for invoice_id, amount in payload["allocations"]:
        invoice = turn.session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise NotFound("Una de las facturas ya no existe.")
        allocations.append(Allocation(invoice, Decimal(amount)))
    payment = record_payment(
        turn.session,
        contact=contact,
        amount=Decimal(payload["amount"]),
        currency=payload["currency"],
        paid_at=_paid_at(turn, payload.get("received_on")),
        allocations=allocations,
        source=SOURCE_BY_CHANNEL.get(turn.channel, "chat"),
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
        idempotency_key=f"chat:{turn.conversation.id}:{payload['key']}",
    )
    queue_payment_receipt(
        turn.session,
        payment=payment,
        public_base_url=turn.config.public_base_url,
        portal_key=turn.config.portal_key,
        now=turn.now,
    )
    remaining = contact_totals(turn, contact)
    left = remaining.get(payment.currency, (Decimal("0.00"), 0, 0))[0]
    minutes = int(turn.config.undo_window.total_seconds() // 60)
    return Reply().say(
        f"Listo ✅ Registré {money(payment.amount, payment.currency)} de "
        f"{contact.display_name}. Ahora debe {money(left, payment.currency)}. Le mando "
        f"su recibo. Si fue un error, escribe «deshacer» en los próximos "
        f"{minutes} minutos."
        + (f"\n\n{ask}" if (ask := sat.complement_prompt(turn, payment)) else "")
    )


def _paid_at(turn: Turn, received_on: str | None) -> dt.datetime:
    """Now, or midday (the business's time) of the earlier day the owner named."""
    if not received_on:
        return turn.now
    midday = dt.datetime.combine(
        dt.date.fromisoformat(received_on),
        dt.time(12),
        tzinfo=zone(turn.business.timezone),
    )
    return min(midday.astimezone(dt.UTC), turn.now)


def undo(turn: Turn, understanding: Understanding) -> Reply:
    payment = repo.last_payment(
        turn.session, business_id=turn.business.id, recorded_by=turn.speaker.actor
    )
    if payment is None or _aware_age(turn, payment) > turn.config.undo_window:
        minutes = int(turn.config.undo_window.total_seconds() // 60)
        return Reply().say(
            f"No tienes un cobro registrado en los últimos {minutes} minutos que "
            "pueda deshacer."
        )
    labels = ", ".join(a.invoice.label for a in payment.allocations)
    question = (
        f"¿Deshago el pago de {money(payment.amount, payment.currency)} de "
        f"{payment.contact.display_name} ({labels})?"
    )
    return actions.propose(turn, "undo_payment", {"payment_id": payment.id}, question)


def _aware_age(turn: Turn, payment: Payment) -> dt.timedelta:
    return turn.now - as_utc(payment.created_at)


def do_undo_payment(turn: Turn, payload: dict[str, Any]) -> Reply:
    payment = turn.session.get(Payment, payload["payment_id"], with_for_update=True)
    if payment is None or payment.business_id != turn.business.id:
        raise NotFound("Ese pago ya no existe.")
    if _aware_age(turn, payment) > turn.config.undo_window:
        return Reply().say("Ya pasaron más de 10 minutos; no lo deshice.")
    reverse_payment(
        turn.session,
        payment=payment,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        f"Listo, deshice el pago de {money(payment.amount, payment.currency)} de "
        f"{payment.contact.display_name}. Sus facturas quedaron como estaban."
    )


def send_link(turn: Turn, understanding: Understanding) -> Reply:
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    sent = links.send_portal_link(
        turn.session,
        contact=contact,
        public_base_url=turn.config.public_base_url,
        portal_key=turn.config.portal_key,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    where = " y ".join(sent.channels) if sent.channels else None
    told = (
        f"Se lo mandé por {where}."
        if where
        else f"{contact.display_name} no tiene correo ni WhatsApp activo; "
        "reenvíaselo tú."
    )
    return Reply().say(f"Link de pago de {contact.display_name}:\n{sent.url}\n{told}")


def send_statement(turn: Turn, understanding: Understanding) -> Reply:
    """ "Recuérdale a Acme": the customer's statement goes out now (in the quiet
    hours, in the morning), once a day. «Recuérdales a todos los vencidos»: the
    same for every such customer, once the owner confirms."""
    if _to_a_group(turn, understanding):
        return _propose_statements(turn)
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    name = contact.display_name
    only = _channel_named(turn.inbound.text)
    sent = reminders.send_statement_now(
        turn.session,
        contact=contact,
        public_base_url=turn.config.public_base_url,
        portal_key=turn.config.portal_key,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
        only=only,
    )
    if sent is None:
        return Reply().say(f"{name} no te debe nada; no le mandé recordatorio. ✅")
    if not sent.channels:
        missing = {"whatsapp": "WhatsApp", "email": "correo"}.get(
            only or "", "WhatsApp ni correo"
        )
        return Reply().say(
            f"{name} no tiene {missing} activo; no pude mandarle su estado de "
            f"cuenta. Agrégaselo: «el correo de {name} es pagos@ejemplo.mx» o "
            f"«el whatsapp de {name} es 55 1234 5678»."
        )
    where = " y ".join(sent.channels)
    if not sent.queued:
        return Reply().say(
            f"Ya le mandé hoy a {name} su estado de cuenta por {where}; no se lo "
            "repito el mismo día."
        )
    owed = ", ".join(_money_of(t) for t in sent.totals)
    overdue = ", ".join(_money_of(t) for t in sent.overdue)
    text = f"Le mandé a {name} su estado de cuenta por {where}: debe {owed}"
    text += f", de eso {overdue} vencido." if overdue else ", nada vencido."
    if sent.not_before > turn.now:
        text += " " + _quiet_hours_note(turn, sent.not_before)
    return Reply().say(text)


_A_GROUP = re.compile(
    r"\b(?:tod[oa]s|vencid[oa]s|morosos?|atrasad[oa]s|deudores|(?:me|nos) deben)\b"
)
_LATE_ONLY = re.compile(r"\b(?:vencid[oa]s|morosos?|atrasad[oa]s)\b")
STATEMENTS_TO_ALL = "statements_to_all"


def _to_a_group(turn: Turn, understanding: Understanding) -> bool:
    """«a todos», «a los morosos», «a los que me deben»: no one customer named."""
    if understanding.entities.all_contacts:
        return True
    if understanding.entities.customer or turn.notes.get("contact_id"):
        return False
    return bool(_A_GROUP.search(fold(turn.inbound.text)))


def _propose_statements(turn: Turn) -> Reply:
    """Who would get a statement, and a Sí / No before anything goes out."""
    folded = fold(turn.inbound.text)
    late_only = bool(_LATE_ONLY.search(folded))
    owed = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        include_hidden=False,
        overdue_on=turn.today if late_only else None,
    )
    owing: dict[int, Contact] = {i.contact_id: i.contact for i in owed}
    ready = [c for c in owing.values() if c.reminders_enabled]
    paused = len(owing) - len(ready)
    group = "con facturas vencidas" if late_only else "que te deben"
    if not ready:
        if paused:
            return Reply().say(
                f"Los clientes {group} tienen los recordatorios pausados; no les "
                "mandé nada. Escribe «reanuda los recordatorios de …» "
                "para uno de ellos."
            )
        return Reply().say(f"No tienes clientes {group}. ✅")
    only = _channel_named(turn.inbound.text)
    by = {"whatsapp": " por WhatsApp", "email": " por correo"}.get(only or "", "")
    count = len(ready)
    whom = "a 1 cliente" if count == 1 else f"a {count} clientes"
    if count == 1 and not late_only:
        group = "que te debe"
    amount = owed_text([i for i in owed if i.contact.reminders_enabled])
    lines = [
        f"¿Le mando su estado de cuenta{by} {whom} {group}? "
        f"{'Vencido' if late_only else 'Deben'}: {amount}."
    ]
    if paused:
        lines.append(
            f"No incluyo a {paused} con los recordatorios pausados."
            if paused != 1
            else "No incluyo a 1 con los recordatorios pausados."
        )
    lines.append("A quien ya se lo mandé hoy no se lo repito.")
    payload = {"contact_ids": [c.id for c in ready], "only": only}
    return actions.propose(turn, STATEMENTS_TO_ALL, payload, "\n".join(lines))


def do_send_statements(turn: Turn, payload: dict[str, Any]) -> Reply:
    """The statements the owner confirmed: each customer's goes out as «recuérdale
    a Acme» would send it."""
    # Limitation: every statement is queued inside this one turn; a business with
    # thousands of customers owing would hold the turn for several seconds.
    sent = repeated = 0
    unreachable: list[str] = []
    later: dt.datetime | None = None
    for contact_id in payload["contact_ids"]:
        contact = turn.session.get(Contact, contact_id)
        if contact is None or contact.business_id != turn.business.id:
            continue
        statement = reminders.send_statement_now(
            turn.session,
            contact=contact,
            public_base_url=turn.config.public_base_url,
            portal_key=turn.config.portal_key,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
            only=payload.get("only"),
        )
        if statement is None:
            continue  # paid meanwhile
        if not statement.channels:
            unreachable.append(contact.display_name)
        elif statement.queued:
            sent += 1
            if statement.not_before > turn.now:
                later = statement.not_before
        else:
            repeated += 1
    lines = [
        f"Listo: mandé su estado de cuenta a {sent} cliente{'s' * (sent != 1)}."
        if sent
        else "No mandé ningún estado de cuenta."
    ]
    if repeated:
        lines.append(
            f"{repeated} ya lo había{'n' * (repeated != 1)} recibido hoy; no se lo "
            "repetí."
        )
    if unreachable:
        missing = {"whatsapp": "WhatsApp", "email": "correo"}.get(
            payload.get("only") or "", "WhatsApp ni correo"
        )
        shown = ", ".join(unreachable[:5])
        more = f" y {len(unreachable) - 5} más" if len(unreachable) > 5 else ""
        lines.append(
            f"Sin {missing} activo: {shown}{more}. Agrégaselo con «el correo de … "
            "es …» o «el whatsapp de … es …»."
        )
    if later is not None:
        lines.append(_quiet_hours_note(turn, later, many=True))
    return Reply().say("\n".join(lines))


def _quiet_hours_note(
    turn: Turn, not_before: dt.datetime, *, many: bool = False
) -> str:
    """«Sale mañana a las 08:00, para no escribirle de noche.»"""
    tz = turn.business.timezone
    day = local_date(not_before, tz)
    when = "mañana" if day > local_date(turn.now, tz) else "hoy"
    goes, them = ("Salen", "escribirles") if many else ("Sale", "escribirle")
    return f"{goes} {when} a las {QUIET_UNTIL:%H:%M}, para no {them} de noche."


def _channel_named(text: str) -> str | None:
    """ "por WhatsApp" or "por correo": the one channel a request names, if one."""
    folded = fold(text)
    whatsapp = "whatsapp" in folded or re.search(r"\bwhats\b|\bwa\b", folded)
    email = re.search(r"\b(?:correo|mail|email|e-mail)\b", folded)
    if whatsapp and not email:
        return "whatsapp"
    if email and not whatsapp:
        return "email"
    return None


def _money_of(total: dict[str, Any]) -> str:
    return money(Decimal(total["amount"]), total["currency"])


def rotate_link(turn: Turn, understanding: Understanding) -> Reply:
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    token = business_flows.issue_portal_token(
        turn.session,
        contact=contact,
        key=turn.config.portal_key,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
    )
    url = business_flows.portal_url(turn.config.public_base_url, token)
    return Reply().say(
        f"Nuevo link para {contact.display_name} (el anterior ya no abre):\n{url}"
    )


def reply_to_customer(turn: Turn, understanding: Understanding) -> Reply:
    text = (understanding.entities.text or "").strip()
    if not text:
        return Reply().say("¿Qué le digo? Escribe «responder a Acme: tu mensaje».")
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    channels = customer_side.notify_customer(
        turn.session,
        contact=contact,
        kind="owner_reply",
        facts={"text": text},
        dedupe_key=f"owner_reply:{contact.id}:{turn.now.isoformat()}",
        now=turn.now,
    )
    if not channels:
        return Reply().say(
            f"{contact.display_name} no tiene WhatsApp ni correo registrado; no pude "
            "mandarle tu mensaje."
        )
    where = "WhatsApp" if channels[0] == "whatsapp" else "correo"
    return Reply().say(f"Le mandé tu mensaje a {contact.display_name} por {where}.")


actions.register("register_payment", do_register_payment)
actions.register("undo_payment", do_undo_payment)
actions.register(STATEMENTS_TO_ALL, do_send_statements)

INTENTS = {
    Intent.REGISTER_PAYMENT: register_payment,
    Intent.UNDO: undo,
    Intent.SEND_LINK: send_link,
    Intent.SEND_STATEMENT: send_statement,
    Intent.ROTATE_LINK: rotate_link,
    Intent.REPLY_TO_CUSTOMER: reply_to_customer,
}
