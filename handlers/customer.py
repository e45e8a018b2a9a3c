"""What a customer can ask Cobra about their own invoices with one business.

Every answer is built from the speaker's own contact row: a customer never sees
another customer's data, whatever they write.
"""

from __future__ import annotations

from flows import business as business_flows
from flows.fmt import money
from flows.messages import Reply
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.owner import capped, invoice_line
from storage import repo
from storage.models import Contact


def _me(turn: Turn) -> Contact:
    contact = turn.speaker.contact
    if contact is None:
        raise LookupError("customer turn without a contact")
    return contact


def my_balance(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    totals = repo.balance_totals(
        turn.session,
        business_id=contact.business_id,
        direction="receivable",
        today=turn.today,
        contact_id=contact.id,
    )
    if not totals:
        return Reply().say(f"No tienes saldo pendiente con {turn.business.name}. ✅")
    head = [
        f"Tu saldo con {turn.business.name}: "
        + ", ".join(money(t, c) for c, (t, _, _) in totals.items())
    ]
    invoices = repo.open_invoices(
        turn.session,
        business_id=contact.business_id,
        direction="receivable",
        contact_id=contact.id,
    )
    lines = capped(
        [invoice_line(i, turn.today) for i in invoices],
        "Escribe «link» para ver todas en tu portal.",
    )
    return Reply().say("\n".join([*head, *lines, how_to_pay(turn, contact)]))


def how_to_pay(turn: Turn, contact: Contact) -> str:
    business = turn.business
    if contact.virtual_clabe:
        return (
            f"Puedes pagar por SPEI a la CLABE {contact.virtual_clabe} "
            "(es sólo tuya: el pago se aplica solo)."
        )
    if business.clabe:
        return (
            f"Puedes pagar por SPEI a la CLABE {business.clabe} a nombre de "
            f"{business.name}, con referencia {contact.rfc}."
        )
    return "Escribe «link» para ver cómo pagar."


def my_link(turn: Turn, understanding: Understanding) -> Reply:
    contact = _me(turn)
    token = business_flows.portal_token(
        turn.session, contact=contact, key=turn.config.portal_key, now=turn.now
    )
    url = business_flows.portal_url(turn.config.public_base_url, token)
    return Reply().say(f"Aquí puedes ver y pagar tus facturas:\n{url}")


def opt_out(turn: Turn, understanding: Understanding) -> Reply:
    contact = turn.speaker.contact
    if contact is None:
        return Reply().say("Eres parte del equipo; no te mando recordatorios. 🙂")
    business_flows.set_whatsapp_opt_out(
        turn.session, contact=contact, opted_out=True, channel=turn.channel, now=turn.now
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
        turn.session, contact=contact, opted_out=False, channel=turn.channel, now=turn.now
    )
    return Reply().say(
        f"¡Listo! Volverás a recibir por WhatsApp los avisos de {turn.business.name}. "
        "Escribe BAJA para dejar de recibirlos."
    )


INTENTS = {
    Intent.CUSTOMER_BALANCE: my_balance,
    Intent.CUSTOMER_LINK: my_link,
}
# BAJA / ALTA come from anyone; they only change something for a customer.
COMMON = {Intent.OPT_OUT: opt_out, Intent.OPT_IN: opt_in}
STEPS: dict = {}
