"""Where a turn goes: an open step of a flow, a confirmation, or a new intent.

Each feature module contributes a table: `INTENTS` (intent to handler), `STEPS`
(flow name to the function that takes the flow's next answer) and `ACTIONS`
(confirmed action name to the function that carries it out).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flows.messages import Reply
from handlers import (
    catalog,
    collect,
    commitments,
    common,
    contacts,
    credit_notes,
    customer,
    digest,
    files,
    financing,
    owner,
    payables,
    plans,
    resolve,
    sat,
    sat_links,
    schedule,
    team,
)
from handlers.context import Turn
from handlers.nlu import Intent, Role, Understanding, understand
from handlers.nlu.normalize import fold
from prompts import texts

log = logging.getLogger(__name__)

Handler = Callable[[Turn, Understanding], Reply]
StepHandler = Callable[[Turn, Understanding], Reply | None]
PayloadHandler = Callable[[Turn, str], Reply]
CommandHandler = Callable[[Turn, re.Match[str]], Reply]

INTENTS: dict[Intent, Handler] = {
    **common.INTENTS,
    **owner.INTENTS,
    **financing.INTENTS,
    **collect.INTENTS,
    **commitments.INTENTS,
    **contacts.INTENTS,
    **customer.INTENTS,
    **customer.COMMON,
    **payables.INTENTS,
    **sat.INTENTS,
    **plans.INTENTS,
    **credit_notes.INTENTS,
    **catalog.INTENTS,
    **sat_links.INTENTS,
    **team.INTENTS,
    **schedule.INTENTS,
}
STEPS: dict[str, StepHandler] = {
    **common.STEPS,
    **resolve.STEPS,
    **contacts.STEPS,
    **owner.STEPS,
    **customer.STEPS,
    **financing.STEPS,
    **payables.STEPS,
    **sat.STEPS,
}


def _unplaced(turn: Turn, understanding: Understanding) -> Reply:
    """What nothing placed: a customer's message reaches the owner; the team's may
    still be a payables sentence (a supplier's CLABE, deposits waiting)."""
    if turn.speaker.role == Role.CUSTOMER:
        return customer.pass_on(turn, understanding)
    return payables.fallback(turn, understanding)


INTENTS[Intent.UNKNOWN] = _unplaced
OWNER_ONLY: frozenset[Intent] = owner.OWNER_ONLY | sat.OWNER_ONLY
OWNER_ONLY |= plans.OWNER_ONLY | credit_notes.OWNER_ONLY | catalog.OWNER_ONLY
OWNER_ONLY |= sat_links.OWNER_ONLY | team.OWNER_ONLY
TEAM_ONLY: frozenset[Intent] = frozenset(owner.INTENTS) | frozenset(collect.INTENTS)
TEAM_ONLY |= frozenset(commitments.INTENTS) | frozenset(contacts.INTENTS)
TEAM_ONLY |= frozenset({Intent.PAY_SUPPLIER, Intent.MOVEMENTS})
TEAM_ONLY |= frozenset(schedule.INTENTS)
CUSTOMER_ONLY: frozenset[Intent] = frozenset(customer.INTENTS)
# Button payloads "<prefix>:<id>:<verb>" go straight to the feature that made them,
# and a few team commands with no intent of their own match on the folded text.
PAYLOADS: dict[str, PayloadHandler] = {
    **customer.PAYLOADS,
    **plans.PAYLOADS,
    **digest.PAYLOADS,
}
COMMANDS: list[tuple[re.Pattern[str], CommandHandler]] = [
    *customer.COMMANDS,
    *digest.COMMANDS,
]
# What a message may do whatever flow is open.
INTERRUPTS = frozenset({Intent.CANCEL, Intent.HELP})


def route(turn: Turn) -> Reply:
    speaker = turn.speaker
    if speaker.business is None:
        return common.unknown_sender(turn)

    hooked = _hooked(turn)
    if hooked is not None:
        return hooked
    if files.voice_only(turn):
        return Reply().say(texts.VOICE_NOTE)
    if speaker.is_team and turn.inbound.media:
        received = files.receive(turn)
        if received is not None:
            return received

    text = turn.inbound.button_payload or turn.inbound.text
    understanding = _understand(turn, text)
    log.info(
        "message understood",
        extra={
            "business_id": speaker.business.id,
            "channel": turn.channel,
            "intent": str(understanding.intent),
            "source": understanding.source,
            "flow": turn.conversation.flow,
        },
    )

    flow = turn.conversation.flow
    if flow and understanding.intent not in INTERRUPTS:
        step = STEPS.get(flow)
        if step is not None:
            reply = step(turn, understanding)
            if reply is not None:
                return reply
        turn.finish()
    return dispatch(turn, understanding)


def dispatch(turn: Turn, understanding: Understanding) -> Reply:
    """Run the intent's handler, if the speaker's role may ask for it."""
    role = turn.speaker.role
    intent = understanding.intent
    handler = INTENTS.get(intent)
    if handler is None:
        return common.not_understood(turn, understanding)
    if intent in TEAM_ONLY and role not in (Role.OWNER, Role.STAFF):
        return common.not_understood(turn, understanding)
    if intent in CUSTOMER_ONLY and role != Role.CUSTOMER:
        return common.not_understood(turn, understanding)
    if intent in OWNER_ONLY and role != Role.OWNER:
        return common.owner_only(turn, understanding)
    return handler(turn, understanding)


def _hooked(turn: Turn) -> Reply | None:
    """A tapped button that names its own handler, or a team command."""
    payload = turn.inbound.button_payload or ""
    prefix, sep, _ = payload.partition(":")
    if sep and prefix in PAYLOADS:
        turn.finish()
        return PAYLOADS[prefix](turn, payload)
    if not turn.speaker.is_team:
        return None
    folded = fold(turn.inbound.text)
    for pattern, command in COMMANDS:
        match = pattern.match(folded)
        if match is not None:
            turn.finish()
            return command(turn, match)
    return None


def _understand(turn: Turn, text: str) -> Understanding:
    payload = (turn.inbound.button_payload or "").lower()
    if payload in common.BUTTON_INTENTS:
        return Understanding(
            intent=common.BUTTON_INTENTS[payload],
            entities=common.no_entities(),
            source="button",
            confidence=1.0,
        )
    return understand(
        text, role=turn.speaker.role, today=turn.today, llm=turn.config.llm
    )
