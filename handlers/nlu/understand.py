"""From a message's text to an Understanding: rules, then semantic, then an LLM."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
from typing import TYPE_CHECKING

from handlers.nlu.entities import (
    extract_customer,
    mentions_everyone,
    parse_entities,
)
from handlers.nlu.normalize import normalize
from handlers.nlu.rules import Clues, match_rules
from handlers.nlu.types import Entities, Intent, Role, Understanding, allowed_intents

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from handlers.nlu.semantic import SemanticClassifier

logger = logging.getLogger(__name__)

# Intents whose flow needs to know which contact is meant.
NAMED_CONTACT_INTENTS = frozenset(
    {
        Intent.BALANCE_CUSTOMER,
        Intent.OVERDUE,
        Intent.REGISTER_PAYMENT,
        Intent.SEND_LINK,
        Intent.SEND_STATEMENT,
        Intent.ROTATE_LINK,
        Intent.SET_CONTACT_WHATSAPP,
        Intent.SET_CONTACT_EMAIL,
        Intent.SET_CONTACT_TERMS,
        Intent.WHATSAPP_REMINDERS_ON,
        Intent.WHATSAPP_REMINDERS_OFF,
        Intent.PAUSE_REMINDERS,
        Intent.RESUME_REMINDERS,
        Intent.HIDE_INVOICES,
        Intent.SHOW_INVOICES,
        Intent.PAY_SUPPLIER,
        Intent.PAYABLES_DUE,
        Intent.REPLY_TO_CUSTOMER,
        Intent.MOVEMENTS,
        Intent.PROMISES,
        Intent.DISPUTES,
        Intent.CONTACT_INFO,
        Intent.SET_CONTACT_RFC,
        Intent.REMOVE_CONTACT,
    }
)
# Intents that may be about every contact at once ("pausa todos los recordatorios").
EVERYONE_INTENTS = frozenset(
    {
        Intent.SEND_LINK,
        Intent.SEND_STATEMENT,
        Intent.WHATSAPP_REMINDERS_ON,
        Intent.WHATSAPP_REMINDERS_OFF,
        Intent.PAUSE_REMINDERS,
        Intent.RESUME_REMINDERS,
        Intent.HIDE_INVOICES,
        Intent.SHOW_INVOICES,
    }
)
_REPLY_COLON = re.compile(r"^\s*[^:]{1,80}?:\s*(.+)$", re.DOTALL)
_REPLY_TELL = re.compile(
    r"^\s*dile\s+a\s+(.+?)\s+que\s+(.+)$", re.IGNORECASE | re.DOTALL
)
_RULES_CONFIDENCE = 0.95


def _clues(probe: Entities, text: str) -> Clues:
    """What the rules may ask of a message besides its words."""
    return Clues(
        amount=probe.amount is not None,
        refs=bool(probe.invoice_refs),
        date=probe.date is not None,
        phone=probe.phone is not None,
        email=probe.email is not None,
        colon_text=bool(_REPLY_COLON.match(text)),
        question="?" in text,
    )


def _reply_parts(text: str) -> tuple[str, str | None]:
    """The part naming the customer and the message to pass on."""
    told = _REPLY_TELL.match(text)
    if told and ":" not in text.split(" que ", 1)[0]:
        return "dile a " + told.group(1), told.group(2).strip()
    colon = _REPLY_COLON.match(text)
    if colon:
        return text[: colon.start(1)].rstrip().rstrip(":"), colon.group(1).strip()
    return text, None


def entities_for(
    intent: Intent,
    text: str,
    normalized: str,
    today: datetime.date,
    *,
    probe: Entities | None = None,
) -> Entities:
    """The entities this intent uses, parsed from the speaker's own words.

    `probe`, the same text already parsed without a customer's name, saves
    parsing it again.
    """
    if intent is Intent.REPLY_TO_CUSTOMER:
        head, message = _reply_parts(text)
        entities = parse_entities(head, today, customer=True, free_text=message)
        return dataclasses.replace(entities, amount=None, currency=None)

    everyone = intent in EVERYONE_INTENTS and mentions_everyone(normalized)
    wants_name = intent in NAMED_CONTACT_INTENTS and not everyone
    if probe is None:
        entities = parse_entities(text, today, customer=wants_name)
    elif wants_name:
        entities = dataclasses.replace(probe, customer=extract_customer(text, today))
    else:
        entities = probe
    return dataclasses.replace(entities, all_contacts=everyone)


def settle(intent: Intent, entities: Entities) -> Intent:
    """Adjust an intent to what the entities allow."""
    if intent is Intent.BALANCE_CUSTOMER and not entities.customer:
        return Intent.BALANCE_TOTAL
    if intent is Intent.CUSTOMER_PROMISE and entities.date is None:
        return Intent.UNKNOWN
    return intent


def understand_by_rules(
    text: str, *, role: Role, today: datetime.date
) -> Understanding | None:
    """The rules alone: an Understanding, or None when they cannot place the text."""
    normalized = normalize(text)
    if not normalized:
        return Understanding(Intent.UNKNOWN, Entities(), "rules", 0.0)
    probe = parse_entities(text, today, customer=False)
    intent = match_rules(normalized, _clues(probe, text), role)
    if intent is None:
        return None
    entities = entities_for(intent, text, normalized, today, probe=probe)
    return Understanding(settle(intent, entities), entities, "rules", _RULES_CONFIDENCE)


def default_classifier() -> SemanticClassifier:
    """The process's semantic classifier, imported on first use: LangChain takes
    half a second to import, which every CLI command would otherwise pay."""
    from handlers.nlu.semantic import default_classifier as shared

    return shared()


def understand_by_semantics(
    text: str, *, role: Role, today: datetime.date
) -> Understanding:
    """The semantic classifier's reading; UNKNOWN when no intent wins clearly."""
    normalized = normalize(text)
    intent, margin = default_classifier().classify(text, allowed_intents(role))
    confidence = round(min(1.0, 0.5 + margin * 10), 3)
    if intent is Intent.CONFIRM_YES:
        # A yes carries out what was proposed: it must be said, never guessed
        # ("xyz" reads close to "sí" and would confirm a payment).
        intent = None
    if intent is None:
        return Understanding(
            Intent.UNKNOWN,
            entities_for(Intent.UNKNOWN, text, normalized, today),
            "semantic",
            confidence,
        )
    entities = entities_for(intent, text, normalized, today)
    return Understanding(settle(intent, entities), entities, "semantic", confidence)


def understand(
    text: str,
    *,
    role: Role,
    today: datetime.date,
    llm: BaseChatModel | None = None,
) -> Understanding:
    """What a message asks for, read by rules, then semantics, then `llm` if given.

    Only intents the role may have come back: a customer's "¿cuánto me debe
    Acme?" is never BALANCE_CUSTOMER. Entities always come from the speaker's
    own words; a model can only choose among them.
    """
    by_rules = understand_by_rules(text, role=role, today=today)
    if by_rules is not None and by_rules.intent is not Intent.UNKNOWN:
        return by_rules
    if not normalize(text):
        return Understanding(Intent.UNKNOWN, Entities(), "rules", 0.0)

    by_semantics = understand_by_semantics(text, role=role, today=today)
    if by_semantics.intent is not Intent.UNKNOWN or llm is None:
        return by_semantics

    from handlers.nlu.llm import understand_by_llm

    by_llm = understand_by_llm(text, role=role, today=today, llm=llm)
    if by_llm is None or by_llm.intent is Intent.CONFIRM_YES:
        return by_semantics
    return by_llm
