"""The owner's team, managed from the chat.

«Agrega a Juan a mi equipo, 55 1234 5678» lets Juan write from that WhatsApp;
without a number Juan gets a one-time Telegram code (`/start CODE`), the same as
`cobra user add --telegram` prints. «¿Quiénes tienen acceso?» lists the team and
«quítale el acceso a Juan» takes it away. Only the owner may do any of it, and
each change waits for a «Sí».
"""

from __future__ import annotations

import re
from typing import Any

from flows import business as business_flows
from flows.errors import InvalidInput, NotFound
from flows.fmt import display_phone
from flows.messages import Reply
from handlers import actions
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.normalize import fold
from storage import repo
from storage.models import User

ADD_ACTION = "add_staff"
REMOVE_ACTION = "remove_staff"

# Where a person's name ends: the team words, a comma, a phone, an email.
_NAME_END = re.compile(
    r"\s+(?:a|al|del|de|en)\s+(?:mi\s+|el\s+|nuestro\s+)?equipo\b|\s+como\b|\s+por\b"
    r"|\s+con\b|\s+para\s+que\b|\s+y\s+(?:dale|que)\b|[,;.:(]|\s\+?\d|\s\S+@|$",
    re.IGNORECASE,
)
_AFTER = re.compile(r"\b(?:a|para)\s+", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"^(?:mi|el|al|nuestro|la)?\s*(?:equipo|acceso|telegram|whatsapp|cobra)\b",
    re.IGNORECASE,
)
_WANTS_WHATSAPP = re.compile(r"\bwhats(?:app)?\b|\bwa\b|\bcel(?:ular)?\b")


def person_name(text: str) -> str | None:
    """The name in «agrega a Juan Pérez a mi equipo», «código para Juan»."""
    for found in _AFTER.finditer(text):
        rest = text[found.end() :]
        if _NOT_A_NAME.match(rest):
            continue
        end = _NAME_END.search(rest)
        name = rest[: end.start() if end else len(rest)].strip(" ¿?¡!\"'")
        if name:
            return " ".join(name.split())
    return None


def _same(user: User, name: str) -> bool:
    return fold(user.name or "") == fold(name)


def add_staff(turn: Turn, understanding: Understanding) -> Reply:
    name = person_name(turn.inbound.text)
    if name is None:
        raise InvalidInput(
            "¿Cómo se llama? Escríbemelo así: «agrega a Juan Pérez a mi equipo, 55 "
            "1234 5678» (por WhatsApp) o «agrega a Juan Pérez a mi equipo por "
            "Telegram»."
        )
    entities = understanding.entities
    if entities.phone is None and _WANTS_WHATSAPP.search(fold(turn.inbound.text)):
        raise InvalidInput(
            f"¿Cuál es el WhatsApp de {name}? Escríbemelo así: «agrega a {name} a mi "
            "equipo, 55 1234 5678»."
        )
    team = repo.users_of(turn.session, business_id=turn.business.id)
    known = next((u for u in team if _same(u, name)), None)
    if known is not None and known.role == "staff" and entities.phone is None:
        question = (
            f"{known.name} ya está en tu equipo. ¿Le doy un código nuevo de "
            "Telegram? El anterior deja de servir."
        )
        payload: dict[str, Any] = {"user_id": known.id}
        return actions.propose(turn, ADD_ACTION, payload, question)
    how = (
        f"desde el WhatsApp {display_phone(entities.phone)}"
        if entities.phone
        else "por Telegram, con un código que te doy"
    )
    question = (
        f"¿Le doy acceso a {name} {how}? Podrá ver saldos, registrar cobros y "
        "mandar recordatorios; pagar a proveedores, facturar y pedir "
        "financiamiento sigue siendo sólo tuyo."
    )
    payload = {"name": name, "whatsapp": entities.phone, "email": entities.email}
    return actions.propose(turn, ADD_ACTION, payload, question)


def do_add_staff(turn: Turn, payload: dict[str, Any]) -> Reply:
    code: str | None
    if "user_id" in payload:
        user = _member(turn, payload["user_id"])
        code = business_flows.issue_telegram_code(user)
        name = user.name or "esa persona"
    else:
        added = business_flows.add_user(
            turn.session,
            business=turn.business,
            role="staff",
            name=payload["name"],
            whatsapp=payload.get("whatsapp"),
            email=payload.get("email"),
            telegram_code=not payload.get("whatsapp"),
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        code = added.telegram_code
        name = payload["name"]
    if code is None:
        return Reply().say(
            f"Listo, {name} ya es de tu equipo: que me escriba desde su WhatsApp."
        )
    reply = Reply().say(
        f"Listo. Para entrar, que {name} le mande al bot de Cobra en Telegram:\n"
        f"/start {code}\nEl código sirve una sola vez; no lo compartas con nadie más."
    )
    reply.secrets.append(code)
    return reply


def list_team(turn: Turn, understanding: Understanding) -> Reply:
    team = repo.users_of(turn.session, business_id=turn.business.id)
    lines = ["Tu equipo en Cobra:"]
    for user in team:
        role = "dueña o dueño" if user.role == "owner" else "equipo"
        ways = []
        if user.whatsapp:
            ways.append(f"WhatsApp {display_phone(user.whatsapp)}")
        if user.telegram_user_id is not None:
            ways.append("Telegram")
        elif user.telegram_code_hash:
            ways.append("Telegram (aún no usa su código)")
        if user.email:
            ways.append(user.email)
        who = "Tú" if user is turn.speaker.user else (user.name or "Sin nombre")
        lines.append(f"• {who} ({role}): {', '.join(ways) or 'sin canal'}")
    if len(team) <= 1:
        lines.append("Para sumar a alguien: «agrega a Juan Pérez a mi equipo».")
    return Reply().say("\n".join(lines))


def remove_staff(turn: Turn, understanding: Understanding) -> Reply:
    name = person_name(turn.inbound.text)
    team = repo.users_of(turn.session, business_id=turn.business.id, role="staff")
    matches = [u for u in team if name and _same(u, name)]
    if not matches and name:
        matches = [u for u in team if fold(name) in fold(u.name or "")]
    if len(matches) != 1:
        names = ", ".join(u.name or "sin nombre" for u in team) or "nadie más"
        raise NotFound(
            f"¿A quién? En tu equipo están: {names}. Escríbelo así: «quítale el acceso "
            "a Juan»."
        )
    user = matches[0]
    question = (
        f"¿Le quito el acceso a {user.name}? Sus mensajes dejarán de llegarme como "
        "de tu equipo."
    )
    return actions.propose(turn, REMOVE_ACTION, {"user_id": user.id}, question)


def do_remove_staff(turn: Turn, payload: dict[str, Any]) -> Reply:
    user = _member(turn, payload["user_id"])
    name = user.name or "esa persona"
    business_flows.remove_user(
        turn.session,
        user=user,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    return Reply().say(f"Listo, {name} ya no tiene acceso.")


def _member(turn: Turn, user_id: int) -> User:
    user = turn.session.get(User, user_id)
    if user is None or user.business_id != turn.business.id:
        raise NotFound("Esa persona ya no está en tu equipo.")
    return user


INTENTS = {
    Intent.ADD_STAFF: add_staff,
    Intent.TEAM_LIST: list_team,
    Intent.REMOVE_STAFF: remove_staff,
}
OWNER_ONLY = frozenset(INTENTS)
actions.register(ADD_ACTION, do_add_staff)
actions.register(REMOVE_ACTION, do_remove_staff)
