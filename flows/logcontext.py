"""Fields bound once per message (business, channel, flow) for every log line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_fields: ContextVar[dict[str, Any] | None] = ContextVar(
    "cobra_log_fields", default=None
)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to every log record made inside the block."""
    token = _fields.set({**current(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def bind(**fields: Any) -> None:
    """Add fields for the rest of the current `bound` block."""
    _fields.set({**current(), **fields})


def current() -> dict[str, Any]:
    return _fields.get() or {}
