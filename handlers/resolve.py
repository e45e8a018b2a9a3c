"""Turning what a message names into rows: a contact by name, invoices by reference.

When a name fits several contacts, or a needed piece is missing, the handler asks
and parks the request in the conversation; the answer resumes it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from decimal import Decimal
from typing import Any

from flows.errors import NotFound
from flows.messages import Reply
from handlers.context import Turn
from handlers.nlu import (
    ContactCandidate,
    ContactMatch,
    Entities,
    Intent,
    InvoiceRef,
    Understanding,
    match_contacts,
    parse_amount,
)
from storage import repo
from storage.models import Contact, Invoice

CHOOSE_FLOW = "choose_contact"
ASK_CONTACT_FLOW = "ask_contact"
ASK_AMOUNT_FLOW = "ask_amount"
MAX_CHOICES = 5


def entities_to_json(entities: Entities) -> dict[str, Any]:
    data = asdict(entities)
    data["amount"] = str(entities.amount) if entities.amount is not None else None
    for field in ("date", "past_date"):
        day = getattr(entities, field)
        data[field] = day.isoformat() if day else None
    data["invoice_refs"] = [[r.series, r.folio] for r in entities.invoice_refs]
    return data


def entities_from_json(data: dict[str, Any]) -> Entities:
    return Entities(
        amount=Decimal(data["amount"]) if data.get("amount") else None,
        currency=data.get("currency"),
        invoice_refs=tuple(InvoiceRef(s, f) for s, f in data.get("invoice_refs", [])),
        customer=data.get("customer"),
        date=_day(data.get("date")),
        past_date=_day(data.get("past_date")),
        period=data.get("period"),
        phone=data.get("phone"),
        email=data.get("email"),
        rfc=data.get("rfc"),
        all_contacts=bool(data.get("all_contacts")),
        text=data.get("text"),
    )


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def park(
    turn: Turn,
    flow: str,
    understanding: Understanding,
    question: str,
    **extra: Any,
) -> Reply:
    """Ask a question and keep the request to resume when it is answered."""
    turn.start(
        flow,
        "awaiting",
        {
            "intent": str(understanding.intent),
            "entities": entities_to_json(understanding.entities),
            **extra,
        },
    )
    return Reply().say(question)


def resumed(turn: Turn, **changes: Any) -> Understanding:
    """The parked request, with what the answer supplied."""
    data = turn.conversation.data
    entities = replace(entities_from_json(data["entities"]), **changes)
    return Understanding(
        intent=Intent(data["intent"]), entities=entities, source="resume", confidence=1
    )


def matching_contacts(
    turn: Turn, phrase: str, *, kind: str | None, limit: int = MAX_CHOICES
) -> list[ContactMatch]:
    """The business's contacts (of a kind, or all) a phrase may name, best first."""
    contacts = repo.contacts_of(turn.session, business_id=turn.business.id, kind=kind)
    candidates = [ContactCandidate(c.id, c.name, c.trade_name, c.rfc) for c in contacts]
    return match_contacts(phrase, candidates, limit=limit)


def own_contact(turn: Turn, contact_id: int, missing: str) -> Contact:
    """A contact of this turn's business by id (a proposal's payload); `missing`
    is what to say when it is gone."""
    contact = turn.session.get(Contact, int(contact_id))
    if contact is None or contact.business_id != turn.business.id:
        raise NotFound(missing)
    return contact


def find_contact(
    turn: Turn,
    understanding: Understanding,
    *,
    kind: str | None = "customer",
    question: str = "¿De qué cliente? Escribe su nombre o RFC.",
) -> Contact | Reply:
    """The contact the message names, or a question (which one? / who?)."""
    chosen = turn.notes.get("contact_id")
    if chosen is not None:
        contact = turn.session.get(Contact, chosen)
        if contact is not None and contact.business_id == turn.business.id:
            return contact
    phrase = understanding.entities.customer
    if not phrase:
        return park(turn, ASK_CONTACT_FLOW, understanding, question, kind=kind)
    matches = matching_contacts(turn, phrase, kind=kind)
    if not matches:
        noun = {"customer": "cliente", "supplier": "proveedor"}.get(
            kind or "", "contacto"
        )
        raise NotFound(
            f"No encontré ningún {noun} que se llame «{phrase}». Revisa el nombre "
            "o escribe su RFC."
        )
    if len(matches) == 1:
        found = turn.session.get(Contact, matches[0].id)
        assert found is not None
        return found
    options = [[m.id, m.name] for m in matches]
    lines = [f"{i}. {name}" for i, (_, name) in enumerate(options, start=1)]
    question = f"Encontré varios que se parecen a «{phrase}». ¿Cuál?\n" + "\n".join(
        lines
    )
    return park(turn, CHOOSE_FLOW, understanding, question, options=options)


def choose_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿Cuál?": a number from the list, or a name in it."""
    from handlers import router

    options: list[list[Any]] = turn.conversation.data.get("options", [])
    text = turn.inbound.text.strip()
    picked: int | None = None
    number = re.fullmatch(r"\D{0,12}(\d{1,2})\D{0,3}", text)
    if number and 1 <= int(number.group(1)) <= len(options):
        picked = options[int(number.group(1)) - 1][0]
    else:
        candidates = [ContactCandidate(i, n, None, "") for i, n in options]
        matches = match_contacts(text, candidates, limit=2)
        if len(matches) == 1:
            picked = matches[0].id
    if picked is None:
        if understanding.intent not in (Intent.UNKNOWN, Intent.CONFIRM_NO):
            return None
        return Reply().say(
            f"Contesta con el número (1 a {len(options)}) o escribe «cancelar»."
        )
    request = resumed(turn)
    turn.finish()
    turn.notes["contact_id"] = picked
    return router.dispatch(turn, request)


def ask_contact_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿De qué cliente?": the text is the name."""
    from handlers import router

    new_request = understanding.intent not in (Intent.UNKNOWN, Intent.GREETING)
    if new_request and understanding.entities.customer is None:
        # A real new request rather than a name: leave this one.
        return None
    phrase = understanding.entities.customer or turn.inbound.text.strip()
    request = resumed(turn, customer=phrase)
    turn.finish()
    return router.dispatch(turn, request)


def ask_amount_step(turn: Turn, understanding: Understanding) -> Reply | None:
    from handlers import router

    parsed = understanding.entities.amount
    if parsed is None:
        found = parse_amount(turn.inbound.text)
        parsed = found[0] if found else None
    if parsed is None:
        if understanding.intent not in (Intent.UNKNOWN, Intent.CONFIRM_NO):
            return None
        return Reply().say("¿De cuánto fue? Escribe el monto, por ejemplo «5 mil».")
    request = resumed(turn, amount=parsed)
    if turn.conversation.data.get("contact_id"):
        turn.notes["contact_id"] = turn.conversation.data["contact_id"]
    turn.finish()
    return router.dispatch(turn, request)


def find_invoices(
    turn: Turn,
    refs: Sequence[InvoiceRef],
    *,
    direction: str | None = "receivable",
    contact_id: int | None = None,
) -> list[Invoice]:
    """The invoices named, in order; an unknown or ambiguous reference is an error."""
    found: list[Invoice] = []
    for ref in refs:
        rows = list(
            repo.invoices_by_ref(
                turn.session,
                business_id=turn.business.id,
                folio=ref.folio,
                series=ref.series,
                direction=direction,
                contact_id=contact_id,
            )
        )
        if not rows:
            raise NotFound(f"No encontré la factura {ref}.")
        if len(rows) > 1:
            labels = ", ".join(r.label for r in rows[:5])
            raise NotFound(
                f"Hay varias facturas con folio {ref.folio} ({labels}). Escríbela con "
                "su serie, por ejemplo «A-102»."
            )
        if rows[0] not in found:
            found.append(rows[0])
    return found


STEPS = {
    CHOOSE_FLOW: choose_step,
    ASK_CONTACT_FLOW: ask_contact_step,
    ASK_AMOUNT_FLOW: ask_amount_step,
}
