"""Actions that run only after the person confirms them (Sí / No).

A handler proposes an action with `propose`, which stores its name and payload in
the conversation and asks; the confirm step runs it when the answer is yes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.messages import NO, YES, Reply
from handlers.context import Turn

Action = Callable[[Turn, dict[str, Any]], Reply]
ACTIONS: dict[str, Action] = {}
CONFIRM_FLOW = "confirm"


def register(name: str, action: Action) -> None:
    ACTIONS[name] = action


def propose(turn: Turn, action: str, payload: dict[str, Any], question: str) -> Reply:
    """Ask before doing; nothing changes until the person says yes."""
    if action not in ACTIONS:
        raise KeyError(action)
    turn.start(CONFIRM_FLOW, "awaiting", {"action": action, "payload": payload})
    return Reply().say(question, YES, NO)


def run(turn: Turn, action: str, payload: dict[str, Any]) -> Reply:
    turn.finish()
    return ACTIONS[action](turn, payload)
