"""What owners and staff can ask and do in conversation."""

from __future__ import annotations

from handlers.nlu import Intent

INTENTS: dict = {}
STEPS: dict = {}
OWNER_ONLY: frozenset[Intent] = frozenset()
