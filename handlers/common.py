"""What any speaker can say: help, greetings, cancel, the yes/no of a confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flows import business as business_flows
from flows.messages import NO, YES, Reply
from handlers import actions
from handlers.context import Turn
from handlers.nlu import Entities, Intent, Role, Understanding
from prompts import texts
from storage import repo
from storage.models import Contact

# Longest list a chat answer shows; the rest is counted ("…y 12 más").
MAX_LINES = 10

BUTTON_INTENTS = {
    "yes": Intent.CONFIRM_YES,
    "si": Intent.CONFIRM_YES,
    "no": Intent.CONFIRM_NO,
    "cancel": Intent.CANCEL,
}


def capped(lines: Sequence[str], more_hint: str) -> list[str]:
    """The first MAX_LINES lines, then how many more and where to see them."""
    if len(lines) <= MAX_LINES:
        return list(lines)
    rest = len(lines) - MAX_LINES
    return [*lines[:MAX_LINES], f"…y {rest} más. {more_hint}".rstrip()]


def update_contact(turn: Turn, contact: Contact, **changes: Any) -> None:
    """Change a contact's channels or terms in the name of whoever is speaking."""
    business_flows.update_contact(
        turn.session,
        contact=contact,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
        **changes,
    )


def contact_totals(
    turn: Turn, contact: Contact, direction: str = "receivable"
) -> dict[str, tuple[Decimal, Decimal, int]]:
    """One contact's open balance per currency: (total, overdue, invoices)."""
    return repo.balance_totals(
        turn.session,
        business_id=turn.business.id,
        direction=direction,
        today=turn.today,
        contact_id=contact.id,
    )


def no_entities() -> Entities:
    return Entities()


def unknown_sender(turn: Turn) -> Reply:
    """A polite answer that reveals nothing about any business or customer."""
    return Reply().say(texts.UNKNOWN_SENDER)


def not_understood(turn: Turn, understanding: Understanding) -> Reply:
    if turn.speaker.role == Role.CUSTOMER:
        return Reply().say(texts.NOT_UNDERSTOOD_CUSTOMER)
    return Reply().say(texts.NOT_UNDERSTOOD_OWNER)


def owner_only(turn: Turn, understanding: Understanding) -> Reply:
    return Reply().say(texts.OWNER_ONLY)


def help_(turn: Turn, understanding: Understanding) -> Reply:
    if turn.speaker.role == Role.CUSTOMER:
        return Reply().say(texts.HELP_CUSTOMER.format(business=turn.business.name))
    body = texts.HELP_OWNER
    if turn.speaker.role == Role.STAFF:
        body += "\n\n" + texts.HELP_STAFF_NOTE
    return Reply().say(body)


def greeting(turn: Turn, understanding: Understanding) -> Reply:
    name = ""
    if turn.speaker.user is not None and turn.speaker.user.name:
        name = " " + turn.speaker.user.name.split()[0]
    if turn.speaker.role == Role.CUSTOMER:
        return Reply().say(texts.GREETING_CUSTOMER.format(business=turn.business.name))
    return Reply().say(texts.GREETING_OWNER.format(name=name))


def thanks(turn: Turn, understanding: Understanding) -> Reply:
    return Reply().say(texts.THANKS)


def cancel(turn: Turn, understanding: Understanding) -> Reply:
    had_flow = turn.conversation.flow is not None
    turn.finish()
    return Reply().say(texts.CANCELLED if had_flow else texts.NOTHING_TO_CANCEL)


def stray_answer(turn: Turn, understanding: Understanding) -> Reply:
    """A yes or no with no question pending."""
    return Reply().say(texts.NOTHING_PENDING)


def confirm_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿Lo hago?": yes runs the action, no drops it."""
    data = turn.conversation.data
    if understanding.intent == Intent.CONFIRM_YES:
        return actions.run(turn, data["action"], data.get("payload", {}))
    if understanding.intent == Intent.CONFIRM_NO:
        turn.finish()
        return Reply().say(texts.NOT_DONE)
    if understanding.intent == Intent.UNKNOWN:
        # Nothing readable: the proposal stays, asked again.
        return Reply().say(texts.STILL_PENDING, YES, NO)
    # Another request abandons the pending action and is handled as it is.
    return None


INTENTS = {
    Intent.HELP: help_,
    Intent.GREETING: greeting,
    Intent.THANKS: thanks,
    Intent.CANCEL: cancel,
    Intent.CONFIRM_YES: stray_answer,
    Intent.CONFIRM_NO: stray_answer,
}
STEPS = {actions.CONFIRM_FLOW: confirm_step}
