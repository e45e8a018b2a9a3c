"""The owner asks to upload the e.firma or the CSD: Cobra answers with a one-time
web link. Passwords are never asked for, nor taken, in the chat.
"""

from __future__ import annotations

import logging

from flows.fmt import short_date
from flows.messages import Reply
from flows.sat import upload_links
from flows.sat.credentials import KIND_NAMES, CredentialKind, credential_info
from handlers.context import Turn
from handlers.nlu import Intent, Understanding

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "La facturación no está configurada en este servidor (falta SECRETS_KEY), así "
    "que todavía no puedo guardar tu {what}. Pídele a quien administra Cobra que "
    "la active."
)
LINK = "Sube tu {what} en este enlace; sirve una sola vez y vence en 24 horas:\n{url}"
READY = {
    CredentialKind.FIEL: (
        "Ten a la mano el certificado (.cer), la llave privada (.key) y la "
        "contraseña de tu e.firma. Con ella descargo del SAT las facturas que "
        "emites y recibes."
    ),
    CredentialKind.CSD: (
        "Ten a la mano el certificado (.cer), la llave privada (.key) y la "
        "contraseña de tu CSD (sello digital), no los de la e.firma. Con él timbro "
        "tus facturas y complementos."
    ),
}
ONE = {CredentialKind.FIEL: "una", CredentialKind.CSD: "un"}
NEVER_HERE = "La contraseña escríbela solo en esa página, nunca aquí en el chat."


def send_fiel_link(turn: Turn, understanding: Understanding) -> Reply:
    """ "Sube mi e.firma": the link to the upload form for the FIEL."""
    return _send_link(turn, CredentialKind.FIEL)


def send_csd_link(turn: Turn, understanding: Understanding) -> Reply:
    """ "Quiero subir mi CSD": the link to the upload form for the CSD."""
    return _send_link(turn, CredentialKind.CSD)


def _send_link(turn: Turn, kind: CredentialKind) -> Reply:
    what = KIND_NAMES[kind]
    if not _can_store(turn):
        return Reply().say(NOT_CONFIGURED.format(what=what))

    token = upload_links.issue_upload_link(
        turn.session,
        business_id=turn.business.id,
        kind=kind,
        actor=turn.speaker.actor,
        now=turn.now,
    )
    url = upload_links.upload_url(turn.config.public_base_url, token)
    log.info(
        "sat upload link sent",
        extra={"business_id": turn.business.id, "kind": str(kind)},
    )

    lines = [LINK.format(what=what, url=url), READY[kind]]
    stored = credential_info(turn.session, business_id=turn.business.id, kind=kind)
    if stored is not None:
        until = short_date(stored.valid_until.date(), today=turn.today)
        lines.append(
            f"Ya tengo {ONE[kind]} {what} vigente hasta el {until} "
            f"(certificado {stored.certificate_number}); lo que subas lo reemplaza."
        )
    lines.append(NEVER_HERE)
    return Reply().say("\n\n".join(lines))


def _can_store(turn: Turn) -> bool:
    """False only when the SAT side is set up without SECRETS_KEY; an engine built
    without the SAT side still hands out links and the page says what is missing."""
    config = getattr(turn.config, "sat", None)
    if config is None:
        return True
    key = config.secrets_key
    raw = key.get_secret_value() if hasattr(key, "get_secret_value") else key
    return bool(raw)


INTENTS = {Intent.UPLOAD_FIEL: send_fiel_link, Intent.UPLOAD_CSD: send_csd_link}
OWNER_ONLY = frozenset(INTENTS)
