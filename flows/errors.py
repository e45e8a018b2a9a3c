"""Cobra's one exception tree; every message is safe to show a user, in Spanish.

CobraError
├── NotFound            a business, contact or invoice that is not there
├── Ambiguous           a name that fits several contacts
├── InvalidInput        a malformed RFC, CLABE, phone, amount or date
├── Forbidden           the speaker's role may not do this
├── MoneyRuleViolation  an overpayment, a cancelled invoice, mixed currencies
├── Conflict            the same key with different content
└── ProviderError       an outside provider (Twilio, SMTP, STP, SAT, PAC) failed
"""

from __future__ import annotations


class CobraError(Exception):
    """Base error; `message` is Spanish and safe to show to whoever asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CobraError):
    pass


class Ambiguous(CobraError):
    def __init__(self, message: str, options: list[tuple[int, str]]) -> None:
        super().__init__(message)
        self.options = options


class InvalidInput(CobraError):
    pass


class Forbidden(CobraError):
    pass


class MoneyRuleViolation(CobraError):
    pass


class Conflict(CobraError):
    pass


class ProviderError(CobraError):
    """A provider failed; `temporary` says whether retrying may help, `uncertain`
    that the request went out and no answer came back, so it may have worked.

    A message that goes out in several parts (a long text, several files) may
    fail part-way: `delivered` holds the provider's ids of the parts it took
    before the failure, so that a retry starts after them."""

    def __init__(
        self, message: str, *, temporary: bool = True, uncertain: bool = False
    ) -> None:
        super().__init__(message)
        self.temporary = temporary and not uncertain
        self.uncertain = uncertain
        self.delivered: tuple[str, ...] = ()
