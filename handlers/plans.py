"""Payment plans in conversation: the owner offers one, a customer asks for one,
and both answer with one tap (`plan:<id>:approve|reject|accept|decline`)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import replace
from typing import Any

from flows import payment_plans
from flows.errors import InvalidInput, NotFound
from flows.fmt import money
from flows.messages import Reply
from handlers import actions, common, customer
from handlers.context import Turn
from handlers.nlu import Entities, Intent, Role, Understanding
from handlers.nlu.entities import extract_customer
from handlers.nlu.normalize import fold
from handlers.resolve import find_contact, find_invoices, own_contact
from storage.models import PlanStatus

log = logging.getLogger(__name__)

OFFER_ACTION = "plan.offer"
DEFAULT_INSTALMENTS = 3
_NUMBERS = {
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
}
_COUNT_RE = re.compile(
    r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")\s+(?:pagos|parcialidades|mensualidades|"
    r"meses|partes|abonos|exhibiciones|plazos|quincenas)\b"
)


def instalments_named(text: str) -> int | None:
    """ "3 pagos", "tres mensualidades", "en 4 meses": the number of parts named."""
    match = _COUNT_RE.search(fold(text))
    if match is None:
        return None
    word = match.group(1)
    return int(word) if word.isdigit() else _NUMBERS[word]


# --- The owner offers ------------------------------------------------------------


def offer_plan(turn: Turn, understanding: Understanding) -> Reply:
    """ "dale a Peña 3 pagos mensuales": show the parts and ask before offering."""
    if understanding.entities.customer is None:
        named = extract_customer(turn.inbound.text, turn.today)
        if named:
            understanding = Understanding(
                understanding.intent,
                _with_customer(understanding, named),
                understanding.source,
                understanding.confidence,
            )
    found = find_contact(turn, understanding)
    if isinstance(found, Reply):
        return found
    contact = found
    count = instalments_named(turn.inbound.text)
    if count is None:
        raise InvalidInput(
            "¿En cuántos pagos? Escribe, por ejemplo, «dale a "
            f"{contact.display_name} 3 pagos mensuales»."
        )
    invoice_ids = None
    if understanding.entities.invoice_refs:
        invoices = find_invoices(
            turn, understanding.entities.invoice_refs, contact_id=contact.id
        )
        invoice_ids = [i.id for i in invoices]
    draft = payment_plans.draft_plan(
        turn.session,
        contact=contact,
        instalments=count,
        today=turn.today,
        first_due=_first_due(understanding, turn.today),
        invoice_ids=invoice_ids,
    )
    labels = ", ".join(i.label for i in draft.invoices)
    question = (
        f"Plan para {contact.display_name}: {money(draft.total, draft.currency)} "
        f"({labels}) en {count} pagos:\n{draft.describe()}\n"
        "¿Se lo ofrezco? Lo acepta con un toque."
    )
    payload = {
        "contact_id": contact.id,
        "instalments": count,
        "first_due": draft.parts[0].due_date.isoformat(),
        "invoice_ids": [i.id for i in draft.invoices],
    }
    return actions.propose(turn, OFFER_ACTION, payload, question)


def run_offer(turn: Turn, payload: dict[str, Any]) -> Reply:
    """The owner said yes: store the plan as offered and send it to the customer."""
    contact = own_contact(turn, payload["contact_id"], "Ya no encontré a ese cliente.")
    draft = payment_plans.draft_plan(
        turn.session,
        contact=contact,
        instalments=int(payload["instalments"]),
        today=turn.today,
        first_due=dt.date.fromisoformat(payload["first_due"]),
        invoice_ids=list(payload["invoice_ids"]),
    )
    plan = payment_plans.create_plan(
        turn.session,
        draft=draft,
        status=PlanStatus.OFFERED,
        requested_by=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    sent = payment_plans.send_offer(turn.session, plan=plan, now=turn.now)
    name = contact.display_name
    if not sent:
        return Reply().say(
            f"Guardé el plan, pero {name} no tiene WhatsApp ni correo para "
            "mandárselo. Agrégale uno y vuelve a pedírmelo."
        )
    return Reply().say(
        f"Listo ✅ Le mandé el plan a {name}; te aviso cuando lo acepte."
    )


# --- The customer asks -----------------------------------------------------------


def ask_for_plan(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿puedo pagar en partes?": a request for the owner, when the business allows
    it; otherwise the message reaches the owner as before."""
    contact = turn.speaker.contact
    business = turn.business
    if turn.speaker.role != Role.CUSTOMER or contact is None:
        return common.not_understood(turn, understanding)
    if not business.plans_on_request:
        return customer.pass_on(turn, understanding)

    existing = payment_plans.open_plan(turn.session, contact_id=contact.id)
    if existing is not None:
        return Reply().say(_existing(existing))

    wanted = instalments_named(turn.inbound.text)
    limit = business.plans_max_instalments
    count = min(wanted or DEFAULT_INSTALMENTS, limit)
    try:
        draft = payment_plans.draft_plan(
            turn.session,
            contact=contact,
            instalments=count,
            today=turn.today,
            first_due=_first_due(understanding, turn.today),
        )
    except NotFound:
        return Reply().say(f"No tienes saldo pendiente con {business.name}. ✅")
    plan = payment_plans.create_plan(
        turn.session,
        draft=draft,
        status=PlanStatus.REQUESTED,
        requested_by=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    payment_plans.ask_owner(turn.session, plan=plan, now=turn.now)
    over = (
        f" {business.name} da planes de hasta {limit} pagos."
        if wanted and wanted > limit
        else ""
    )
    return Reply().say(
        f"Claro. Le propuse a {business.name} que pagues "
        f"{money(draft.total, draft.currency)} en {count} pagos:\n"
        f"{draft.describe()}\n{over.strip() + chr(10) if over else ''}"
        "Te aviso en cuanto lo aprueben para que lo aceptes."
    )


def _existing(plan: Any) -> str:
    lines = payment_plans.plan_summary(plan)
    if plan.status == PlanStatus.REQUESTED:
        return f"Tu solicitud de plan de pagos está con el negocio:\n{lines}"
    if plan.status == PlanStatus.OFFERED:
        return f"Tienes un plan de pagos por aceptar:\n{lines}"
    return f"Ya tienes un plan de pagos:\n{lines}"


# --- One-tap answers -------------------------------------------------------------


def on_plan_button(turn: Turn, payload: str) -> Reply:
    """`plan:<id>:approve|reject` for the owner, `plan:<id>:accept|decline` for the
    customer the plan belongs to; anyone else learns nothing."""
    parts = payload.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return Reply().say("No entendí ese botón.")
    _, plan_id, verb = parts
    plan = payment_plans.plan_of(
        turn.session, business_id=turn.business.id, plan_id=int(plan_id)
    )
    speaker = turn.speaker
    if speaker.is_owner and verb in ("approve", "reject") and plan is not None:
        return _owner_answer(turn, plan, verb)
    mine = (
        plan is not None
        and speaker.role == Role.CUSTOMER
        and speaker.contact is not None
        and plan.contact_id == speaker.contact.id
    )
    if mine and verb in ("accept", "decline"):
        assert plan is not None
        return _customer_answer(turn, plan, verb)
    return Reply().say("Ese plan de pagos ya no está disponible.")


def _owner_answer(turn: Turn, plan: Any, verb: str) -> Reply:
    name = plan.contact.display_name
    if plan.status != PlanStatus.REQUESTED:
        return Reply().say(f"El plan de {name} ya no espera tu respuesta.")
    if verb == "reject":
        payment_plans.decline_plan(
            turn.session,
            plan=plan,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        return Reply().say(f"Listo, le avisé a {name} que no hay plan por ahora.")
    payment_plans.approve_plan(
        turn.session,
        plan=plan,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(
        f"Listo ✅ Le mandé el plan a {name} para que lo acepte con un toque."
    )


def _customer_answer(turn: Turn, plan: Any, verb: str) -> Reply:
    contact = turn.speaker.contact
    assert contact is not None
    if verb == "decline":
        if plan.status != PlanStatus.OFFERED:
            return Reply().say("Ese plan de pagos ya no está disponible.")
        payment_plans.decline_plan(
            turn.session,
            plan=plan,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        return Reply().say("Entendido, no quedó ningún plan. Tu saldo sigue igual.")
    payment_plans.accept_plan(
        turn.session, plan=plan, contact=contact, channel=turn.channel, now=turn.now
    )
    return Reply().say(
        "¡Listo! Quedamos así ✅\n"
        f"{payment_plans.plan_summary(plan)}\n"
        "Te recordaré cada pago unos días antes. Escribe «link» para ver cómo pagar."
    )


# --- Helpers ---------------------------------------------------------------------


def _first_due(understanding: Understanding, today: dt.date) -> dt.date | None:
    day = understanding.entities.date
    return day if day is not None and day >= today else None


def _with_customer(understanding: Understanding, name: str) -> Entities:
    return replace(understanding.entities, customer=name)


actions.register(OFFER_ACTION, run_offer)

# Intent.OFFER_PLAN is owner-only; CUSTOMER_PLAN keeps the customer's role check.
INTENTS = {Intent.OFFER_PLAN: offer_plan, Intent.CUSTOMER_PLAN: ask_for_plan}
OWNER_ONLY = frozenset({Intent.OFFER_PLAN})
PAYLOADS = {"plan": on_plan_button}
