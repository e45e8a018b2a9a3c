"""Entities parsed from a message's own words: amounts, dates, invoices, contacts.

Every parser works on the folded text (lowercase, no accents) so "Dólares",
"dolares" and "DOLARES" read the same; spans line up with the original text.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from handlers.nlu.normalize import fold
from handlers.nlu.types import InvoiceRef

Span = tuple[int, int]

# --- invoice references -------------------------------------------------------

# Letters that, glued to digits, are a currency or a unit, not an invoice series.
_NOT_SERIES = frozenset(
    {
        "usd",
        "mxn",
        "us",
        "mn",
        "k",
        "m",
        "dls",
        "dll",
        "dlls",
        "mdp",
        "mil",
        "rfc",
        "am",
        "pm",
        "hrs",
        "hr",
        "cp",
    }
)
_SERIES_REF = re.compile(r"(?<![\w$@.])([a-z]{1,4})-?(\d{1,9})(?![\w@]|[.,]\d)")
_FOLIO_KEYWORD = re.compile(
    r"(?<![\w])(?:(?<!a )las?|facturas?|folios?|fact|fac|no\.|num\.?|numero|#)"
    r"\s*(?:#|no\.?|num\.?|numero|folio)?\s*(\d{1,9})(?![\w@]|[.,]\d)"
)
_FOLIO_MORE = re.compile(
    r"\s*(?:,|y|e)\s*(?:la\s+|el\s+|#)?(?:([a-z]{1,4})-?)?(\d{1,9})(?![\w@]|[.,]\d)"
)
_AMOUNT_AFTER = re.compile(
    r"\s*(?:k|mil|millon|millones|mdp|pesos|mxn|usd|dolares|dlls|dls|lucas|varos|%)\b"
)


def _ref_spans(folded: str) -> list[tuple[Span, InvoiceRef]]:
    found: list[tuple[Span, InvoiceRef]] = []
    for match in _SERIES_REF.finditer(folded):
        series = match.group(1)
        if series in _NOT_SERIES:
            continue
        found.append((match.span(), InvoiceRef(series.upper(), match.group(2))))
    for match in _FOLIO_KEYWORD.finditer(folded):
        if _AMOUNT_AFTER.match(folded, match.end()) or _is_day_of_month(folded, match):
            continue
        found.append(((match.start(1), match.end(1)), InvoiceRef(None, match.group(1))))
        position = match.end()
        while more := _FOLIO_MORE.match(folded, position):
            if _AMOUNT_AFTER.match(folded, more.end()):
                break
            series = more.group(1)
            if series and series in _NOT_SERIES:
                break
            ref = InvoiceRef(series.upper() if series else None, more.group(2))
            found.append(((more.start(2), more.end(2)), ref))
            position = more.end()
    return found


def _is_day_of_month(folded: str, match: re.Match[str]) -> bool:
    """ "la 15 de enero" or "la 15/01" names a day, not an invoice."""
    return bool(re.match(r"\s*(?:de\s+[a-z]+|/\d)", folded[match.end() :]))


def parse_invoice_refs(text: str) -> tuple[InvoiceRef, ...]:
    """Invoices named in a message, in order, without repeats.

    "A-102" and "a102" are ("A", "102"); "F88" is ("F", "88"); a bare folio
    counts only after "la", "factura", "folio" or "#" ("la 88", "facturas 88
    y 90"), so "el 15" and "5 mil" are never invoices.
    """
    spans = sorted(_ref_spans(fold(text)), key=lambda item: item[0][0])
    refs: list[InvoiceRef] = []
    covered: list[Span] = []
    for span, ref in spans:
        if any(_overlaps(span, other) for other in covered):
            continue
        covered.append(span)
        if ref not in refs and not _already_named(ref, refs):
            refs.append(ref)
    return tuple(refs)


def _already_named(ref: InvoiceRef, refs: list[InvoiceRef]) -> bool:
    return ref.series is None and any(other.folio == ref.folio for other in refs)


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# --- contacts: phone and email ------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w$,.])\+?\(?\d[\d \-().]{7,}\d(?![\w,]|\.\d)")


def parse_email(text: str) -> str | None:
    """The first email address written, lowercased."""
    match = _EMAIL.search(text)
    return match.group(0).lower() if match else None


def _phone_spans(text: str) -> list[tuple[Span, str]]:
    found = []
    for match in _PHONE.finditer(text):
        phone = _to_e164(match.group(0))
        if phone:
            found.append((match.span(), phone))
    return found


def _to_e164(written: str) -> str | None:
    digits = re.sub(r"\D", "", written)
    if written.lstrip().startswith("+"):
        if digits.startswith("521") and len(digits) == 13:
            return "+52" + digits[3:]
        return "+" + digits if 10 <= len(digits) <= 15 else None
    if len(digits) == 10:
        return "+52" + digits
    if len(digits) == 12 and digits.startswith("52"):
        return "+" + digits
    if len(digits) == 13 and digits.startswith(("521", "044", "045")):
        return "+52" + digits[3:]
    return None


def parse_phone(text: str) -> str | None:
    """The first phone number written, in E.164.

    A Mexican number of 10 digits gets "+52"; the mobile "1" after "+52" and
    the old "044"/"045" prefixes are dropped (the same person either way).
    """
    spans = _phone_spans(text)
    return spans[0][1] if spans else None


# --- dates and periods --------------------------------------------------------

_WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
}
_MONTHS = {
    "enero": 1,
    "ene": 1,
    "febrero": 2,
    "feb": 2,
    "marzo": 3,
    "mar": 3,
    "abril": 4,
    "abr": 4,
    "mayo": 5,
    "may": 5,
    "junio": 6,
    "jun": 6,
    "julio": 7,
    "jul": 7,
    "agosto": 8,
    "ago": 8,
    "septiembre": 9,
    "setiembre": 9,
    "sep": 9,
    "sept": 9,
    "octubre": 10,
    "oct": 10,
    "noviembre": 11,
    "nov": 11,
    "diciembre": 12,
    "dic": 12,
}
_SMALL_NUMBERS = {
    "un": 1,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "quince": 15,
    "veinte": 20,
    "treinta": 30,
}
_MONTH_WORD = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    ("dmy", re.compile(rf"\b({_DAY})[/-](0?[1-9]|1[0-2])(?:[/-](\d{{4}}|\d{{2}}))?\b")),
    (
        "day_month",
        re.compile(
            rf"\b({_DAY})\s*(?:de\s+|-)?({_MONTH_WORD})\b\.?(?:\s*(?:de|"
            rf"del)?\s*(\d{{4}}))?"
        ),
    ),
    ("pasado_manana", re.compile(r"\bpasado\s+manana\b")),
    ("manana", re.compile(r"(?<!\bla )(?<!\bla  )\bmanana\b")),
    ("hoy", re.compile(r"\bhoy\b")),
    ("ayer", re.compile(r"\bayer\b")),
    (
        "weekday",
        re.compile(r"\b(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\b"),
    ),
    ("month_end", re.compile(r"\b(?:fin|finales|final)\s+de(?:l)?\s+mes\b")),
    ("quincena", re.compile(r"\bquincena\b")),
    (
        "in_days",
        re.compile(
            r"\b(?:en|dentro\s+de)\s+(\d{1,3}|un|una|dos|tres|cuatro|cinco|seis|siete|"
            r"ocho|nueve|diez|quince|veinte|treinta)\s+(dias?|semanas?)\b"
        ),
    ),
    (
        "next_week",
        re.compile(
            r"\b(?:la\s+)?(?:proxima|siguiente|otra)\s+semana\b|"
            r"\bsemana\s+que\s+entra\b"
        ),
    ),
    (
        "day_only",
        re.compile(
            rf"\b(?:el|dia|del|este|"
            rf"antes\s+del)\s+(?:dia\s+)?({_DAY})\b(?!\s*(?:[.,]\d|mil|k\b|pesos|%|"
            rf"dias|/|-))"
        ),
    ),
]


def _date_spans(
    folded: str, today: datetime.date, past: bool = False
) -> list[tuple[Span, datetime.date]]:
    found = []
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            resolved = _resolve(kind, match, today, past)
            if resolved is not None:
                found.append((match.span(), resolved))
    return found


def _resolve(
    kind: str, match: re.Match[str], today: datetime.date, past: bool
) -> datetime.date | None:
    try:
        if kind == "iso":
            year, month, day = (int(g) for g in match.groups())
            return datetime.date(year, month, day)
        if kind == "dmy":
            day, month = int(match.group(1)), int(match.group(2))
            return _day_month(day, month, match.group(3), today, past)
        if kind == "day_month":
            return _day_month(
                int(match.group(1)),
                _MONTHS[match.group(2)],
                match.group(3),
                today,
                past,
            )
    except ValueError:
        return None
    if kind == "hoy":
        return today
    if kind == "manana":
        return today + datetime.timedelta(days=1)
    if kind == "pasado_manana":
        return today + datetime.timedelta(days=2)
    if kind == "ayer":
        return today - datetime.timedelta(days=1)
    if kind == "weekday":
        if past:
            back = (today.weekday() - _WEEKDAYS[match.group(1)] - 1) % 7 + 1
            return today - datetime.timedelta(days=back)
        ahead = (_WEEKDAYS[match.group(1)] - today.weekday() - 1) % 7 + 1
        return today + datetime.timedelta(days=ahead)
    if kind == "month_end":
        return _month_end(today)
    if kind == "quincena":
        return today.replace(day=15) if today.day <= 15 else _month_end(today)
    if kind == "in_days":
        count = match.group(1)
        number = int(count) if count.isdigit() else _SMALL_NUMBERS[count]
        per = 7 if match.group(2).startswith("semana") else 1
        return today + datetime.timedelta(days=number * per)
    if kind == "next_week":
        monday = today + datetime.timedelta(days=7 - today.weekday())
        return monday + datetime.timedelta(days=4)
    if kind == "day_only":
        return _day_of_month(int(match.group(1)), today, past)
    return None


def _month_end(today: datetime.date) -> datetime.date:
    return today.replace(day=calendar.monthrange(today.year, today.month)[1])


def _day_month(
    day: int, month: int, year: str | None, today: datetime.date, past: bool
) -> datetime.date:
    if year:
        full = int(year) + (2000 if len(year) == 2 else 0)
        return datetime.date(full, month, day)
    step = -1 if past else 1
    for offset in (0, step, 2 * step, 3 * step, 4 * step):
        # A 29 de febrero waits for a leap year; four years always hold one.
        if _valid(today.year + offset, month, day):
            candidate = datetime.date(today.year + offset, month, day)
            if (candidate <= today) if past else (candidate >= today):
                return candidate
    raise ValueError(f"no {day}/{month}")


def _valid(year: int, month: int, day: int) -> bool:
    return day <= calendar.monthrange(year, month)[1]


def _day_of_month(day: int, today: datetime.date, past: bool) -> datetime.date | None:
    """The next such day on or after today; with `past`, the last on or before."""
    year, month = today.year, today.month
    for _ in range(13):
        if _valid(year, month, day):
            candidate = datetime.date(year, month, day)
            if (candidate <= today) if past else (candidate >= today):
                return candidate
        if past:
            month = (month - 2) % 12 + 1
            year -= month == 12
        else:
            month = month % 12 + 1
            year += month == 1
    return None


def parse_date(
    text: str, today: datetime.date, *, past: bool = False
) -> datetime.date | None:
    """The first date a message names, resolved against `today`.

    - Weekdays ("el viernes", "este viernes", "el próximo viernes") are the
      next such day after today: today itself is excluded, so on a Friday
      "el viernes" is a week away.
    - A day of the month ("el 15", "día 15") is the next 15th on or after
      today; "15 de enero", "15 ene" and "15/01" the next such date on or
      after today; a written year ("15/01/2027", "2027-01-15") is taken as is.
    - "hoy", "mañana" (not "en la mañana"), "pasado mañana", "ayer",
      "fin de mes", "la quincena" (the 15th or the month's last day),
      "en 3 días", "en una semana", and "la próxima semana" (its Friday).

    With `past`, for what has already happened ("me pagó el lunes"), a weekday,
    a day of the month and a day and month without year are the last such date
    instead: the weekday before today, the day on or before today. Words that
    only point forward ("mañana", "en 3 días") keep their meaning.
    """
    spans = _date_spans(fold(text), today, past)
    if not spans:
        return None
    first = min(spans, key=lambda item: item[0][0])
    # Where two readings overlap ("el 3" inside "el 3 de noviembre"), the longer
    # one says more.
    overlapping = [item for item in spans if item[0][0] < first[0][1]]
    return max(overlapping, key=lambda item: item[0][1] - item[0][0])[1]


_PERIODS: list[tuple[str, re.Pattern[str]]] = [
    ("last_month", re.compile(r"\bmes\s+(?:pasado|anterior)\b|\bultimo\s+mes\b")),
    ("last_week", re.compile(r"\bsemana\s+(?:pasada|anterior)\b")),
    ("yesterday", re.compile(r"\bayer\b")),
    ("today", re.compile(r"\bhoy\b|\bdel\s+dia\b")),
    ("week", re.compile(r"\b(?:esta|la|de\s+la|en\s+la)\s+semana\b|\bsemanal\b")),
    ("month", re.compile(r"\b(?:este|el|del|en\s+el|de\s+este)\s+mes\b|\bmensual\b")),
]


def parse_period(text: str) -> str | None:
    """ "today", "yesterday", "week", "last_week", "month" or "last_month": the span
    a question asks about."""
    folded = fold(text)
    if re.search(r"\b(?:proxima|siguiente|otra)\s+semana\b", folded):
        return None
    for period, pattern in _PERIODS:
        if pattern.search(folded):
            return period
    return None


# --- amounts ------------------------------------------------------------------

_NUMBER_TOKEN = re.compile(r"us\$|\$|\d+(?:[.,]\d+)*|[a-z]+|\S")
_MULTIPLIERS = {
    "k": Decimal(1000),
    "mil": Decimal(1000),
    "lucas": Decimal(1000),
    "luca": Decimal(1000),
    "millon": Decimal(1000000),
    "millones": Decimal(1000000),
    "mdp": Decimal(1000000),
    "m": Decimal(1000000),
}
_CURRENCY_WORDS = {
    "pesos": "MXN",
    "peso": "MXN",
    "mxn": "MXN",
    "mn": "MXN",
    "varos": "MXN",
    "baros": "MXN",
    "usd": "USD",
    "dolares": "USD",
    "dolar": "USD",
    "dlls": "USD",
    "dls": "USD",
    "dll": "USD",
    "us$": "USD",
}
_SPELLED_UNITS = {
    "un": 1,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiun": 21,
    "veintiuno": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
    "cien": 100,
    "ciento": 100,
    "doscientos": 200,
    "trescientos": 300,
    "cuatrocientos": 400,
    "quinientos": 500,
    "seiscientos": 600,
    "setecientos": 700,
    "ochocientos": 800,
    "novecientos": 900,
    "medio": 0,
}
# Numbers that are counts of something else, not money ("3 días", "2 facturas").
_COUNT_AFTER = re.compile(
    r"\s*(?:dias?|semanas?|meses|mes|anos?|facturas?|veces|partes|pagos|plazos|"
    r"parcialidades|clientes?|proveedores?|deudores|horas?|hrs?|%|am|pm|"
    r"de\s+(?:la\s+)?(?:manana|tarde))\b"
)
_TIME = re.compile(r"\ba\s+las?\s+\d{1,2}(?::\d{2})?\b|\b\d{1,2}:\d{2}\b")
_ORDINAL = re.compile(r"\b\d+(?:er|ro|do|to|vo|no|a|o)\b|\d+[°º]")


_COMMA_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_COMMA_DECIMALS = re.compile(r"\d+,\d{1,2}")
_DOT_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _number_value(written: str) -> Decimal | None:
    """ "12,500" -> 12500, "12.50" -> 12.50, "12,50" -> 12.50, "1.500" -> 1500."""
    try:
        if _COMMA_THOUSANDS.fullmatch(written):
            return Decimal(written.replace(",", ""))
        if _COMMA_DECIMALS.fullmatch(written):
            return Decimal(written.replace(",", "."))
        if _DOT_THOUSANDS.fullmatch(written):
            # Limitation: "1.500" is read as 1500 (dot as thousands), since
            # money is never written with three decimals; "1.5" stays 1.5.
            return Decimal(written.replace(".", ""))
        if _PLAIN_NUMBER.fullmatch(written):
            return Decimal(written)
    except InvalidOperation:
        return None
    return None


# An RFC ("AIN850101AB2"): its six digits are a date of birth or founding, never
# an amount.
_RFC = re.compile(r"\b[a-z&]{3,4}\d{6}[a-z0-9]{3}\b")


_RFC_AS_WRITTEN = re.compile(r"\b([A-ZÑ&]{3,4}\d{6}[A-Z\d]{3})\b", re.IGNORECASE)
_RFC_SHAPE = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z\d]{3}$")


def parse_rfc(text: str) -> str | None:
    """The first RFC written in a message, in capitals however it was typed."""
    for match in _RFC_AS_WRITTEN.finditer(text):
        candidate = match.group(1).upper()
        if _RFC_SHAPE.match(candidate):
            return candidate
    return None


def _masked_spans(folded: str, text: str) -> list[Span]:
    spans: list[Span] = [span for span, _ in _ref_spans(folded)]
    spans += [span for span, _ in _phone_spans(text)]
    spans += [match.span() for match in _EMAIL.finditer(folded)]
    spans += [span for span, _ in _date_spans(folded, datetime.date(2000, 1, 1))]
    spans += [match.span() for match in _TIME.finditer(folded)]
    spans += [match.span() for match in _ORDINAL.finditer(folded)]
    return spans


def find_amounts(text: str) -> list[tuple[Decimal, str | None, bool]]:
    """Every amount written in a message: (value, currency, has a money mark).

    A money mark is "$", a currency word or a multiplier ("mil", "k"); bare
    numbers count too unless they are part of an invoice reference, a date,
    a phone number, a time or a count ("3 días", "2 facturas").
    """
    folded = fold(text)
    masked = _masked_spans(folded, text)
    masked += [match.span() for match in _RFC.finditer(folded)]
    tokens = [
        (m.group(0), m.span())
        for m in _NUMBER_TOKEN.finditer(folded)
        if not any(_overlaps(m.span(), span) for span in masked)
    ]
    amounts: list[tuple[Decimal, str | None, bool]] = []
    index = 0
    while index < len(tokens):
        parsed = _amount_at(tokens, index, folded)
        if parsed is None:
            index += 1
            continue
        value, currency, marked, index = parsed
        if value > 0:
            amounts.append((value, currency, marked))
    return amounts


def _amount_at(
    tokens: list[tuple[str, Span]], index: int, folded: str
) -> tuple[Decimal, str | None, bool, int] | None:
    currency: str | None = None
    marked = False
    word = tokens[index][0]
    if word in ("$", "us$"):
        currency = "USD" if word == "us$" else None
        marked = True
        index += 1
        if index >= len(tokens):
            return None
    elif (
        word in ("usd", "mxn")
        and index + 1 < len(tokens)
        and _number_value(tokens[index + 1][0]) is not None
    ):
        currency = _CURRENCY_WORDS[word]
        marked = True
        index += 1

    value, multiplier, index = _compound(tokens, index)
    if value is None:
        return None
    if multiplier > 1:
        marked = True

    suffix = index
    if suffix < len(tokens) and tokens[suffix][0] in ("en", "de"):
        suffix += 1
    if suffix < len(tokens) and tokens[suffix][0] in _CURRENCY_WORDS:
        currency = _CURRENCY_WORDS[tokens[suffix][0]]
        marked = True
        index = suffix + 1
    elif (
        not marked and index > 0 and _COUNT_AFTER.match(folded, tokens[index - 1][1][1])
    ):
        return None
    return value, currency, marked, index


def _compound(
    tokens: list[tuple[str, Span]], index: int
) -> tuple[Decimal | None, Decimal, int]:
    """A number with its multipliers: "5 mil 500", "2 millones 300 mil", "medio "
    "millón"."""
    total = Decimal(0)
    last_multiplier = Decimal(0)
    start = index
    spelled_only = True
    while index < len(tokens):
        value, digits, index_after = _simple_number(tokens, index)
        if value is None:
            if tokens[index][0] == "mil" and index == start:
                value, digits, index_after = Decimal(1), False, index
            else:
                break
        spelled_only = spelled_only and not digits
        multiplier = Decimal(1)
        if index_after < len(tokens) and tokens[index_after][0] in _MULTIPLIERS:
            multiplier = _MULTIPLIERS[tokens[index_after][0]]
            index_after += 1
        if last_multiplier and multiplier >= last_multiplier:
            break
        if last_multiplier and multiplier == 1 and last_multiplier != 1000:
            break
        if tokens[index][0] == "medio":
            value = Decimal("0.5")
        total += value * multiplier
        index = index_after
        last_multiplier = multiplier
        if multiplier == 1:
            break
        if index < len(tokens) and tokens[index][0] == "y":
            following = index + 1
            if (
                following < len(tokens)
                and _simple_number(tokens, following)[0] is not None
            ):
                index = following
    if index == start:
        return None, Decimal(1), start
    if last_multiplier == 0:
        return None, Decimal(1), start
    if spelled_only and (
        len(tokens) <= index or tokens[index][0] not in _CURRENCY_WORDS
    ):
        top = max(last_multiplier, Decimal(1))
        if top == 1 or (tokens[start][0] == "mil" and index - start == 1):
            return None, Decimal(1), start
    if last_multiplier > 1 and total == total.to_integral_value():
        total = total.quantize(Decimal(1))
    return total, max(last_multiplier, Decimal(1)), index


def _simple_number(
    tokens: list[tuple[str, Span]], index: int
) -> tuple[Decimal | None, bool, int]:
    word = tokens[index][0]
    value = _number_value(word)
    if value is not None:
        return value, True, index + 1
    if word not in _SPELLED_UNITS:
        return None, False, index
    total = 0
    while index < len(tokens) and tokens[index][0] in _SPELLED_UNITS:
        total += _SPELLED_UNITS[tokens[index][0]]
        index += 1
        joined = index + 1 < len(tokens) and tokens[index + 1][0] in _SPELLED_UNITS
        if index < len(tokens) and tokens[index][0] == "y" and joined:
            index += 1
    return Decimal(total), False, index


def parse_amount(text: str) -> tuple[Decimal, str | None] | None:
    """The amount a message names and its currency ("MXN", "USD" or None).

    "5 mil" -> 5000, "5k" -> 5000, "$5,000.50" -> 5000.50, "12.5 mil" ->
    12500, "5 mil 500" -> 5500, "medio millón" -> 500000, "12,500" -> 12500,
    "12.50" -> 12.50. Invoice references ("F-88"), dates ("el 15"), phone
    numbers and counts ("3 días") are not amounts. When several are written,
    the first with a money mark wins, else the first.
    """
    amounts = find_amounts(text)
    if not amounts:
        return None
    marked = [amount for amount in amounts if amount[2]]
    value, currency, _ = (marked or amounts)[0]
    if currency is None:
        currency = _currency_anywhere(fold(text))
    return value, currency


def currency_named(text: str) -> str | None:
    """The currency a message names in words, with or without an amount."""
    return _currency_anywhere(fold(text))


def _currency_anywhere(folded: str) -> str | None:
    if re.search(r"\b(?:dolares|dolar|usd|dlls|dls)\b|us\$", folded):
        return "USD"
    if re.search(r"\b(?:pesos|mxn)\b", folded):
        return "MXN"
    return None


def masked_spans_for_names(text: str, today: datetime.date) -> list[Span]:
    """Spans no customer name can cover: amounts' digits, dates, references."""
    folded = fold(text)
    spans = _masked_spans(folded, text)
    spans += [span for span, _ in _date_spans(folded, today)]
    spans += [
        m.span() for m in re.finditer(r"(?:us)?\$?\d[\d.,]*\s*(?:k|mil)?\b", folded)
    ]
    # An RFC names a customer, digits and all.
    rfcs = [match.span() for match in _RFC.finditer(folded)]
    return [span for span in spans if not any(_overlaps(span, r) for r in rfcs)]


def first_of(values: Iterable[str]) -> str | None:
    """The first non-empty value, or None."""
    return next((value for value in values if value), None)
