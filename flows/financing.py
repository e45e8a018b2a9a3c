"""Financing applications: the answers and their checks, Mexican working days, the
72-business-hour deadline, the receivables summary for the analyst, the decision
and its notice to the owner, and the flagging of applications past their deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.business import token_hash, validate_email
from flows.errors import Conflict, Forbidden, InvalidInput, NotFound
from flows.fmt import (
    GENERIC_RFCS,
    as_utc,
    bank_name,
    mask_clabe,
    mask_phone,
    money,
    normalize_phone,
    to_money,
    validate_clabe,
    zone,
)
from flows.outbox import enqueue, owner_address
from flows.webhooks_out import emit_event
from storage import repo
from storage.models import (
    Business,
    FinancingApplication,
    Invoice,
    InvoiceStatus,
)

log = logging.getLogger(__name__)

DECISION_HOURS = 72
WEB_LINK_TTL = dt.timedelta(hours=24)
DECISION_TEMPLATE = "financing_decision"
CONSENT_VERSION = "buro-2026-1"
CONSENT_TEXT = (
    "Para evaluar tu solicitud consultaremos el historial crediticio de la empresa "
    "y de su representante legal en una sociedad de información crediticia (Buró "
    "de Crédito o Círculo de Crédito). Veremos los créditos que tienen, sus saldos "
    "y si los han pagado a tiempo; lo usamos sólo para decidir sobre esta "
    "solicitud y la consulta queda registrada en tu historial. Si estás de "
    "acuerdo, escribe «Acepto»."
)


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


STATUS_LABELS = {
    Status.DRAFT: "borrador",
    Status.SUBMITTED: "en revisión",
    Status.APPROVED: "aprobada",
    Status.REJECTED: "rechazada",
}


# --- Validators --------------------------------------------------------------

RFC_SHAPE = re.compile(r"^[A-ZÑ&]{3,4}(\d{2})(\d{2})(\d{2})[A-Z\d]{2}[A\d]$")
RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"

CURP_SHAPE = re.compile(
    r"^[A-Z][AEIOUX][A-Z]{2}(\d{2})(\d{2})(\d{2})[HMX]([A-Z]{2})"
    r"[B-DF-HJ-NP-TV-Z]{3}[A-Z\d]\d$"
)
CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
# The two-letter codes of the states, and NE for those born abroad.
CURP_STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AS BC BS CC CL CM CS CH DF DG GT GR "
        "HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN ZS NE",
    )
)


def rfc_check_digit(first12: str) -> str:
    """The RFC's last character, from the 11 or 12 before it (homoclave digit).

    A company's RFC (12 characters) is padded with a space in front to weigh
    like a person's (13). Each character's value times its weight, 13 down to 2,
    summed; eleven minus the remainder by 11, where 11 is "0" and 10 is "A".
    """
    padded = first12.rjust(12)
    total = sum(
        RFC_ALPHABET.index(char) * (13 - place) for place, char in enumerate(padded)
    )
    digit = 11 - total % 11
    if digit == 11:
        return "0"
    if digit == 10:
        return "A"
    return str(digit)


def validate_rfc_strict(raw: str) -> str:
    """An RFC with its shape, a real date and a correct check digit."""
    rfc = raw.strip().upper().replace(" ", "").replace("-", "")
    shape = RFC_SHAPE.match(rfc)
    if shape is None:
        raise InvalidInput(
            f"«{raw.strip()}» no es un RFC válido: son 12 caracteres para una "
            "empresa (3 letras, 6 dígitos de la fecha y 3 de homoclave) o 13 "
            "para una persona."
        )
    if rfc in GENERIC_RFCS:
        raise InvalidInput("El RFC genérico no sirve para una solicitud.")
    if not _real_date(*shape.groups()):
        raise InvalidInput(f"El RFC {rfc} no es válido: la fecha no existe.")
    if rfc_check_digit(rfc[:-1]) != rfc[-1]:
        raise InvalidInput(
            f"El RFC {rfc} no es válido: el dígito verificador no coincide. "
            "Revísalo en tu constancia de situación fiscal."
        )
    return rfc


def curp_check_digit(first17: str) -> str:
    """The CURP's last digit: values times weights 18 down to 2, ten's complement."""
    total = sum(
        CURP_ALPHABET.index(char) * (18 - place) for place, char in enumerate(first17)
    )
    return str((10 - total % 10) % 10)


def validate_curp(raw: str) -> str:
    """A CURP with its shape, a real birth date, a state and its check digit."""
    curp = raw.strip().upper().replace(" ", "")
    shape = CURP_SHAPE.match(curp)
    if shape is None:
        raise InvalidInput(
            f"«{raw.strip()}» no es una CURP válida: son 18 caracteres, como "
            "viene en tu identificación."
        )
    year, month, day, state = shape.groups()
    if state not in CURP_STATES:
        raise InvalidInput(f"La CURP {curp} no es válida: el estado {state} no existe.")
    if not _real_date(year, month, day):
        raise InvalidInput(f"La CURP {curp} no es válida: la fecha no existe.")
    if curp_check_digit(curp[:17]) != curp[17]:
        raise InvalidInput(
            f"La CURP {curp} no es válida: el dígito verificador no coincide."
        )
    return curp


def _real_date(yy: str, mm: str, dd: str) -> bool:
    try:
        dt.date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    return True


_MULTIPLIERS = {
    "mil": Decimal(1000),
    "k": Decimal(1000),
    "millon": Decimal(1_000_000),
    "millones": Decimal(1_000_000),
    "mdp": Decimal(1_000_000),
    "m": Decimal(1_000_000),
}


def parse_pesos(raw: str) -> Decimal:
    """Pesos as people write them: `$1,500,000`, `1.5 millones`, `800 mil`."""
    text = _fold(raw).replace("$", " ").replace("mxn", " ").replace("pesos", " ")
    text = re.sub(r"\bde\b", " ", text)
    text = re.sub(r"(?<=\d)\s+(?=\d{3}\b)", "", text)
    match = re.fullmatch(r"\s*([\d,]+(?:\.\d+)?)\s*([a-z]*)\s*", text)
    if match is None:
        raise InvalidInput(f"«{raw.strip()}» no es un monto; escríbelo como 500,000.")
    number, word = match.groups()
    multiplier = Decimal(1)
    if word:
        if word not in _MULTIPLIERS:
            raise InvalidInput(
                f"«{raw.strip()}» no es un monto; escríbelo como 500,000."
            )
        multiplier = _MULTIPLIERS[word]
    try:
        amount = to_money(Decimal(number.replace(",", "")) * multiplier)
    except InvalidOperation as exc:
        raise InvalidInput(f"«{raw.strip()}» no es un monto válido.") from exc
    if amount <= 0:
        raise InvalidInput("El monto debe ser mayor a cero.")
    return amount


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.strip().lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _parse_years(raw: str) -> int:
    match = re.search(r"\d{1,3}", raw)
    if match is None or int(match.group(0)) > 150:
        raise InvalidInput("Escribe los años de operación con número, como 5.")
    return int(match.group(0))


def _parse_text(raw: str, *, shortest: int = 2, longest: int = 300) -> str:
    text = " ".join(raw.split())
    if len(text) < shortest:
        raise InvalidInput("Esa respuesta es muy corta; cuéntame un poco más.")
    return text[:longest]


def _parse_name(raw: str) -> str:
    name = _parse_text(raw, shortest=5, longest=200)
    if len(name.split()) < 2 or any(c.isdigit() for c in name):
        raise InvalidInput("Escribe el nombre completo, con apellidos.")
    return name


def _parse_consent(raw: str) -> str:
    if _fold(raw).strip(" .!¡") != "acepto":
        raise InvalidInput(
            "Para seguir necesito tu autorización: escribe exactamente «Acepto»."
        )
    return CONSENT_VERSION


# --- The questions -------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One answer of the application: its key, how it is named and checked."""

    key: str
    label: str
    parse: Callable[[str], Any]
    sensitive: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question("legal_name", "Razón social", lambda raw: _parse_text(raw, shortest=3)),
    Question("rfc", "RFC de la empresa", validate_rfc_strict, sensitive=True),
    Question("line_of_business", "Giro", _parse_text),
    Question("years_operating", "Años operando", _parse_years),
    Question("annual_revenue", "Ventas anuales", parse_pesos),
    Question("amount_requested", "Monto solicitado", parse_pesos),
    Question("purpose", "Para qué es", _parse_text),
    Question("representative_name", "Representante legal", _parse_name),
    Question("curp", "CURP del representante", validate_curp, sensitive=True),
    Question("email", "Correo del representante", validate_email, sensitive=True),
    Question("phone", "Teléfono del representante", normalize_phone, sensitive=True),
    Question("clabe", "CLABE para el depósito", validate_clabe, sensitive=True),
    Question("consent", "Consulta al buró de crédito", _parse_consent),
)
QUESTION_BY_KEY = {q.key: q for q in QUESTIONS}
KEYS: tuple[str, ...] = tuple(q.key for q in QUESTIONS)


def set_answer(
    application: FinancingApplication, key: str, raw: str, *, now: dt.datetime
) -> Any:
    """Check one answer and keep it; raises InvalidInput with what to fix."""
    if application.status != Status.DRAFT:
        raise Conflict("Esa solicitud ya se envió; ya no se puede cambiar.")
    question = QUESTION_BY_KEY[key]
    value = question.parse(raw)
    answers = dict(application.answers or {})
    if isinstance(value, Decimal):
        answers[key] = str(value)
    else:
        answers[key] = value
    if key == "amount_requested":
        application.amount_requested = value
    if key == "clabe":
        answers["bank"] = bank_name(value) or f"Banco {value[:3]}"
    if key == "consent":
        application.consent_at = now
    application.answers = answers
    application.updated_at = now
    return value


def missing(application: FinancingApplication) -> list[str]:
    answers = application.answers or {}
    return [key for key in KEYS if answers.get(key) in (None, "")]


def next_key(application: FinancingApplication, after: str | None = None) -> str | None:
    """The next unanswered question after `after`, else the first unanswered one."""
    gaps = missing(application)
    if not gaps:
        return None
    if after is not None and after in KEYS:
        later = [k for k in gaps if KEYS.index(k) > KEYS.index(after)]
        if later:
            return later[0]
    return gaps[0]


def shown_value(key: str, value: Any) -> str:
    """An answer as the summary shows it, sensitive ones masked."""
    if value in (None, ""):
        return "—"
    text = str(value)
    if key == "rfc":
        return text[:4] + "•" * (len(text) - 7) + text[-3:]
    if key == "curp":
        return text[:4] + "•" * 10 + text[-4:]
    if key == "clabe":
        return mask_clabe(text)
    if key == "phone":
        return mask_phone(text)
    if key == "email":
        local, _, domain = text.partition("@")
        return f"{local[:2]}•••@{domain}"
    if key in ("annual_revenue", "amount_requested"):
        return money(Decimal(text))
    if key == "years_operating":
        return f"{text} año{'s' if text != '1' else ''}"
    if key == "consent":
        return "autorizada"
    return text


def summary_lines(application: FinancingApplication) -> list[str]:
    answers = application.answers or {}
    lines = []
    for question in QUESTIONS:
        value = shown_value(question.key, answers.get(question.key))
        if question.key == "clabe" and answers.get("bank"):
            value += f" ({answers['bank']})"
        lines.append(f"• {question.label}: {value}")
    return lines


# --- Mexican working days ------------------------------------------------------


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The nth `weekday` (Monday is 0) of a month: nth_weekday(2027, 2, 0, 1)."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (nth - 1))


def federal_election_day(year: int) -> dt.date | None:
    """The federal ordinary election: first Sunday of June, every three years."""
    if year < 2015 or (year - 2015) % 3:
        return None
    return nth_weekday(year, 6, 6, 1)


def holidays(year: int) -> dict[dt.date, str]:
    """The days of rest of the Ley Federal del Trabajo (art. 74) in a year.

    # Limitation: state and extraordinary elections held on their own dates are not
    # known here; ordinary elections fall on a Sunday by law, so they never move a
    # deadline, but a local election on a weekday would be counted as working.
    """
    days = {
        dt.date(year, 1, 1): "Año Nuevo",
        nth_weekday(year, 2, 0, 1): "Día de la Constitución",
        nth_weekday(year, 3, 0, 3): "Natalicio de Benito Juárez",
        dt.date(year, 5, 1): "Día del Trabajo",
        dt.date(year, 9, 16): "Día de la Independencia",
        nth_weekday(year, 11, 0, 3): "Día de la Revolución",
        dt.date(year, 12, 25): "Navidad",
    }
    if year >= 2024 and (year - 2024) % 6 == 0:
        days[dt.date(year, 10, 1)] = "Transmisión del Poder Ejecutivo Federal"
    elif year < 2024 and (year - 2018) % 6 == 0:
        days[dt.date(year, 12, 1)] = "Transmisión del Poder Ejecutivo Federal"
    election = federal_election_day(year)
    if election is not None:
        days[election] = "Jornada electoral federal"
    return days


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def add_working_hours(start: dt.datetime, hours: int, tz: str) -> dt.datetime:
    """`start` plus `hours` counted only on working days in the zone `tz` (UTC out).

    A working day gives its 24 hours; weekends and holidays give none, so a
    request sent on a Saturday starts counting on Monday at 00:00.
    """
    place = zone(tz)
    cursor = start.astimezone(place).replace(tzinfo=None)
    remaining = dt.timedelta(hours=hours)
    while True:
        day_end = dt.datetime.combine(cursor.date() + dt.timedelta(days=1), dt.time())
        if is_working_day(cursor.date()):
            available = day_end - cursor
            if remaining <= available:
                return (cursor + remaining).replace(tzinfo=place).astimezone(dt.UTC)
            remaining -= available
        cursor = day_end


def decision_deadline(submitted_at: dt.datetime, tz: str) -> dt.datetime:
    return add_working_hours(submitted_at, DECISION_HOURS, tz)


WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTH_NAMES = re.findall(
    r"\w+",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre "
    "noviembre diciembre",
)


def deadline_text(moment: dt.datetime, tz: str) -> str:
    """`el miércoles 30 de diciembre a las 17:00` in the business's time zone."""
    local = moment.astimezone(zone(tz))
    if local.time() == dt.time():
        local -= dt.timedelta(minutes=1)  # midnight reads as the end of the day before
    return (
        f"el {WEEKDAYS[local.weekday()]} {local.day} de {MONTH_NAMES[local.month - 1]}"
        f" a las {local:%H:%M}"
    )


# --- The application's life ------------------------------------------------------


def current_application(
    session: Session, *, business_id: int, lock: bool = False
) -> FinancingApplication | None:
    """The business's newest application, whatever its status."""
    query = (
        select(FinancingApplication)
        .where(FinancingApplication.business_id == business_id)
        .order_by(FinancingApplication.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def open_draft(
    session: Session, *, business: Business, actor: str, now: dt.datetime
) -> tuple[FinancingApplication, bool]:
    """The business's draft, or a new one with the legal name prefilled; (row, new)."""
    latest = current_application(session, business_id=business.id, lock=True)
    if latest is not None and latest.status == Status.DRAFT:
        return latest, False
    if latest is not None and latest.status == Status.SUBMITTED:
        raise Conflict(
            "Ya tienes una solicitud en revisión; espera la respuesta antes de "
            "empezar otra."
        )
    application = FinancingApplication(
        business_id=business.id,
        created_by=actor,
        status=Status.DRAFT,
        step=KEYS[0],
        answers={"suggested_legal_name": business.name, "suggested_rfc": business.rfc},
        currency="MXN",
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel="chat",
        action="financing.started",
        subject=f"financing:{application.id}",
        now=now,
    )
    log.info(
        "financing application started",
        extra={"business_id": business.id, "application_id": application.id},
    )
    return application, True


def submit(
    session: Session,
    *,
    application: FinancingApplication,
    by_owner: bool,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> FinancingApplication:
    """Send a complete draft to the analysts, with its deadline and receivables."""
    if not by_owner:
        raise Forbidden(
            "Sólo la persona dueña del negocio puede enviar una solicitud de "
            "financiamiento, porque compromete a la empresa y autoriza la consulta "
            "al buró."
        )
    if application.status != Status.DRAFT:
        raise Conflict("Esa solicitud ya se había enviado.")
    gaps = missing(application)
    if gaps:
        raise InvalidInput(
            "Falta un dato antes de enviarla: " + QUESTION_BY_KEY[gaps[0]].label + "."
        )
    business = application.business
    today = now.astimezone(zone(business.timezone)).date()
    application.status = Status.SUBMITTED
    application.step = None
    application.submitted_at = now
    application.deadline_at = decision_deadline(now, business.timezone)
    application.receivables = receivables_summary(
        session, business_id=business.id, today=today
    )
    application.web_token_hash = None
    application.web_token_expires_at = None
    application.updated_at = now
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="financing.submitted",
        subject=f"financing:{application.id}",
        data={"amount": str(application.amount_requested)},
        now=now,
    )
    log.info(
        "financing application submitted",
        extra={"business_id": business.id, "application_id": application.id},
    )
    return application


def decide(
    session: Session,
    *,
    application_id: int,
    approve: Decimal | None,
    reject_reason: str | None,
    actor: str,
    now: dt.datetime,
) -> FinancingApplication:
    """Approve an amount or reject with a reason, and queue the owner's notice."""
    if (approve is None) == (reject_reason is None or not reject_reason.strip()):
        raise InvalidInput("Indica un monto aprobado o un motivo de rechazo, no ambos.")
    application = session.scalar(
        select(FinancingApplication)
        .where(FinancingApplication.id == application_id)
        .with_for_update()
    )
    if application is None:
        raise NotFound(f"No existe la solicitud {application_id}.")
    if application.status != Status.SUBMITTED:
        label = STATUS_LABELS[Status(application.status)]
        raise Conflict(
            f"La solicitud {application_id} está {label}; no se puede decidir."
        )

    if approve is not None:
        amount = to_money(approve)
        requested = application.amount_requested or Decimal("0")
        if amount <= 0 or amount > requested:
            raise InvalidInput(
                f"El monto aprobado debe ser mayor a cero y no más de lo solicitado "
                f"({money(requested, application.currency)})."
            )
        application.status = Status.APPROVED
        application.amount_approved = amount
    else:
        application.status = Status.REJECTED
        application.decision_reason = (reject_reason or "").strip()[:1000]
    application.decided_at = now
    application.decided_by = actor[:64]
    application.updated_at = now

    audit(
        session,
        business_id=application.business_id,
        actor=actor,
        channel="cli",
        action=f"financing.{application.status}",
        subject=f"financing:{application.id}",
        data={"amount": str(application.amount_approved or "")},
        now=now,
    )
    notify_decision(session, application=application, now=now)
    emit_event(
        session,
        application.business_id,
        "financing.decided",
        {
            "application_id": application.id,
            "decision": str(application.status),
            "amount_approved": str(application.amount_approved or ""),
            "reason": application.decision_reason or "",
        },
        now,
        key=f"financing:{application.id}",
    )
    return application


def decision_payload(application: FinancingApplication) -> dict[str, Any]:
    return {
        "application_id": application.id,
        "business_name": application.business.name,
        "decision": application.status,
        "amount": str(application.amount_approved or ""),
        "requested": str(application.amount_requested or ""),
        "currency": application.currency,
        "reason": application.decision_reason or "",
    }


def notify_decision(
    session: Session, *, application: FinancingApplication, now: dt.datetime
) -> bool:
    """Queue the decision for the owner on their chat channel; False if unreachable."""
    address = owner_address(session, business_id=application.business_id)
    if address is None:
        log.warning(
            "financing decision not notified: owner has no channel",
            extra={"application_id": application.id},
        )
        return False
    channel, recipient = address
    queued = enqueue(
        session,
        business_id=application.business_id,
        channel=channel,
        recipient=recipient,
        template=DECISION_TEMPLATE,
        payload=decision_payload(application),
        dedupe_key=f"financing:decision:{application.id}",
        now=now,
    )
    return queued is not None


def run_overdue_applications(
    factory: sessionmaker[Session], now: dt.datetime
) -> list[int]:
    """Flag, once, every submitted application past its deadline; returns their ids."""
    with factory() as session, session.begin():
        late = session.scalars(
            select(FinancingApplication)
            .where(
                FinancingApplication.status == Status.SUBMITTED,
                FinancingApplication.deadline_at <= now,
                FinancingApplication.overdue_flagged_at.is_(None),
            )
            .order_by(FinancingApplication.deadline_at)
            .with_for_update(skip_locked=True)
        ).all()
        for application in late:
            application.overdue_flagged_at = now
            audit(
                session,
                business_id=application.business_id,
                actor="system",
                channel="scheduler",
                action="financing.overdue",
                subject=f"financing:{application.id}",
                now=now,
            )
            log.warning(
                "financing application past its decision deadline",
                extra={
                    "application_id": application.id,
                    "business_id": application.business_id,
                    "deadline_at": application.deadline_at,
                },
            )
        return [a.id for a in late]


def list_applications(
    session: Session, *, status: str | None = None
) -> Sequence[FinancingApplication]:
    query = select(FinancingApplication).order_by(FinancingApplication.id)
    if status:
        query = query.where(FinancingApplication.status == status)
    return session.scalars(query).all()


@dataclass(frozen=True)
class Available:
    approved: Decimal
    used: Decimal
    currency: str = "MXN"

    @property
    def free(self) -> Decimal:
        return self.approved - self.used


def available_financing(session: Session, *, business_id: int) -> Available:
    """What the business has approved and what it has used, over all its approvals.

    # Limitation: drawing on an approved line is not recorded by Cobra yet, so
    # `amount_used` stays at zero until the disbursement side exists.
    """
    approved, used = session.execute(
        select(
            func.coalesce(func.sum(FinancingApplication.amount_approved), 0),
            func.coalesce(func.sum(FinancingApplication.amount_used), 0),
        ).where(
            FinancingApplication.business_id == business_id,
            FinancingApplication.status == Status.APPROVED,
        )
    ).one()
    return Available(to_money(str(approved)), to_money(str(used)))


# --- The web form's link --------------------------------------------------------


def issue_web_token(application: FinancingApplication, *, now: dt.datetime) -> str:
    """A new link token for the web form; any earlier link stops working."""
    if application.status != Status.DRAFT:
        raise Conflict("Esa solicitud ya se envió; ya no se puede editar.")
    token = secrets.token_urlsafe(24)
    application.web_token_hash = token_hash(token)
    application.web_token_expires_at = now + WEB_LINK_TTL
    return token


def application_by_web_token(
    session: Session, *, token: str, now: dt.datetime
) -> FinancingApplication | None:
    """The draft a link opens, while the link is unused and unexpired."""
    if not token or len(token) > 128:
        return None
    application = session.scalar(
        select(FinancingApplication)
        .where(FinancingApplication.web_token_hash == token_hash(token))
        .with_for_update()
    )
    if application is None or application.status != Status.DRAFT:
        return None
    expires = application.web_token_expires_at
    if expires is None:
        return None
    return application if now < as_utc(expires) else None


def save_web_answers(
    session: Session,
    *,
    application: FinancingApplication,
    form: dict[str, str],
    now: dt.datetime,
) -> dict[str, str]:
    """Apply the web form's answers; returns the errors by key, saving nothing if any.

    An empty field keeps its earlier answer (sensitive fields are not shown back).
    A successful save uses up the link.
    """
    checked: dict[str, str] = {}
    errors: dict[str, str] = {}
    for question in QUESTIONS:
        raw = (form.get(question.key) or "").strip()
        if not raw:
            continue
        try:
            question.parse(raw)
        except InvalidInput as exc:
            errors[question.key] = exc.message
        else:
            checked[question.key] = raw
    if errors:
        return errors
    for key, raw in checked.items():
        set_answer(application, key, raw, now=now)
    application.step = next_key(application) or "confirm"
    application.web_token_hash = None
    application.web_token_expires_at = None
    audit(
        session,
        business_id=application.business_id,
        actor="web",
        channel="web",
        action="financing.edited",
        subject=f"financing:{application.id}",
        data={"fields": sorted(checked)},
        now=now,
    )
    return {}


# --- The receivables summary for the analyst -------------------------------------

TOP_CUSTOMERS = 5
DSO_WINDOW_DAYS = 90


def receivables_summary(
    session: Session, *, business_id: int, today: dt.date
) -> dict[str, Any]:
    """Open receivables by currency: totals, aging, top customers' share and DSO.

    DSO is the open balance over the last 90 days' invoiced sales, times 90.
    Amounts are strings (exact decimals) so the summary can be stored as JSON.
    """
    totals = repo.balance_totals(
        session, business_id=business_id, direction="receivable", today=today
    )
    aging = repo.aging_totals(
        session, business_id=business_id, direction="receivable", today=today
    )
    since = today - dt.timedelta(days=DSO_WINDOW_DAYS)
    sales = dict(
        session.execute(
            select(Invoice.currency, func.sum(Invoice.total))
            .where(
                Invoice.business_id == business_id,
                Invoice.direction == "receivable",
                Invoice.status != InvoiceStatus.CANCELLED,
                Invoice.issue_date > since,
                Invoice.issue_date <= today,
            )
            .group_by(Invoice.currency)
        ).all()
    )
    summary: dict[str, Any] = {"as_of": today.isoformat(), "currencies": {}}
    for currency, (total, overdue, count) in totals.items():
        top = repo.top_debtors(
            session,
            business_id=business_id,
            today=today,
            currency=currency,
            limit=TOP_CUSTOMERS,
        )
        top_total = sum((amount for _, amount, _ in top), Decimal("0"))
        window_sales = Decimal(sales.get(currency) or 0)
        dso = (
            (total / window_sales * DSO_WINDOW_DAYS).quantize(Decimal("0.1"))
            if window_sales > 0
            else None
        )
        summary["currencies"][currency] = {
            "open_total": str(to_money(total)),
            "overdue_total": str(to_money(overdue)),
            "open_invoices": count,
            "aging": {k: str(to_money(v)) for k, v in aging.get(currency, {}).items()},
            "top_customers": [
                {
                    "name": contact.name,
                    "balance": str(to_money(amount)),
                    "share": str(_share(amount, total)),
                }
                for contact, amount, _ in top
            ],
            "top_share": str(_share(top_total, total)),
            "sales_90_days": str(to_money(window_sales)),
            "dso_days": str(dso) if dso is not None else None,
        }
    return summary


def _share(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return Decimal("0.0")
    return (part / whole * 100).quantize(Decimal("0.1"))
