"""The financing application as a guided chat, and "¿cuánto financiamiento tengo?".

A state machine whose state lives in the application row (`step`), so an owner can
leave and come back days later; the 24-hour conversation only says a step is open.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flows import financing
from flows.errors import InvalidInput
from flows.fmt import money
from flows.messages import Button, Reply
from handlers import actions
from handlers.context import Turn
from handlers.nlu import Intent, Understanding, normalize
from prompts.financing import chat
from storage.models import FinancingApplication

log = logging.getLogger(__name__)

FLOW = "financing"
SUBMIT_ACTION = "financing_submit"
WEB_PATH = "/financiamiento/"


class Step(StrEnum):
    LEGAL_NAME = "legal_name"
    RFC = "rfc"
    LINE_OF_BUSINESS = "line_of_business"
    YEARS_OPERATING = "years_operating"
    ANNUAL_REVENUE = "annual_revenue"
    AMOUNT_REQUESTED = "amount_requested"
    PURPOSE = "purpose"
    REPRESENTATIVE_NAME = "representative_name"
    CURP = "curp"
    EMAIL = "email"
    PHONE = "phone"
    CLABE = "clabe"
    CONSENT = "consent"
    CONFIRM = "confirm"


ANSWER_STEPS: tuple[Step, ...] = tuple(Step(k) for k in financing.KEYS)
FREE_TEXT = frozenset(
    {Step.LEGAL_NAME, Step.LINE_OF_BUSINESS, Step.PURPOSE, Step.REPRESENTATIVE_NAME}
)
# Intents that never mean "here is another request" while a question is open.
ANSWER_LIKE = frozenset(
    {
        Intent.UNKNOWN,
        Intent.FINANCING_START,
        Intent.FINANCING_STATUS,
        Intent.CONFIRM_YES,
        Intent.CONFIRM_NO,
        Intent.GREETING,
        Intent.THANKS,
    }
)

_BACK = re.compile(r"^(?:ir |un paso )?(?:atras|regresa|regresar|volver|anterior)$")
_WHERE = re.compile(
    r"\b(?:en que paso|que paso voy|donde voy|donde me quede|cuanto (?:me )?falta|"
    r"que (?:me )?falta)\b"
)
_WEB = re.compile(r"\b(?:formulario|en la web|en la compu\w*|pagina web)\b")
_CHANGE = re.compile(
    r"^(?:quiero |quisiera )?(?:cambia|cambiar|cambiale|corrige|corregir|modifica|"
    r"modificar|edita|editar)\s+(.+)$"
)
# What people call each answer, tried in order ("nombre de la empresa" first).
_FIELD_WORDS: tuple[tuple[re.Pattern[str], Step], ...] = tuple(
    (re.compile(rf"\b(?:{words})\b"), step)
    for words, step in (
        ("clabe|cuenta", Step.CLABE),
        ("curp", Step.CURP),
        ("rfc", Step.RFC),
        ("correo|email|mail", Step.EMAIL),
        ("telefono|celular|cel|tel", Step.PHONE),
        ("razon social|nombre de la empresa|empresa", Step.LEGAL_NAME),
        ("representante|nombre", Step.REPRESENTATIVE_NAME),
        ("giro|actividad", Step.LINE_OF_BUSINESS),
        ("anos|antiguedad", Step.YEARS_OPERATING),
        ("ventas|ingresos|facturacion", Step.ANNUAL_REVENUE),
        ("monto|cantidad", Step.AMOUNT_REQUESTED),
        ("destino|uso|para que|motivo|proposito", Step.PURPOSE),
    )
)


# --- Intents ------------------------------------------------------------------


def start_application(turn: Turn, understanding: Understanding) -> Reply:
    """ "Quiero financiamiento": a new application, or the one left halfway."""
    if not turn.speaker.is_owner:
        return Reply().say(chat.OWNER_ONLY)
    application, created = financing.open_draft(
        turn.session, business=turn.business, actor=turn.speaker.actor, now=turn.now
    )
    opening = chat.INTRO.format(steps=len(ANSWER_STEPS)) if created else chat.RESUMED
    log.info(
        "financing application opened",
        extra={
            "business_id": turn.business.id,
            "application_id": application.id,
            "new": created,
            "channel": turn.channel,
        },
    )
    return _prefix(opening, resume(turn, application))


def financing_status(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿Cuánto financiamiento tengo?": what is approved and used, or where it is."""
    if not turn.speaker.is_owner:
        return Reply().say(chat.OWNER_ONLY)
    business = turn.business
    available = financing.available_financing(turn.session, business_id=business.id)
    latest = financing.current_application(turn.session, business_id=business.id)
    lines = []
    if available.approved > 0:
        lines.append(
            chat.APPROVED.format(
                approved=money(available.approved),
                used=money(available.used),
                free=money(available.free),
            )
        )
    if latest is None:
        return Reply().say(lines[0] if lines else chat.NONE)
    if latest.status == financing.Status.SUBMITTED:
        lines.append(
            chat.IN_REVIEW.format(
                id=latest.id,
                amount=money(latest.amount_requested or Decimal(0)),
                deadline=_deadline(turn, latest),
            )
        )
    elif latest.status == financing.Status.REJECTED:
        lines.append(chat.REJECTED.format(id=latest.id, reason=latest.decision_reason))
    elif latest.status == financing.Status.DRAFT:
        number, total = _position(latest)
        lines.append(chat.DRAFT.format(number=number, total=total))
    return Reply().say("\n\n".join(lines) if lines else chat.NONE)


# --- The open step --------------------------------------------------------------


def take_answer(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to the open question, or a way around the form; None if neither."""
    application = _draft(turn)
    if application is None:
        return None
    if not turn.speaker.is_owner:
        turn.finish()
        return Reply().say(chat.OWNER_ONLY)
    text = _text(turn)
    moved = navigate(turn, application, text)
    if moved is not None:
        return moved

    step = _current(application)
    if step == Step.CONFIRM:
        return answer_summary(turn, application, understanding)
    if _is_another_request(understanding, step, text):
        return None
    return STATES[step](turn, application, text)


def navigate(turn: Turn, application: FinancingApplication, text: str) -> Reply | None:
    """ "atrás", "cambiar la CLABE", "¿en qué paso voy?", "formulario"; else None."""
    folded = normalize(text)
    step = _current(application)
    if _BACK.match(folded):
        if step == ANSWER_STEPS[0]:
            return _prefix(chat.FIRST_STEP, STATES[step](turn, application, None))
        place = ANSWER_STEPS.index(step) if step in ANSWER_STEPS else len(ANSWER_STEPS)
        back = ANSWER_STEPS[place - 1]
        return STATES[back](turn, application, None)
    if _WHERE.search(folded):
        return where_am_i(turn, application)
    if _WEB.search(folded):
        return web_link(turn, application)
    change = _CHANGE.match(folded)
    if change:
        for pattern, target in _FIELD_WORDS:
            if pattern.search(change.group(1)):
                return STATES[target](turn, application, None)
    return None


def where_am_i(turn: Turn, application: FinancingApplication) -> Reply:
    step = _current(application)
    if step == Step.CONFIRM:
        return _prefix(chat.WHERE_DONE, confirm_application(turn, application))
    number, total = _position(application)
    left = len(financing.missing(application))
    label = financing.QUESTION_BY_KEY[step].label
    head = chat.WHERE.format(
        number=number,
        total=total,
        label=label,
        left=f"{left} dato{'s' if left != 1 else ''}",
    )
    return _prefix(head, STATES[step](turn, application, None))


def web_link(turn: Turn, application: FinancingApplication) -> Reply:
    """A one-time link to the web form that edits this same application."""
    token = financing.issue_web_token(application, now=turn.now)
    url = turn.config.public_base_url.rstrip("/") + WEB_PATH + token
    turn.start(FLOW, _current(application), {"application_id": application.id})
    return Reply().say(chat.WEB_LINK.format(url=url))


def resume(turn: Turn, application: FinancingApplication) -> Reply:
    """Ask the question the application stopped at, or show the summary."""
    return STATES[_current(application)](turn, application, None)


# --- One function per state ------------------------------------------------------


def ask_legal_name(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    """The legal name, offering the business's own."""
    if answer is None:
        suggested = (application.answers or {}).get(
            "suggested_legal_name", turn.business.name
        )
        question = chat.QUESTIONS[Step.LEGAL_NAME].format(suggested=suggested)
        return _ask(
            turn,
            application,
            Step.LEGAL_NAME,
            question,
            Button(chat.USE_SUGGESTED, suggested),
        )
    return _take(turn, application, Step.LEGAL_NAME, answer)


def ask_rfc(turn: Turn, application: FinancingApplication, answer: str | None) -> Reply:
    """The company's RFC, checked with its digit; the business's own is offered."""
    if answer is None:
        rfc = (application.answers or {}).get("suggested_rfc", turn.business.rfc)
        return _ask(
            turn,
            application,
            Step.RFC,
            chat.QUESTIONS[Step.RFC],
            Button(f"Usar {rfc}", rfc),
        )
    return _take(turn, application, Step.RFC, answer)


def ask_line_of_business(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.LINE_OF_BUSINESS, answer)


def ask_years_operating(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.YEARS_OPERATING, answer)


def ask_annual_revenue(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.ANNUAL_REVENUE, answer)


def ask_amount(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.AMOUNT_REQUESTED, answer)


def ask_purpose(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.PURPOSE, answer)


def ask_representative(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.REPRESENTATIVE_NAME, answer)


def ask_curp(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.CURP, answer)


def ask_email(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.EMAIL, answer)


def ask_phone(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.PHONE, answer)


def ask_clabe(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    return _plain(turn, application, Step.CLABE, answer)


def ask_consent(
    turn: Turn, application: FinancingApplication, answer: str | None
) -> Reply:
    """The credit bureau check, explained; only «Acepto» goes on."""
    if answer is None:
        return _ask(
            turn,
            application,
            Step.CONSENT,
            financing.CONSENT_TEXT,
            Button("Acepto", "Acepto"),
        )
    return _take(turn, application, Step.CONSENT, answer)


def confirm_application(
    turn: Turn, application: FinancingApplication, answer: str | None = None
) -> Reply:
    """The summary with sensitive fields masked, and the Sí/No to send it."""
    application.step = Step.CONFIRM
    lines = "\n".join(financing.summary_lines(application))
    reply = actions.propose(
        turn,
        SUBMIT_ACTION,
        {"application_id": application.id},
        chat.SUMMARY.format(lines=lines),
    )
    # The Sí/No is answered in this flow, so "cambiar la CLABE" still edits.
    turn.start(FLOW, Step.CONFIRM, {"application_id": application.id})
    return reply


def answer_summary(
    turn: Turn, application: FinancingApplication, understanding: Understanding
) -> Reply:
    """Sí sends the application (through the registered action); No keeps it."""
    shown = turn.conversation.step == Step.CONFIRM
    if understanding.intent == Intent.CONFIRM_YES and shown:
        return actions.run(turn, SUBMIT_ACTION, {"application_id": application.id})
    if understanding.intent == Intent.CONFIRM_NO:
        turn.finish()
        return Reply().say(chat.NOT_SENT)
    return confirm_application(turn, application)


def submit_application(turn: Turn, payload: dict[str, Any]) -> Reply:
    """The owner said yes: the application goes to the analysts with its deadline."""
    application = _draft(turn)
    if application is None or application.id != payload.get("application_id"):
        return Reply().say(chat.NOT_SENT)
    financing.submit(
        turn.session,
        application=application,
        by_owner=turn.speaker.is_owner,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        chat.SUBMITTED.format(
            id=application.id,
            amount=money(application.amount_requested or Decimal(0)),
            deadline=_deadline(turn, application),
        )
    )


STATES = {
    Step.LEGAL_NAME: ask_legal_name,
    Step.RFC: ask_rfc,
    Step.LINE_OF_BUSINESS: ask_line_of_business,
    Step.YEARS_OPERATING: ask_years_operating,
    Step.ANNUAL_REVENUE: ask_annual_revenue,
    Step.AMOUNT_REQUESTED: ask_amount,
    Step.PURPOSE: ask_purpose,
    Step.REPRESENTATIVE_NAME: ask_representative,
    Step.CURP: ask_curp,
    Step.EMAIL: ask_email,
    Step.PHONE: ask_phone,
    Step.CLABE: ask_clabe,
    Step.CONSENT: ask_consent,
    Step.CONFIRM: confirm_application,
}


# --- Helpers --------------------------------------------------------------------


def _plain(
    turn: Turn, application: FinancingApplication, step: Step, answer: str | None
) -> Reply:
    if answer is None:
        return _ask(turn, application, step, chat.QUESTIONS[step])
    return _take(turn, application, step, answer)


def _ask(
    turn: Turn,
    application: FinancingApplication,
    step: Step,
    question: str,
    *buttons: Button,
) -> Reply:
    """Put the application on this step and ask, showing the answer it has."""
    application.step = step
    turn.start(FLOW, step, {"application_id": application.id})
    number = ANSWER_STEPS.index(step) + 1
    text = chat.STEP_HEADER.format(number=number, total=len(ANSWER_STEPS)) + question
    current = (application.answers or {}).get(step)
    if current not in (None, "") and step != Step.CONSENT:
        text += "\n" + chat.CURRENTLY.format(value=financing.shown_value(step, current))
    return Reply().say(text, *buttons)


def _take(
    turn: Turn, application: FinancingApplication, step: Step, answer: str
) -> Reply:
    """Keep a checked answer and ask the next question; on a mistake, ask again."""
    try:
        financing.set_answer(application, step, answer, now=turn.now)
    except InvalidInput as exc:
        log.info(
            "financing answer rejected",
            extra={"application_id": application.id, "step": str(step)},
        )
        return _prefix(exc.message, STATES[step](turn, application, None))
    following = financing.next_key(application, after=step)
    if following is None:
        return confirm_application(turn, application)
    return STATES[Step(following)](turn, application, None)


def _is_another_request(understanding: Understanding, step: Step, text: str) -> bool:
    """A message that asks for something else ("¿cuánto me deben?") leaves the form."""
    if understanding.intent in ANSWER_LIKE or understanding.source != "rules":
        return False
    if step in FREE_TEXT:
        return "?" in text
    try:
        financing.QUESTION_BY_KEY[step].parse(text)
    except InvalidInput:
        return True
    return False


def _draft(turn: Turn) -> FinancingApplication | None:
    application = financing.current_application(
        turn.session, business_id=turn.business.id, lock=True
    )
    if application is None or application.status != financing.Status.DRAFT:
        return None
    return application


def _current(application: FinancingApplication) -> Step:
    if application.step is not None and application.step in set(Step):
        return Step(application.step)
    following = financing.next_key(application)
    return Step(following) if following else Step.CONFIRM


def _position(application: FinancingApplication) -> tuple[int, int]:
    step = _current(application)
    total = len(ANSWER_STEPS)
    number = ANSWER_STEPS.index(step) + 1 if step in ANSWER_STEPS else total
    return number, total


def _text(turn: Turn) -> str:
    return (turn.inbound.button_payload or turn.inbound.text or "").strip()


def _deadline(turn: Turn, application: FinancingApplication) -> str:
    if application.deadline_at is None:
        return "—"
    return financing.deadline_text(application.deadline_at, turn.business.timezone)


def _prefix(text: str, reply: Reply) -> Reply:
    """Put a sentence before the first message of a reply."""
    if not reply.messages:
        return Reply().say(text)
    first = reply.messages[0]
    reply.messages[0] = type(first)(
        text=f"{text}\n\n{first.text}",
        buttons=first.buttons,
        documents=first.documents,
        images=first.images,
    )
    return reply


actions.register(SUBMIT_ACTION, submit_application)

INTENTS = {
    Intent.FINANCING_START: start_application,
    Intent.FINANCING_STATUS: financing_status,
}
STEPS = {FLOW: take_answer}
