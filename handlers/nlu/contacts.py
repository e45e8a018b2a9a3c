"""Fuzzy matching of a name phrase to the business's contacts (legal name, trade name, "
"RFC)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from handlers.nlu.normalize import fold

_LEGAL_SUFFIX = re.compile(
    r"(?:\s+|^)(?:s a p i|sapi|s a s|sas|s a b|sab|s a|sa|s de r l|s de rl|srl|s c|sc|"
    r"a c|ac|s de s s|sociedad anonima)"
    r"(?:\s+de\s+(?:c v|cv|r l|rl|capital variable))?\s*$"
)
_NON_WORD = re.compile(r"[^a-z0-9&]+")
_ALONE_SCORE = 90.0
_ALONE_LEAD = 5.0
_WHOLE_WORDS_SCORE = 95.0
_MIN_SCORE = 70.0


@dataclass(frozen=True)
class ContactCandidate:
    id: int
    name: str
    trade_name: str | None
    rfc: str


@dataclass(frozen=True)
class ContactMatch:
    id: int
    score: float
    name: str


def name_key(name: str) -> str:
    """A name folded for comparison, legal suffixes off: "Acme, S.A. de C.V." -> "
    ""acme"."""
    key = _NON_WORD.sub(" ", fold(name)).strip()
    while True:
        shorter = _LEGAL_SUFFIX.sub("", key).strip()
        if shorter == key or not shorter:
            return key
        key = shorter


def _score(phrase_key: str, phrase_rfc: str, candidate: ContactCandidate) -> float:
    if phrase_rfc and phrase_rfc == candidate.rfc.upper().replace(" ", ""):
        return 100.0
    best = 0.0
    for name in (candidate.name, candidate.trade_name):
        if not name:
            continue
        key = name_key(name)
        if key == phrase_key:
            return 100.0
        if set(phrase_key.split()) <= set(key.split()):
            best = max(best, _WHOLE_WORDS_SCORE)
        best = max(best, fuzz.WRatio(phrase_key, key))
    return best


def match_contacts(
    phrase: str, candidates: Sequence[ContactCandidate], *, limit: int = 5
) -> list[ContactMatch]:
    """Contacts a phrase may name, best first.

    An exact or near-exact single match comes back alone; an ambiguous phrase
    ("grupo" among "Grupo Norte" and "Grupo Sur") returns every close one so
    the caller asks which. Nothing close enough returns an empty list.
    """
    phrase_key = name_key(phrase)
    if not phrase_key:
        return []
    phrase_rfc = re.sub(r"[\s-]", "", phrase).upper()

    scored = [
        ContactMatch(
            candidate.id, _score(phrase_key, phrase_rfc, candidate), candidate.name
        )
        for candidate in candidates
    ]
    close = sorted(
        (match for match in scored if match.score >= _MIN_SCORE),
        key=lambda match: (-match.score, match.name),
    )
    if not close:
        return []

    best = close[0]
    runner_up = close[1].score if len(close) > 1 else 0.0
    if best.score >= _ALONE_SCORE and best.score - runner_up >= _ALONE_LEAD:
        return [best]
    if best.score == 100.0 and runner_up < 100.0:
        return [best]
    return close[:limit]
