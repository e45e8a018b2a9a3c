"""What a customer can ask Cobra about their own invoices with one business, and
the owner's one-tap answers to what customers report (payments, disputes).

Every customer answer is built from the speaker's own contact row: a customer never
sees another customer's data, whatever they write, before or after any model reads it.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from flows import business as business_flows
from flows import customer_side
from flows.fmt import money, short_date
from flows.messages import Media, Reply
from flows.promises import record_promise
from handlers import common
from handlers.common import capped
from handlers.context import Turn
from handlers.nlu import ContactCandidate, Intent, Role, Understanding, match_contacts
from handlers.nlu.entities import extract_customer
from handlers.nlu.normalize import fold
from handlers.owner import invoice_documents, invoice_line, owed_text, with_statement
from storage import repo
from storage.models import Contact, Invoice, InvoiceStatus

log = logging.getLogger(__name__)

PAID_FLOW = "customer_paid"
MAX_SENT_INVOICES = 3
PROOF_TYPES = ("image/", "application/pdf")


def _me(turn: Turn) -> Contact:
    contact = turn.speaker.contact
    if contact is None:
        raise LookupError("customer turn without a contact")
    return contact


def my_balance(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    # One query: the customer's open invoices, summed here per currency.
    invoices = repo.open_invoices(
        turn.session,
        business_id=contact.business_id,
        direction="receivable",
        contact_id=contact.id,
    )
    if not invoices:
        return Reply().say(f"No tienes saldo pendiente con {turn.business.name}. ✅")
    head = [f"Tu saldo con {turn.business.name}: {owed_text(invoices)}"]
    if _names_someone_else(turn, contact):
        head.insert(0, "Sólo puedo darte información de tu propia cuenta.")
    lines = capped(
        [invoice_line(i, turn.today) for i in invoices],
        "Escribe «link» para ver todas en tu portal.",
    )
    text = "\n".join([*head, *lines, how_to_pay(turn, contact)])
    if not _WANTS_STATEMENT.search(fold(turn.inbound.text)):
        return Reply().say(text)
    return with_statement(turn, contact, text, turn.today.isoformat())


_WANTS_STATEMENT = re.compile(r"\bestado de cuenta\b")


# «¿cuánto debe X?», «el saldo de X»: a question about somebody in particular.
_ABOUT_A_THIRD = re.compile(
    r"\b(?:debe|deben|adeuda)\b|\b(?:saldo|estado de cuenta|facturas|adeudo) de\b"
)
# «¿cuánto debe mi empresa?»: the customer speaking of their own company.
_THEMSELVES = re.compile(
    r"\b(?:mi|nuestr[oa])\s+(?:empresa|negocio|compania|cuenta|despacho|"
    r"tienda|firma|sociedad|razon social|changarro)\b"
)


def _names_someone_else(turn: Turn, contact: Contact) -> bool:
    """Whether the message names somebody who is neither this customer nor the
    business («¿cuánto debe Tolteca?»): the answer is still their own account."""
    folded = fold(turn.inbound.text)
    if not _ABOUT_A_THIRD.search(folded) or _THEMSELVES.search(folded):
        return False
    named = extract_customer(turn.inbound.text, turn.today)
    if not named:
        return False
    themselves = [
        ContactCandidate(contact.id, contact.name, contact.trade_name, contact.rfc),
        ContactCandidate(0, turn.business.name, None, turn.business.rfc),
    ]
    return not match_contacts(named, themselves)


def how_to_pay(turn: Turn, contact: Contact) -> str:
    way = customer_side.how_to_pay(turn.business, contact)
    if way is None:
        return "Escribe «link» para ver cómo pagar."
    return _spei_line(way)


def _spei_line(way: customer_side.HowToPay) -> str:
    if way.virtual:
        return (
            f"Puedes pagar por SPEI a la CLABE {way.clabe} "
            "(es sólo tuya: el pago se aplica solo)."
        )
    return (
        f"Puedes pagar por SPEI a la CLABE {way.clabe} a nombre de "
        f"{way.beneficiary}, con referencia {way.reference}."
    )


def my_link(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    token = business_flows.portal_token(
        turn.session, contact=contact, key=turn.config.portal_key, now=turn.now
    )
    url = business_flows.portal_url(turn.config.public_base_url, token)
    way = customer_side.how_to_pay(turn.business, contact)
    text = f"Aquí puedes ver y pagar tus facturas:\n{url}"
    if way is not None:
        text += "\n" + _spei_line(way)
    return Reply().say(text)


def opt_out(turn: Turn, understanding: Understanding) -> Reply:
    contact = turn.speaker.contact
    if contact is None:
        return Reply().say("Eres parte del equipo; no te mando recordatorios. 🙂")
    business_flows.set_whatsapp_opt_out(
        turn.session,
        contact=contact,
        opted_out=True,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        f"Listo, ya no te mandaremos recordatorios de {turn.business.name} por "
        "WhatsApp. Si cambias de opinión, escribe ALTA."
    )


def opt_in(turn: Turn, understanding: Understanding) -> Reply:
    contact = turn.speaker.contact
    if contact is None:
        return Reply().say("Eres parte del equipo; no te mando recordatorios. 🙂")
    business_flows.set_whatsapp_opt_out(
        turn.session,
        contact=contact,
        opted_out=False,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        f"¡Listo! Volverás a recibir por WhatsApp los avisos de {turn.business.name}. "
        "Escribe BAJA para dejar de recibirlos."
    )


# --- Invoices as documents ---------------------------------------------------------


def my_invoice(turn: Turn, understanding: Understanding) -> Reply:
    """The PDF and XML of the invoice named, or of the only open one."""
    contact = _me(turn)
    picked = _named_invoices(turn, contact, understanding)
    if isinstance(picked, Reply):
        return picked
    if not picked:
        open_ones = customer_side.own_invoices(turn.session, contact=contact)
        if not open_ones:
            return Reply().say(
                "No tienes facturas pendientes. Si buscas una ya pagada, escribe su "
                "folio, por ejemplo «factura A-102»."
            )
        if len(open_ones) > 1:
            labels = ", ".join(i.label for i in open_ones[:10])
            return Reply().say(
                f"Tienes {len(open_ones)} facturas abiertas: {labels}. ¿Cuál te mando? "
                f"Escribe, por ejemplo, «factura {open_ones[0].label}»."
            )
        picked = open_ones

    reply = Reply()
    for invoice in picked[:MAX_SENT_INVOICES]:
        reply.messages.append(invoice_documents(turn, invoice))
    return reply


def _named_invoices(
    turn: Turn, contact: Contact, understanding: Understanding
) -> list[Invoice] | Reply:
    """The speaker's own invoices the message names; any other folio is "not found".

    The refusal reads the same whether the folio belongs to another customer or to
    nobody, so it reveals nothing.
    """
    found: list[Invoice] = []
    for ref in understanding.entities.invoice_refs:
        invoice = customer_side.own_invoice_by_ref(
            turn.session, contact=contact, folio=ref.folio, series=ref.series
        )
        if invoice is None:
            log.info(
                "customer named an invoice not theirs or missing",
                extra={"business_id": contact.business_id, "channel": turn.channel},
            )
            return Reply().say(
                f"No encontré la factura {ref} entre tus facturas con "
                f"{turn.business.name}. Escribe «saldo» para ver las tuyas."
            )
        found.append(invoice)
    return found


def _subject_invoice(
    turn: Turn, contact: Contact, understanding: Understanding
) -> Invoice | None | Reply:
    """The invoice a report, promise or dispute is about: named, else the only open."""
    named = _named_invoices(turn, contact, understanding)
    if isinstance(named, Reply):
        return named
    if named:
        return named[0]
    open_ones = customer_side.own_invoices(turn.session, contact=contact)
    return open_ones[0] if len(open_ones) == 1 else None


# --- "¿Ya está pagada?" -------------------------------------------------------------


def my_status(turn: Turn, understanding: Understanding) -> Reply:
    """Where an invoice stands (the one named, else the only open one), or, about
    payments in general, the last one recorded and the balance. A question, never
    taken as a report that the customer paid."""
    contact = _me(turn)
    named = _named_invoices(turn, contact, understanding)
    if isinstance(named, Reply):
        return named
    if not named:
        open_ones = customer_side.own_invoices(turn.session, contact=contact)
        named = open_ones if len(open_ones) == 1 else []
    if not named and _WHEN_DUE.search(fold(turn.inbound.text)):
        # "¿Cuándo vence mi factura?" with several open: each one's due date.
        return my_balance(turn, understanding)
    lines = [_invoice_status(turn, contact, i) for i in named[:MAX_SENT_INVOICES]]
    if not named:
        last = customer_side.last_payment(turn.session, contact=contact)
        lines.append(
            f"El último pago tuyo que {turn.business.name} tiene registrado es de "
            f"{money(last.amount, last.currency)}, del "
            f"{short_date(last.paid_at.date(), today=turn.today)}."
            if last is not None
            else f"{turn.business.name} todavía no tiene registrado ningún pago tuyo."
        )
    report = customer_side.latest_pending_report(
        turn.session, contact=contact, since=turn.now - customer_side.REPORT_HOLD
    )
    asked = {i.id for i in named}
    if report is not None and (
        not asked or report.invoice_id is None or report.invoice_id in asked
    ):
        lines.append(
            f"Tu aviso de pago del {short_date(report.created_at.date())} está por "
            "confirmarse; te llegará tu recibo en cuanto lo confirmen."
        )
    reply = Reply().say("\n".join(lines))
    if not named:
        reply.messages += my_balance(turn, understanding).messages
    return reply


_WHEN_DUE = re.compile(
    r"\b(?:cuando|que dia|que fecha) (?:vence|vencen|se vence)|fecha (?:de|limite)"
)


def _invoice_status(turn: Turn, contact: Contact, invoice: Invoice) -> str:
    total = money(invoice.total, invoice.currency)
    head = f"La factura {invoice.label} por {total}"
    if invoice.status == InvoiceStatus.CANCELLED:
        return f"{head} está cancelada: no debes nada por ella."
    if invoice.status == InvoiceStatus.PAID or invoice.balance <= 0:
        last = customer_side.last_payment(
            turn.session, contact=contact, invoice_id=invoice.id
        )
        when = (
            f" (último pago el {short_date(last.paid_at.date(), today=turn.today)})"
            if last is not None
            else ""
        )
        return f"{head} ya está pagada ✅{when}."
    left = money(invoice.balance, invoice.currency)
    days = (turn.today - invoice.due_date).days
    due = short_date(invoice.due_date, today=turn.today)
    if days > 0:
        when = f"venció el {due} (hace {days} día{'s' if days != 1 else ''})"
    elif days == 0:
        when = "vence hoy"
    else:
        when = f"vence el {due}"
    if invoice.balance < invoice.total:
        return f"{head} tiene abonos; le quedan {left} y {when}."
    return f"{head} está pendiente de pago y {when}."


# --- "Ya pagué" --------------------------------------------------------------------


def i_paid(turn: Turn, understanding: Understanding) -> Reply:
    """Keep the report and its proof, hold reminders, ask the owner to confirm."""
    contact = _me(turn)
    invoice = _subject_invoice(turn, contact, understanding)
    if isinstance(invoice, Reply):
        return invoice
    amount = understanding.entities.amount
    proof = _proof(turn)
    if invoice is None and amount is None:
        if not customer_side.own_invoices(turn.session, contact=contact):
            return Reply().say(
                f"¡Gracias! No tienes saldo pendiente con {turn.business.name}. ✅"
            )
        turn.start(
            PAID_FLOW,
            "amount",
            {
                "proof_path": proof.stored_path if proof else None,
                "proof_type": proof.content_type if proof else None,
                "note": turn.inbound.text,
            },
        )
        return Reply().say(
            "¡Gracias por avisar! ¿De cuánto fue el pago? Así lo ubicamos más rápido."
        )
    return _file_report(
        turn,
        contact,
        invoice=invoice,
        amount=amount,
        currency=understanding.entities.currency,
        proof_path=proof.stored_path if proof else None,
        proof_type=proof.content_type if proof else None,
        note=turn.inbound.text,
    )


def paid_amount_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿De cuánto fue el pago?"."""
    if (
        understanding.intent
        not in (
            Intent.UNKNOWN,
            Intent.CUSTOMER_PAID,
            Intent.CONFIRM_NO,
        )
        and understanding.entities.amount is None
    ):
        return None
    data = dict(turn.conversation.data)
    turn.finish()
    proof = _proof(turn)
    return _file_report(
        turn,
        _me(turn),
        invoice=None,
        amount=understanding.entities.amount,
        currency=understanding.entities.currency,
        proof_path=proof.stored_path if proof else data.get("proof_path"),
        proof_type=proof.content_type if proof else data.get("proof_type"),
        note=data.get("note"),
    )


def _file_report(
    turn: Turn,
    contact: Contact,
    *,
    invoice: Invoice | None,
    amount: Decimal | None,
    currency: str | None,
    proof_path: str | None,
    proof_type: str | None,
    note: str | None,
) -> Reply:
    report = customer_side.report_payment(
        turn.session,
        contact=contact,
        invoice=invoice,
        amount=amount,
        currency=currency,
        channel=turn.channel,
        now=turn.now,
        today=turn.today,
        proof_path=proof_path,
        proof_content_type=proof_type,
        note=note,
    )
    what = f" de {money(report.amount, report.currency)}" if report.amount else ""
    about = f" (factura {invoice.label})" if invoice is not None else ""
    proof_line = (
        "Recibimos tu comprobante."
        if proof_path
        else "Si tienes el comprobante, mándalo aquí como foto o PDF."
    )
    return Reply().say(
        f"¡Gracias! Le avisé a {turn.business.name} de tu pago{what}{about} para que "
        f"lo confirme. {proof_line} Mientras tanto no te mandaremos recordatorios; "
        "te llegará tu recibo cuando lo confirmen."
    )


def _proof(turn: Turn) -> Media | None:
    """The first file of the message kept by the channel: an image or a PDF."""
    for item in turn.inbound.media:
        if item.stored_path and item.content_type.startswith(PROOF_TYPES):
            return item
    return None


def proof_only(turn: Turn, contact: Contact, proof: Media) -> Reply:
    """A file with no words: proof of a payment reported earlier, or a new report."""
    pending = customer_side.latest_pending_report(
        turn.session, contact=contact, since=turn.now - customer_side.REPORT_HOLD
    )
    if pending is None or pending.proof_path:
        return _file_report(
            turn,
            contact,
            invoice=None,
            amount=None,
            currency=None,
            proof_path=proof.stored_path,
            proof_type=proof.content_type,
            note=None,
        )
    customer_side.attach_proof(
        turn.session,
        report=pending,
        path=proof.stored_path or "",
        content_type=proof.content_type,
        now=turn.now,
    )
    return Reply().say(
        f"Recibimos tu comprobante. Se lo pasé a {turn.business.name} para que "
        "confirme tu pago. ¡Gracias!"
    )


# --- Promises and disputes ---------------------------------------------------------


def i_promise(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    day = understanding.entities.date
    if day is None:
        return Reply().say(
            "¿Qué día nos pagarías? Escríbelo así: «pago el viernes» o «el 15 les "
            "deposito»."
        )
    invoice = _subject_invoice(turn, contact, understanding)
    if isinstance(invoice, Reply):
        return invoice
    record_promise(
        turn.session,
        contact=contact,
        invoice=invoice,
        promised_on=day,
        amount=understanding.entities.amount,
        channel=turn.channel,
        now=turn.now,
        today=turn.today,
    )
    about = f" de la factura {invoice.label}" if invoice is not None else ""
    return Reply().say(
        f"Anotado 🙂 {turn.business.name} espera tu pago{about} el "
        f"{short_date(day, today=turn.today)}. No te mandaremos recordatorios hasta "
        "entonces."
    )


def i_dispute(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    invoice = _subject_invoice(turn, contact, understanding)
    if isinstance(invoice, Reply):
        return invoice
    _, new = customer_side.open_dispute(
        turn.session,
        contact=contact,
        invoice=invoice,
        reason=turn.inbound.text.strip() or "Sin detalle",
        channel=turn.channel,
        now=turn.now,
    )
    about = f" sobre la factura {invoice.label}" if invoice is not None else ""
    if not new:
        return Reply().say(
            f"Ya tenemos tu aclaración{about}; {turn.business.name} la está "
            "revisando y te contestará por aquí."
        )
    return Reply().say(
        f"Gracias por avisarnos. Le pasé tu aclaración{about} a {turn.business.name}; "
        "te contestarán por aquí. Mientras tanto no te mandaremos recordatorios"
        f"{' de esa factura' if invoice is not None else ''}."
    )


# --- Anything else goes to the owner ---------------------------------------------


def pass_on(turn: Turn, understanding: Understanding) -> Reply:
    """A customer's message Cobra cannot answer reaches the owner with their name."""
    contact = turn.speaker.contact
    if turn.speaker.role != Role.CUSTOMER or contact is None:
        return common.not_understood(turn, understanding)
    proof = _proof(turn)
    text = turn.inbound.text.strip()
    if proof is not None and not text:
        return proof_only(turn, contact, proof)
    if not text:
        return common.not_understood(turn, understanding)
    # Limitation: every unplaced message is forwarded (one alert per provider
    # message id); a customer who writes a lot produces as many owner alerts.
    customer_side.pass_to_owner(
        turn.session,
        contact=contact,
        text=text,
        channel=turn.channel,
        now=turn.now,
        message_key=turn.inbound.provider_message_id or turn.now.isoformat(),
    )
    if understanding.intent == Intent.CUSTOMER_PLAN:
        return Reply().say(
            f"Le pasé tu solicitud a {turn.business.name} para ver cómo te pueden "
            "apoyar con el pago; te contestarán por aquí."
        )
    return Reply().say(
        f"Le pasé tu mensaje a {turn.business.name}; te contestarán por aquí."
    )


# --- The owner's one-tap answers --------------------------------------------------


def on_report_button(turn: Turn, payload: str) -> Reply:
    """`report:<id>:confirm` records the payment; `report:<id>:reject` declines it."""
    parsed = _parse_payload(payload, verbs=("confirm", "reject"))
    if not turn.speaker.is_team or parsed is None:
        return common.not_understood(turn, _button_understanding())
    report_id, verb = parsed
    report = customer_side.report_of(
        turn.session, business_id=turn.business.id, report_id=report_id
    )
    if report is None:
        return Reply().say("Ese aviso de pago ya no existe.")
    contact = turn.session.get(Contact, report.contact_id)
    assert contact is not None
    name = contact.display_name
    if report.status != "pending":
        done = "confirmado" if report.status == "confirmed" else "rechazado"
        return Reply().say(f"El aviso de pago de {name} ya estaba {done}.")
    if verb == "reject":
        customer_side.reject_report(
            turn.session,
            report=report,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        return Reply().say(
            f"Listo, le avisé a {name} que no encontramos su pago. Sus recordatorios "
            "siguen."
        )
    payment = customer_side.confirm_report(
        turn.session,
        report=report,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
        public_base_url=turn.config.public_base_url,
        portal_key=turn.config.portal_key,
    )
    labels = ", ".join(a.invoice.label for a in payment.allocations)
    return Reply().say(
        f"Listo ✅ Registré {money(payment.amount, payment.currency)} de {name} "
        f"({labels}) y le mando su recibo."
    )


def on_dispute_button(turn: Turn, payload: str) -> Reply:
    """`dispute:<id>:resolve` closes the dispute; its reminders resume."""
    parsed = _parse_payload(payload, verbs=("resolve",))
    if not turn.speaker.is_team or parsed is None:
        return common.not_understood(turn, _button_understanding())
    dispute = customer_side.dispute_of(
        turn.session, business_id=turn.business.id, dispute_id=parsed[0]
    )
    if dispute is None:
        return Reply().say("Esa aclaración ya no existe.")
    contact = turn.session.get(Contact, dispute.contact_id)
    assert contact is not None
    closed = customer_side.resolve_dispute(
        turn.session,
        dispute=dispute,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    name = contact.display_name
    if not closed:
        return Reply().say(f"La aclaración de {name} ya estaba resuelta.")
    return Reply().say(
        f"Listo, marqué como resuelta la aclaración de {name}; le avisé y sus "
        "recordatorios siguen."
    )


RESOLVE_RE = re.compile(
    r"^\s*(?:resuelve|resolver|resuelta|cierra|cerrar|marca como resuelta)\s+"
    r"(?:la\s+|las\s+)?(?:disputas?|aclaraci(?:o|on|ones)|quejas?)\s+(?:de|con)\s+"
    r"(?P<name>.+?)\s*[.!]?\s*$"
)


def resolve_by_text(turn: Turn, match: re.Match[str]) -> Reply:
    """ "resuelve la disputa de Acme": closes that customer's open disputes."""
    if not turn.speaker.is_team:
        return common.not_understood(turn, _button_understanding())
    phrase = match.group("name")
    open_ones = customer_side.open_disputes(turn.session, business_id=turn.business.id)
    contacts = {
        d.contact_id: turn.session.get(Contact, d.contact_id) for d in open_ones
    }
    candidates = [
        ContactCandidate(c.id, c.name, c.trade_name, c.rfc)
        for c in contacts.values()
        if c is not None
    ]
    matches = match_contacts(phrase, candidates)
    if not matches:
        return Reply().say(f"No hay aclaraciones abiertas de «{phrase}».")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches)
        return Reply().say(f"¿De cuál? Hay aclaraciones abiertas de {names}.")
    contact = contacts[matches[0].id]
    assert contact is not None
    for dispute in open_ones:
        if dispute.contact_id == contact.id:
            customer_side.resolve_dispute(
                turn.session,
                dispute=dispute,
                actor=turn.speaker.actor,
                channel=turn.channel,
                now=turn.now,
            )
    return Reply().say(
        f"Listo, marqué como resuelta la aclaración de "
        f"{contact.display_name}; le avisé y sus recordatorios siguen."
    )


def _parse_payload(payload: str, *, verbs: tuple[str, ...]) -> tuple[int, str] | None:
    parts = payload.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[2] not in verbs:
        return None
    return int(parts[1]), parts[2]


def _button_understanding() -> Understanding:
    return Understanding(Intent.UNKNOWN, common.no_entities(), "button", 1.0)


INTENTS = {
    Intent.CUSTOMER_BALANCE: my_balance,
    Intent.CUSTOMER_STATUS: my_status,
    Intent.CUSTOMER_LINK: my_link,
    Intent.CUSTOMER_INVOICE: my_invoice,
    Intent.CUSTOMER_PAID: i_paid,
    Intent.CUSTOMER_PROMISE: i_promise,
    Intent.CUSTOMER_DISPUTE: i_dispute,
    Intent.CUSTOMER_PLAN: pass_on,
}
# BAJA / ALTA come from anyone; they only change something for a customer. What
# nothing understood goes to the owner when a customer wrote it.
COMMON = {Intent.OPT_OUT: opt_out, Intent.OPT_IN: opt_in, Intent.UNKNOWN: pass_on}
STEPS = {PAID_FLOW: paid_amount_step}
# Button payloads "<prefix>:<id>:<verb>" and team commands with no intent of their own.
PAYLOADS = {"report": on_report_button, "dispute": on_dispute_button}
COMMANDS = [(RESOLVE_RE, resolve_by_text)]
