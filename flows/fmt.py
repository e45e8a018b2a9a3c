"""How Cobra writes money, dates and phone numbers, and validates RFCs and CLABEs."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.errors import InvalidInput

CENT = Decimal("0.01")
MONTHS = (
    "ene",
    "feb",
    "mar",
    "abr",
    "may",
    "jun",
    "jul",
    "ago",
    "sep",
    "oct",
    "nov",
    "dic",
)
CURRENCY_PREFIX = {"MXN": "$", "USD": "US$", "EUR": "€"}
RFC_RE = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z\d]{3}$")
PUBLIC_RFC = "XAXX010101000"  # público en general
FOREIGN_RFC = "XEXX010101000"  # residente en el extranjero
GENERIC_RFCS = frozenset({PUBLIC_RFC, FOREIGN_RFC})


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as invoices do."""
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"«{value}» no es un monto válido.") from exc


def money(amount: Decimal, currency: str = "MXN") -> str:
    """`$12,345.67` for MXN, `US$1,200.00` for USD, `1,000.00 GTQ` for others."""
    value = to_money(amount)
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,.2f}"
    prefix = CURRENCY_PREFIX.get(currency)
    if prefix is None:
        return f"{sign}{body} {currency}"
    return f"{sign}{prefix}{body}"


def short_date(day: dt.date, *, today: dt.date | None = None) -> str:
    """`15 ene`, with the year when it is not the current one."""
    text = f"{day.day} {MONTHS[day.month - 1]}"
    if today is not None and day.year != today.year:
        text += f" {day.year}"
    return text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"«{name}» no es una zona horaria válida.") from exc


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored moment, aware: SQLite hands datetimes back naive, and Cobra stores
    UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def local_date(moment: dt.datetime, tz: str) -> dt.date:
    return moment.astimezone(zone(tz)).date()


def normalize_phone(raw: str) -> str:
    """E.164 in one canonical form: Mexican mobiles without the old `1` after +52."""
    digits = re.sub(r"[^\d+]", "", raw.strip())
    if digits.startswith("whatsapp:"):
        digits = digits[len("whatsapp:") :]
    if not digits.startswith("+"):
        if len(digits) == 10:
            digits = "+52" + digits
        elif digits.startswith("52") and len(digits) in (12, 13):
            digits = "+" + digits
        else:
            raise InvalidInput(f"«{raw}» no parece un número de teléfono.")
    if digits.startswith("+521") and len(digits) == 14:
        digits = "+52" + digits[4:]
    if not re.fullmatch(r"\+\d{8,15}", digits):
        raise InvalidInput(f"«{raw}» no parece un número de teléfono.")
    return digits


def mask_phone(phone: str | None) -> str:
    """For logs: the country code and the last four digits only."""
    if not phone:
        return "-"
    return phone[:3] + "…" + phone[-4:]


def display_phone(phone: str) -> str:
    """`+52 55 1234 5678` for a Mexican number; any other as stored."""
    digits = phone.removeprefix("+52")
    if phone.startswith("+52") and len(digits) == 10 and digits.isdigit():
        area = 2 if digits[:2] in ("55", "56", "33", "81") else 3
        rest = digits[area:]
        return f"+52 {digits[:area]} {rest[:-4]} {rest[-4:]}"
    return phone


def mask_clabe(clabe: str) -> str:
    return "•" * 4 + clabe[-4:]


def validate_rfc(raw: str) -> str:
    rfc = raw.strip().upper().replace(" ", "").replace("-", "")
    if not RFC_RE.match(rfc):
        raise InvalidInput(f"«{raw}» no es un RFC válido.")
    return rfc


def match_key(rfc: str, name: str) -> str:
    """How a contact is told apart: the RFC, plus the name for the generic RFCs."""
    if rfc in GENERIC_RFCS:
        return f"{rfc}|{' '.join(name.upper().split())}"[:300]
    return rfc


CLABE_WEIGHTS = (3, 7, 1) * 6


def clabe_check_digit(first17: str) -> str:
    total = sum(int(d) * w % 10 for d, w in zip(first17, CLABE_WEIGHTS, strict=False))
    return str((10 - total % 10) % 10)


def validate_clabe(raw: str) -> str:
    """18 digits with a correct check digit and a known bank code."""
    from clabe import BANKS  # local: the bank table is only needed here

    clabe = re.sub(r"\s|-", "", raw)
    if not re.fullmatch(r"\d{18}", clabe):
        raise InvalidInput("La CLABE debe tener 18 dígitos.")
    if clabe_check_digit(clabe[:17]) != clabe[17]:
        raise InvalidInput("La CLABE no es válida: el dígito verificador no coincide.")
    if clabe[:3] not in BANKS:
        raise InvalidInput(f"La CLABE no es válida: no existe el banco {clabe[:3]}.")
    return clabe


def bank_name(clabe: str) -> str | None:
    from clabe import BANK_NAMES, BANKS

    code = BANKS.get(clabe[:3])
    return BANK_NAMES.get(code) if code else None
