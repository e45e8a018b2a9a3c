"""The last step: a LangChain chat model reads what rules and semantics could not.

The model only proposes. Its intent must be one the speaker's role allows,
and every entity is taken from the speaker's own words: an amount the model
writes that is not in the message is dropped.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from handlers.nlu.normalize import fold, normalize
from handlers.nlu.parsing import find_amounts, parse_amount
from handlers.nlu.types import Intent, Role, Understanding, allowed_intents

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

LLM_CONFIDENCE = 0.6
_DATE_WINDOW_BACK = datetime.timedelta(days=31)
_DATE_WINDOW_AHEAD = datetime.timedelta(days=366)


class LLMReading(BaseModel):
    """What the model is asked to fill in; every field is checked afterwards."""

    intent: str = Field(description="one intent value from the list, or 'unknown'")
    customer: str | None = Field(default=None, description="name as written")
    amount: str | None = Field(default=None, description="amount as written")
    invoice_refs: list[str] = Field(default_factory=list)
    date: datetime.date | None = None
    text: str | None = Field(default=None, description="message to pass on")


@cache
def system_prompt_template() -> str:
    """The system prompt's text, from prompts/nlu/."""
    source = resources.files("prompts").joinpath("nlu/understand_system.txt")
    return source.read_text(encoding="utf-8")


def system_prompt(role: Role, today: datetime.date) -> str:
    intents = "\n".join(
        f"- {intent.value}" for intent in sorted(allowed_intents(role), key=str)
    )
    return (
        system_prompt_template()
        .replace("{role}", role.value)
        .replace("{today}", today.isoformat())
        .replace("{intents}", intents)
    )


def _ask(llm: BaseChatModel, text: str, role: Role, today: datetime.date) -> Any:
    from langchain_core.messages import HumanMessage, SystemMessage

    structured = llm.with_structured_output(LLMReading)
    return structured.invoke(
        [SystemMessage(system_prompt(role, today)), HumanMessage(text)]
    )


def _intent(proposed: str, role: Role) -> Intent:
    try:
        intent = Intent(proposed.strip().lower())
    except ValueError:
        return Intent.UNKNOWN
    return intent if intent in allowed_intents(role) else Intent.UNKNOWN


def _amount(
    proposed: str | None, text: str
) -> tuple[Any, str | None] | tuple[None, None]:
    """The model's amount only when the message itself says it; else the rules'."""
    written = {value for value, _, _ in find_amounts(text)}
    own = parse_amount(text)
    if proposed:
        parsed = parse_amount(proposed)
        if parsed and parsed[0] in written:
            currency = parsed[1] or (own[1] if own else None)
            return parsed[0], currency
        logger.info("llm amount dropped: not in the message")
    return (own[0], own[1]) if own else (None, None)


def _in_text(phrase: str | None, text: str) -> str | None:
    if phrase and normalize(phrase) and fold(phrase.strip()) in fold(text):
        return phrase.strip()
    return None


def understand_by_llm(
    text: str, *, role: Role, today: datetime.date, llm: BaseChatModel
) -> Understanding | None:
    """The model's reading, validated; None when the model fails or answers nonsense."""
    from handlers.nlu.understand import entities_for, settle

    try:
        raw = _ask(llm, text, role, today)
        reading = raw if isinstance(raw, LLMReading) else LLMReading.model_validate(raw)
    except Exception as exc:  # any provider error: the message stays unplaced
        logger.warning("llm reading failed", extra={"error": type(exc).__name__})
        return None

    intent = _intent(reading.intent, role)
    entities = entities_for(intent, text, normalize(text), today)
    amount, currency = _amount(reading.amount, text)

    customer = entities.customer
    if customer is None and intent is not Intent.UNKNOWN and role is not Role.CUSTOMER:
        customer = _in_text(reading.customer, text)
    date = entities.date
    if date is None and reading.date is not None:
        earliest, latest = today - _DATE_WINDOW_BACK, today + _DATE_WINDOW_AHEAD
        date = reading.date if earliest <= reading.date <= latest else None
    past_date = entities.past_date
    if past_date is None and date is not None and date <= today:
        past_date = date
    reply = entities.text
    if intent is Intent.REPLY_TO_CUSTOMER and reply is None:
        reply = _in_text(reading.text, text)

    entities = replace(
        entities,
        amount=amount,
        currency=currency,
        customer=customer,
        date=date,
        past_date=past_date,
        text=reply,
    )
    logger.info("llm reading", extra={"intent": intent.value, "role": role.value})
    return Understanding(settle(intent, entities), entities, "llm", LLM_CONFIDENCE)
