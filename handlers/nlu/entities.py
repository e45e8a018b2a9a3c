"""Putting a message's entities together, including the customer's name as written."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from handlers.nlu.normalize import Token, tokenize
from handlers.nlu.parsing import (
    Span,
    first_of,
    masked_spans_for_names,
    parse_amount,
    parse_date,
    parse_email,
    parse_invoice_refs,
    parse_period,
    parse_phone,
    parse_rfc,
)
from handlers.nlu.types import Entities

# Words that join the parts of a business name ("Papelera del Norte").
_CONNECTORS = frozenset({"de", "del", "la", "las", "los", "el", "y", "&", "e"})


def _load_words(name: str) -> frozenset[str]:
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(word for line in lines for word in line.split())


# Words of the requests themselves: never part of a customer's name.
_REQUEST_WORDS = _load_words("request_words.txt") | {"por favor"}
_ANCHORS = frozenset({"a", "al", "de", "del", "para", "con"})
_STOP_AFTER = re.compile(r"[,:;?!.]$")


def _blocked(token: Token, masked: list[Span]) -> bool:
    if not token.norm or any(
        token.start < end and start < token.end for start, end in masked
    ):
        return True
    return token.norm in _REQUEST_WORDS and token.norm not in _CONNECTORS


def extract_customer(text: str, today: datetime.date) -> str | None:
    """The name phrase of a customer or supplier, as written ("Grupo Norte").

    A name is a run of words that are none of the request's own words,
    amounts, dates or invoice references; "del", "de", "la" and "y" may join
    its parts. The first such run wins.
    """
    # Limitation: a business named with request words ("Pagos Rápidos",
    # "Saldo Fácil") is not recognized by name; matching by RFC still works.
    masked = masked_spans_for_names(text, today)
    tokens = tokenize(text)
    runs: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if token.norm in _CONNECTORS and current:
            current.append(token)
        elif _blocked(token, masked):
            if current:
                runs.append(current)
            current = []
            continue
        else:
            current.append(token)
        if _STOP_AFTER.search(token.raw):
            runs.append(current)
            current = []
    if current:
        runs.append(current)

    phrases = []
    for run in runs:
        while run and run[-1].norm in _CONNECTORS:
            run.pop()
        while run and run[0].norm in _CONNECTORS:
            run.pop(0)
        if run:
            phrase = text[run[0].start : run[-1].end].strip(" ,:;?!.¿¡\"'")
            phrases.append((_anchored(tokens, run[0]), phrase))
    anchored = [phrase for is_anchored, phrase in phrases if is_anchored]
    return first_of(anchored) or first_of(phrase for _, phrase in phrases)


def _anchored(tokens: list[Token], first: Token) -> bool:
    """Whether a name run follows "a", "de", "para" or "con" ("pagale a Acme")."""
    position = tokens.index(first)
    return position > 0 and tokens[position - 1].norm in _ANCHORS


_ALL = re.compile(
    r"\b(?:todos|todas|a todo el mundo|toda la cartera|de todos|general|global)\b"
)


def mentions_everyone(normalized: str) -> bool:
    """ "todos", "todos los clientes", "a todos"."""
    return bool(_ALL.search(normalized))


def parse_entities(
    text: str, today: datetime.date, *, customer: bool, free_text: str | None = None
) -> Entities:
    """All entities of a message; the customer's name only when asked for."""
    amount = parse_amount(text)
    return Entities(
        amount=amount[0] if amount else None,
        currency=amount[1] if amount else None,
        invoice_refs=parse_invoice_refs(text),
        customer=extract_customer(text, today) if customer else None,
        date=parse_date(text, today),
        past_date=parse_date(text, today, past=True),
        period=parse_period(text),
        phone=parse_phone(text),
        email=parse_email(text),
        rfc=parse_rfc(text),
        all_contacts=False,
        text=free_text,
    )
