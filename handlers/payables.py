"""Money out and in from the chat: paying a supplier (confirmed first), a supplier's
CLABE, deposits waiting to be placed, and "¿cuánto entró este mes?".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal
from typing import Any

from flows import deposits, movements, payouts
from flows.errors import InvalidInput, NotFound
from flows.fmt import bank_name, mask_clabe, money, short_date, validate_clabe
from flows.messages import Document, Outbound, Reply
from handlers import actions, common
from handlers.common import capped, update_contact
from handlers.context import Turn
from handlers.nlu import (
    Entities,
    Intent,
    Understanding,
    normalize,
)
from handlers.owner import invoice_line
from handlers.resolve import find_contact, find_invoices, matching_contacts, own_contact
from prompts import texts
from storage import repo
from storage.models import Contact, Invoice, SupplierPayment

log = logging.getLogger(__name__)

PAY_ACTION = "pay_supplier"
SET_CLABE_ACTION = "set_supplier_clabe"
APPLY_DEPOSIT_ACTION = "apply_deposit"
DEPOSIT_FLOW = "unapplied_deposit"
CLABE_MARK = "clabe:"
DEPOSIT_MARK = "deposit:"

_CLABE_SENTENCE = re.compile(
    r"clabe\s+(?:de|del|para)\s+(?P<name>.+?)\s*(?:\bes\b|:|=)\s*"
    r"(?P<digits>[\d\s-]{18,26})",
    re.IGNORECASE,
)
_UNAPPLIED = re.compile(
    r"sin (?:aplicar|identificar|asignar)|no (?:aplicad|identificad)"
)
_NOT_A_CUSTOMER = re.compile(
    r"no es (?:de )?(?:ningun |un )?client|ninguno|de nadie|no es cobr|no es pago"
)


# --- paying a supplier -----------------------------------------------------------


def pay_supplier(turn: Turn, understanding: Understanding) -> Reply:
    """ "Págale a Papelera del Norte la F-77": who, how much, where; then confirm."""
    entities = understanding.entities
    refs = entities.invoice_refs
    invoices: list[Invoice] = []
    if refs and not entities.customer and turn.notes.get("contact_id") is None:
        invoices = find_invoices(turn, refs, direction="payable")
        if len({i.contact_id for i in invoices}) > 1:
            raise InvalidInput(
                "Esas facturas son de proveedores distintos; págales por separado."
            )
        supplier = invoices[0].contact
    else:
        found = find_contact(
            turn,
            understanding,
            kind="supplier",
            question="¿A qué proveedor le pago? Escribe su nombre o RFC.",
        )
        if isinstance(found, Reply):
            return found
        supplier = found
        if refs:
            invoices = find_invoices(
                turn, refs, direction="payable", contact_id=supplier.id
            )

    name = supplier.display_name
    if not invoices and entities.amount is None:
        open_ = repo.open_invoices(
            turn.session,
            business_id=turn.business.id,
            direction="payable",
            contact_id=supplier.id,
        )
        if len(open_) > 1:
            lines = capped([invoice_line(i, turn.today) for i in open_], "")
            return Reply().say(
                f"{name} tiene {len(open_)} facturas por pagar:\n"
                + "\n".join(lines)
                + f"\n¿Cuál le pago? Por ejemplo «págale a {name} la {open_[0].label}»."
            )

    plan = payouts.plan_payout(
        turn.session, supplier=supplier, invoices=invoices, amount=entities.amount
    )
    pay_on = turn.today
    if entities.date is not None and entities.date > turn.today:
        pay_on = entities.date
    summary = payout_summary(plan)
    payload = {
        "supplier_id": supplier.id,
        "invoice_ids": [a.invoice.id for a in plan.allocations],
        "amount": str(plan.amount),
        "pay_on": pay_on.isoformat(),
        "key": _payout_key(turn),
        "summary": summary,
    }
    return actions.propose(
        turn, PAY_ACTION, payload, _pay_question(summary, pay_on, turn.today)
    )


def payout_summary(plan: payouts.PayoutPlan) -> str:
    """`Papelera del Norte · $5,800.00 · F-77 · CLABE ••••7899 (BBVA)`."""
    supplier = plan.supplier
    clabe = supplier.clabe or ""
    bank = bank_name(clabe)
    account = f"CLABE {mask_clabe(clabe)}" + (f" ({bank})" if bank else "")
    parts = [supplier.display_name, money(plan.amount, plan.currency)]
    parts.append(", ".join(plan.labels))
    parts.append(account)
    return " · ".join(parts)


def _pay_question(summary: str, pay_on: dt.date, today: dt.date) -> str:
    if pay_on > today:
        when = f"el {short_date(pay_on, today=today)}"
        return f"Voy a programar este pago para {when}:\n{summary}\n¿Lo programo?"
    return f"Voy a mandar esta transferencia por SPEI:\n{summary}\n¿La mando?"


def confirm_pay_supplier(turn: Turn, payload: dict[str, Any]) -> Reply:
    """Yes to the payment: the order is kept, and sent on its day by the scheduler."""
    earlier = payouts.payout_by_key(turn.session, idempotency_key=payload["key"])
    if earlier is not None:
        return Reply().say(_payout_done(earlier, turn.today))
    supplier = _own_contact(turn, payload["supplier_id"])
    invoices = [_own_invoice(turn, invoice_id) for invoice_id in payload["invoice_ids"]]
    plan = payouts.plan_payout(
        turn.session,
        supplier=supplier,
        invoices=invoices,
        amount=Decimal(payload["amount"]),
    )
    payout = payouts.create_payout(
        turn.session,
        business=turn.business,
        plan=plan,
        pay_on=dt.date.fromisoformat(payload["pay_on"]),
        idempotency_key=payload["key"],
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(_payout_done(payout, turn.today))


def _payout_done(payout: SupplierPayment, today: dt.date) -> str:
    amount = money(payout.amount, payout.currency)
    name = payout.beneficiary_name
    if payout.scheduled_for > today:
        day = short_date(payout.scheduled_for, today=today)
        return f"Listo, programé el pago de {amount} a {name} para el {day}. ✅"
    return (
        f"Listo, mandé la orden de pago de {amount} a {name}. Te aviso cuando "
        "llegue. ✅"
    )


def confirm_or_reschedule(turn: Turn, understanding: Understanding) -> Reply | None:
    """While a payment waits for its yes, "págale el viernes" moves it to that day."""
    data = turn.conversation.data
    entities = understanding.entities
    if (
        data.get("action") == PAY_ACTION
        and understanding.intent in (Intent.PAY_SUPPLIER, Intent.UNKNOWN)
        and re.search(r"\bpag|\bprograma|\bmejor\b", normalize(turn.inbound.text))
        and entities.date is not None
        and not entities.customer
        and not entities.invoice_refs
    ):
        payload = dict(data.get("payload", {}))
        pay_on = max(entities.date, turn.today)
        payload["pay_on"] = pay_on.isoformat()
        question = _pay_question(payload.get("summary", ""), pay_on, turn.today)
        return actions.propose(turn, PAY_ACTION, payload, question)
    return common.confirm_step(turn, understanding)


def _payout_key(turn: Turn) -> str:
    inbound = turn.inbound
    marker = inbound.provider_message_id or turn.now.isoformat()
    return f"chat:{turn.business.id}:{inbound.channel}:{inbound.sender}:{marker}"[:128]


# --- a supplier's CLABE -----------------------------------------------------------


def set_supplier_clabe(turn: Turn, name: str, raw: str) -> Reply:
    """ "La CLABE de Papelera es …": checked, then confirmed (payments go there)."""
    if not turn.speaker.is_owner:
        return Reply().say(texts.OWNER_ONLY)
    clabe = validate_clabe(raw)
    request = Understanding(
        intent=Intent.UNKNOWN,
        entities=Entities(customer=name, text=CLABE_MARK + clabe),
        source="rules",
        confidence=1.0,
    )
    return _propose_clabe(turn, request, clabe)


def _propose_clabe(turn: Turn, request: Understanding, clabe: str) -> Reply:
    supplier = find_contact(
        turn, request, kind="supplier", question="¿De qué proveedor es esa CLABE?"
    )
    if isinstance(supplier, Reply):
        return supplier
    bank = bank_name(clabe)
    where = f"{mask_clabe(clabe)}" + (f" ({bank})" if bank else "")
    name = supplier.display_name
    return actions.propose(
        turn,
        SET_CLABE_ACTION,
        {"contact_id": supplier.id, "clabe": clabe},
        f"¿Guardo la CLABE {where} para {name}? Los pagos a {name} irán a esa cuenta.",
    )


def confirm_set_clabe(turn: Turn, payload: dict[str, Any]) -> Reply:
    supplier = _own_contact(turn, payload["contact_id"])
    update_contact(
        turn,
        supplier,
        clabe=payload["clabe"],
    )
    name = supplier.display_name
    return Reply().say(f"Listo, guardé la CLABE de {name}. ✅")


# --- deposits waiting for the owner ------------------------------------------------


def unapplied(turn: Turn) -> Reply:
    """List what waits and ask about the oldest."""
    rows = deposits.unapplied_deposits(turn.session, business_id=turn.business.id)
    if not rows:
        return Reply().say("No tienes depósitos sin aplicar. ✅")
    first = rows[0]
    turn.start(DEPOSIT_FLOW, "awaiting", {"deposit_id": first.id})
    many = (
        f"Tienes {len(rows)} depósitos sin aplicar. El primero: "
        if len(rows) > 1
        else ("Tienes un depósito sin aplicar: ")
    )
    return Reply().say(
        many
        + deposits.describe_deposit(first, today=turn.today)
        + ".\n¿De qué cliente es? Escribe su nombre, o «no es de clientes» para "
        "dejarlo fuera de la cobranza."
    )


def deposit_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿De qué cliente es?"."""
    if understanding.intent not in (
        Intent.UNKNOWN,
        Intent.GREETING,
        Intent.CONFIRM_NO,
        Intent.BALANCE_CUSTOMER,
        Intent.REGISTER_PAYMENT,
    ):
        return None
    deposit_id = int(turn.conversation.data["deposit_id"])
    text = turn.inbound.text.strip()
    turn.finish()
    if _NOT_A_CUSTOMER.search(normalize(text)):
        deposit = deposits.deposit_of(
            turn.session, business_id=turn.business.id, deposit_id=deposit_id
        )
        deposits.dismiss_deposit(
            turn.session,
            deposit=deposit,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        return Reply().say(
            "Va, lo dejé fuera de la cobranza (sigue en tus movimientos). "
            + _more_waiting(turn)
        )
    request = Understanding(
        intent=Intent.UNKNOWN,
        entities=Entities(
            customer=understanding.entities.customer or text,
            text=f"{DEPOSIT_MARK}{deposit_id}",
        ),
        source="resume",
        confidence=1.0,
    )
    return _propose_assignment(turn, request, deposit_id)


def _propose_assignment(turn: Turn, request: Understanding, deposit_id: int) -> Reply:
    deposit = deposits.deposit_of(
        turn.session, business_id=turn.business.id, deposit_id=deposit_id
    )
    contact = find_contact(turn, request)
    if isinstance(contact, Reply):
        return contact
    plan = deposits.plan_assignment(turn.session, deposit=deposit, contact=contact)
    lines = [
        f"• {a.invoice.label}: {money(a.amount, a.invoice.currency)}" for a in plan
    ]
    name = contact.display_name
    return actions.propose(
        turn,
        APPLY_DEPOSIT_ACTION,
        {"deposit_id": deposit.id, "contact_id": contact.id},
        f"¿Aplico el depósito de {money(deposit.amount, deposit.currency)} a {name}?\n"
        + "\n".join(lines),
    )


def confirm_apply_deposit(turn: Turn, payload: dict[str, Any]) -> Reply:
    deposit = deposits.deposit_of(
        turn.session, business_id=turn.business.id, deposit_id=payload["deposit_id"]
    )
    contact = _own_contact(turn, payload["contact_id"])
    payment = deposits.assign_deposit(
        turn.session,
        deposit=deposit,
        contact=contact,
        config=deposits.ReceiptConfig(
            public_base_url=turn.config.public_base_url,
            portal_key=turn.config.portal_key,
        ),
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        "Listo: " + deposits.applied_text(contact, payment) + " " + _more_waiting(turn)
    )


def _more_waiting(turn: Turn) -> str:
    left = len(deposits.unapplied_deposits(turn.session, business_id=turn.business.id))
    if not left:
        return ""
    return f"Quedan {left} por aplicar; escribe «depósitos sin aplicar» para seguir."


# --- money in and out ----------------------------------------------------------------


_BANK = re.compile(r"\bbancos?\b|\bbancari[oa]\b")


def movements_report(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿Cuánto entró este mes?", "movimientos de la semana"."""
    if _UNAPPLIED.search(normalize(turn.inbound.text)):
        return unapplied(turn)
    start, end, label = movements.period_bounds(
        understanding.entities.period, turn.today
    )
    contact = _named_contact(turn, understanding)
    rows = movements.movements(
        turn.session,
        business=turn.business,
        start=start,
        end=end,
        contact_id=contact.id if contact else None,
    )
    span = short_date(start, today=turn.today)
    if end != start:
        span += f" al {short_date(end, today=turn.today)}"
    who = f" con {contact.display_name}" if contact else ""
    title = f"Movimientos{who} {label} ({span}):"
    if _BANK.search(normalize(turn.inbound.text)):
        # Cobra sees what was paid and collected, not the bank's balance.
        title = (
            "No veo el saldo de tu banco; sí lo que entró y salió por Cobra.\n" + title
        )
    if not rows:
        return Reply().say(f"{title}\nNo hubo entradas ni salidas.")
    summary = movements.summarize(rows)
    lines = [title]
    for (direction, currency), total in sorted(summary.totals.items()):
        count = summary.counts[(direction, currency)]
        verb = "Entró" if direction == "in" else "Salió"
        plural = "s" if count != 1 else ""
        lines.append(f"{verb} {money(total, currency)} en {count} pago{plural}:")
        people = summary.by_contact[(direction, currency)]
        lines.extend(
            capped(
                [f"• {name}: {money(amount, currency)}" for name, amount in people], ""
            )
        )
    if not _AS_FILE.search(normalize(turn.inbound.text)):
        lines.append(
            f"¿Lo quieres en Excel? Escribe «movimientos{who} {label} en Excel»."
        )
        return Reply().say("\n".join(lines))
    workbook = Document(
        movements.xlsx_filename(start, end),
        movements.XLSX_TYPE,
        movements.to_xlsx(
            rows,
            title=f"Movimientos{who} de {turn.business.name} del {start} al {end}",
        ),
    )
    return Reply(messages=[Outbound(text="\n".join(lines), documents=(workbook,))])


# "en Excel", "mándame el archivo", "la hoja de cálculo".
_AS_FILE = re.compile(r"\b(?:excel|xlsx|archivo|hoja de calculo|descargar?)\b")


def _named_contact(turn: Turn, understanding: Understanding) -> Contact | None:
    """A customer or supplier the question names, if it names one clearly."""
    chosen = turn.notes.get("contact_id")
    if chosen is not None:
        return _own_contact(turn, chosen)
    phrase = understanding.entities.customer
    if not phrase:
        return None
    phrase = re.sub(
        r"^\s*(?:los\s+)?movimientos\s+(?:de|con)?\s*", "", phrase, flags=re.I
    )
    matches = matching_contacts(turn, phrase, kind=None, limit=2)
    if len(matches) != 1:
        return None
    return _own_contact(turn, matches[0].id)


# --- what the rules do not place ---------------------------------------------------


def fallback(turn: Turn, understanding: Understanding) -> Reply:
    """Messages understanding leaves unplaced that this module knows: a supplier's
    CLABE, the deposits waiting; anything else is not understood."""
    if not turn.speaker.is_team:
        return common.not_understood(turn, understanding)
    marker = understanding.entities.text or ""
    if marker.startswith(CLABE_MARK) and turn.speaker.is_owner:
        return _propose_clabe(turn, understanding, marker[len(CLABE_MARK) :])
    if marker.startswith(DEPOSIT_MARK):
        return _propose_assignment(
            turn, understanding, int(marker[len(DEPOSIT_MARK) :])
        )
    text = turn.inbound.text
    sentence = _CLABE_SENTENCE.search(text)
    if sentence:
        return set_supplier_clabe(
            turn, sentence.group("name").strip(), sentence.group("digits")
        )
    if _UNAPPLIED.search(normalize(text)) and re.search(r"deposit", normalize(text)):
        return unapplied(turn)
    return common.not_understood(turn, understanding)


def _own_contact(turn: Turn, contact_id: int) -> Contact:
    return own_contact(turn, contact_id, "No encontré ese contacto.")


def _own_invoice(turn: Turn, invoice_id: int) -> Invoice:
    invoice = turn.session.get(Invoice, int(invoice_id))
    if invoice is None or invoice.business_id != turn.business.id:
        raise NotFound("No encontré esa factura.")
    return invoice


actions.register(PAY_ACTION, confirm_pay_supplier)
actions.register(SET_CLABE_ACTION, confirm_set_clabe)
actions.register(APPLY_DEPOSIT_ACTION, confirm_apply_deposit)

INTENTS = {
    Intent.PAY_SUPPLIER: pay_supplier,
    Intent.MOVEMENTS: movements_report,
    Intent.UNKNOWN: fallback,
}
STEPS = {
    actions.CONFIRM_FLOW: confirm_or_reschedule,
    DEPOSIT_FLOW: deposit_step,
}
