"""Adding a customer or supplier from the chat, and correcting their RFC.

«Da de alta al cliente Comercial Luna, RFC CLU010101AB1, 55 1234 5678,
pagos@luna.mx»: the name, the RFC (so that their CFDI find them, not a twin), and
optionally their WhatsApp and email. The answer is the new contact's card.
«El RFC de Luna es CLU010101AB1» corrects one already there, after a «Sí».
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from flows import business as business_flows
from flows.audit import audit
from flows.errors import InvalidInput
from flows.fmt import GENERIC_RFCS, PUBLIC_RFC, match_key
from flows.messages import Reply
from handlers import actions
from handlers.common import update_contact
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.normalize import fold
from handlers.nlu.parsing import parse_rfc
from handlers.owner import contact_card
from handlers.resolve import (
    find_contact,
    matching_contacts,
    own_contact,
    park,
    resumed,
)
from storage import repo
from storage.models import Contact, ContactKind, Invoice

ASK_RFC_FLOW = "ask_rfc"
SET_RFC_ACTION = "set_contact_rfc"
REMOVE_ACTION = "remove_contact"

# The order itself: "agrega al cliente", "nuevo proveedor:", "da de alta a".
_ORDER = re.compile(
    r"^\W*(?:oye,? |por favor,? )?(?:(?:agrega|agregame|anade|añade|registra|"
    r"registrame|crea|crear|da de alta|dar de alta|doy de alta|dame de alta|alta de)"
    r"(?: a| al)?(?: un| una| el| la| mi| nuevo| nueva)*\s+)?"
    r"(?:nuevo |nueva )?(?:cliente|proveedor)\b\W*",
    re.IGNORECASE,
)
# Where the name ends: a comma, "con", "rfc", a phone, an email.
_NAME_END = re.compile(
    r"[,;(]|\s(?:(?:el|su)\s)?(?:con|rfc|whatsapp|wa|correo|email|mail|tel|"
    r"telefono|teléfono|cel|celular|numero|número)\b|\s\+?\d[\d\s-]{6,}|\S+@"
    r"|\s[A-ZÑ&]{3,4}\d{6}",
    re.IGNORECASE,
)


def add_contact(turn: Turn, understanding: Understanding) -> Reply:
    text = turn.inbound.text.strip()
    kind = (
        ContactKind.SUPPLIER
        if re.search(r"\bproveedor", fold(text))
        else ContactKind.CUSTOMER
    )
    noun = "proveedor" if kind == ContactKind.SUPPLIER else "cliente"
    name = _name(text)
    example = f"«da de alta al {noun} Comercial Luna, RFC CLU010101AB1, 55 1234 5678»"
    if not name:
        raise InvalidInput(f"¿Cómo se llama? Escríbemelo así: {example}.")
    entities = understanding.entities
    rfc = entities.rfc
    if rfc is not None and rfc not in GENERIC_RFCS:
        # "Agrega al cliente Luna el RFC …" when Luna is there with the generic
        # one, or with another: a correction, not a second Luna.
        same = _same_name(turn, name, kind)
        if same is not None and same.rfc != rfc:
            if same.rfc in GENERIC_RFCS:
                return _propose_rfc(turn, same, rfc)
            return Reply().say(
                f"Ya tienes a {same.display_name} con RFC {same.rfc}. Si el correcto "
                f"es {rfc}, escribe «cambia el RFC de {same.display_name} a {rfc}»."
            )
    if rfc is None and (entities.phone or entities.email):
        # "Agrega al cliente Acme el correo …": a datum for one they already have.
        known = _known(turn, name, kind)
        if known is not None:
            update_contact(
                turn,
                known,
                whatsapp=entities.phone,
                email=entities.email,
            )
            what = "el correo" if entities.email else "el WhatsApp"
            if entities.phone and entities.email:
                what = "el WhatsApp y el correo"
            return Reply().say(f"Listo, guardé {what} de {known.display_name}.")
    if rfc is None:
        return park(
            turn,
            ASK_RFC_FLOW,
            understanding,
            f"¿Cuál es el RFC de {name}? Con él encuentro sus facturas. Si no tiene, "
            "escribe «genérico».",
            name=name,
            kind=str(kind),
        )
    return _create(turn, understanding, name=name, kind=kind, rfc=rfc)


def ask_rfc_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿Cuál es su RFC?": the RFC, or «genérico»."""
    rfc = parse_rfc(turn.inbound.text)
    if rfc is None and re.search(r"\bgeneric", fold(turn.inbound.text)):
        rfc = PUBLIC_RFC
    if rfc is None:
        if understanding.intent is Intent.CONFIRM_NO or re.search(
            r"\bno (?:se|lo se|tiene|tengo|lo tengo|tienen|cuento)\b|\bninguno\b",
            fold(turn.inbound.text),
        ):
            return Reply().say(
                f"Sin RFC lo doy de alta con el genérico {PUBLIC_RFC}, y no lo "
                "encontraré en facturas con RFC propio. ¿Así? Escribe «genérico», o "
                "mándame el RFC cuando lo tengas (o «cancelar»)."
            )
        if understanding.intent is not Intent.UNKNOWN:
            return None  # something else: the router takes it
        return Reply().say(
            "Eso no parece un RFC: son 12 o 13 letras y números, como CLU010101AB1. "
            "¿Cuál es? (o «cancelar»)"
        )
    data = turn.conversation.data
    request = resumed(turn)
    turn.finish()
    return _create(
        turn, request, name=data["name"], kind=ContactKind(data["kind"]), rfc=rfc
    )


def _create(
    turn: Turn, understanding: Understanding, *, name: str, kind: ContactKind, rfc: str
) -> Reply:
    """The new contact (or the one already there), answered with its card."""
    noun = "proveedor" if kind == ContactKind.SUPPLIER else "cliente"
    existing = repo.contact_by_key(
        turn.session,
        business_id=turn.business.id,
        kind=kind,
        key=match_key(rfc, name),
    )
    if existing is not None:
        turn.notes["contact_id"] = existing.id
        card = contact_card(turn, understanding)
        return Reply().say(
            f"Ya tenía a {existing.display_name} con ese RFC; no lo dupliqué.\n"
            + card.text
        )
    contact, _ = business_flows.get_or_create_contact(
        turn.session,
        business=turn.business,
        kind=kind,
        rfc=rfc,
        name=name,
        now=turn.now,
    )
    entities = understanding.entities
    if entities.phone or entities.email:
        update_contact(
            turn,
            contact,
            whatsapp=entities.phone,
            email=entities.email,
        )
    audit(
        turn.session,
        business_id=turn.business.id,
        actor=turn.speaker.actor,
        channel=turn.channel,
        action="contact.created",
        subject=f"contact:{contact.id}",
        data={"kind": str(kind)},
        now=turn.now,
    )
    turn.notes["contact_id"] = contact.id
    card = contact_card(turn, understanding)
    head = f"Listo, di de alta a {contact.name} como {noun}."
    if rfc in GENERIC_RFCS:
        head += " Con el RFC genérico no lo encuentro en facturas con RFC propio."
    return Reply().say(f"{head}\n{card.text}")


def _name(text: str) -> str:
    """The contact's name: what follows the order, up to its first other datum."""
    rest = _ORDER.sub("", text, count=1)
    cut = _NAME_END.search(rest)
    name = (rest[: cut.start()] if cut else rest).strip(" :.-")
    name = re.sub(r"\s+(?:y|e)$", "", name, flags=re.IGNORECASE)
    return " ".join(name.split())


def _known(turn: Turn, name: str, kind: str) -> Contact | None:
    """The one contact of this kind the name clearly points at, if any."""
    matches = matching_contacts(turn, name, kind=kind, limit=2)
    if len(matches) != 1:
        return None
    return turn.session.get(Contact, matches[0].id)


def _same_name(turn: Turn, name: str, kind: str) -> Contact | None:
    """The contact of this kind whose name (or trade name) is this one, if any."""
    wanted = " ".join(fold(name).split())
    for contact in repo.contacts_of(
        turn.session, business_id=turn.business.id, kind=kind
    ):
        names = (contact.name, contact.trade_name or "")
        if any(" ".join(fold(n).split()) == wanted for n in names):
            return contact
    return None


def set_rfc(turn: Turn, understanding: Understanding) -> Reply:
    """«El RFC de Luna es CLU010101AB1»: proposed, done on «Sí»."""
    rfc = understanding.entities.rfc
    if rfc is None:
        raise InvalidInput(
            "Eso no parece un RFC: son 12 o 13 letras y números, como "
            "CLU010101AB1. Escríbemelo así: «el RFC de Luna es CLU010101AB1»."
        )
    text = fold(turn.inbound.text)
    kind = "supplier" if re.search(r"\bproveedor", text) else None
    contact = find_contact(
        turn, understanding, kind=kind, question="¿De quién es ese RFC?"
    )
    if isinstance(contact, Reply):
        return contact
    if contact.rfc == rfc:
        return Reply().say(f"{contact.display_name} ya tiene el RFC {rfc}.")
    return _propose_rfc(turn, contact, rfc)


def _propose_rfc(turn: Turn, contact: Contact, rfc: str) -> Reply:
    other = business_flows.rfc_holder(turn.session, contact=contact, rfc=rfc)
    if other is not None:
        return Reply().say(
            f"El RFC {rfc} ya es de {other.display_name}; no se lo puedo poner "
            f"también a {contact.display_name}."
        )
    question = (
        f"¿Cambio el RFC de {contact.display_name} de {contact.rfc} a {rfc}? Con él "
        "encuentro sus facturas del SAT y saldrán las nuevas que le hagas."
    )
    stamped = turn.session.scalar(
        select(Invoice.id).where(
            Invoice.contact_id == contact.id, Invoice.uuid.is_not(None)
        )
    )
    if stamped is not None:
        question += " Las ya timbradas conservan el RFC con que se timbraron."
    payload = {"contact_id": contact.id, "rfc": rfc}
    return actions.propose(turn, SET_RFC_ACTION, payload, question)


def do_set_rfc(turn: Turn, payload: dict[str, Any]) -> Reply:
    contact = own_contact(turn, payload["contact_id"], "Ese contacto ya no existe.")
    business_flows.change_contact_rfc(
        turn.session,
        contact=contact,
        rfc=payload["rfc"],
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(f"Listo, {contact.display_name} ya tiene el RFC {contact.rfc}.")


def remove_contact(turn: Turn, understanding: Understanding) -> Reply:
    """«Borra a Luna Textil»: only for one added by mistake, after a «Sí»."""
    contact = find_contact(turn, understanding, kind=None)
    if isinstance(contact, Reply):
        return contact
    noun = "proveedor" if contact.kind == ContactKind.SUPPLIER else "cliente"
    question = (
        f"¿Borro al {noun} {contact.display_name} (RFC {contact.rfc})? Sólo se "
        "puede si aún no tiene facturas, pagos ni mensajes."
    )
    return actions.propose(turn, REMOVE_ACTION, {"contact_id": contact.id}, question)


def do_remove_contact(turn: Turn, payload: dict[str, Any]) -> Reply:
    contact = own_contact(turn, payload["contact_id"], "Ese contacto ya no existe.")
    name = contact.display_name
    business_flows.remove_contact(
        turn.session,
        contact=contact,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(f"Listo, borré a {name}.")


INTENTS = {
    Intent.ADD_CONTACT: add_contact,
    Intent.SET_CONTACT_RFC: set_rfc,
    Intent.REMOVE_CONTACT: remove_contact,
}
STEPS = {ASK_RFC_FLOW: ask_rfc_step}
actions.register(SET_RFC_ACTION, do_set_rfc)
actions.register(REMOVE_ACTION, do_remove_contact)
