"""Fixtures for reminders, receipts and the outbox: an SMTP server and a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.flows.reminders.smtp_server import Mailbox, smtp_server

MX = "America/Mexico_City"


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment given in Mexico City local time, as UTC."""
    from zoneinfo import ZoneInfo

    local = dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(MX))
    return local.astimezone(dt.UTC)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box
