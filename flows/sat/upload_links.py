"""One-time web links for the owner to upload the e.firma or the CSD: issued from
the chat, stored hashed, good for 24 hours and used up by one successful upload.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flows.business import token_hash
from flows.errors import InvalidInput
from flows.sat import notices
from flows.sat.credentials import KIND_NAMES, CredentialKind, store_credential
from storage.models import Business, SatCredential, SatUploadLink

log = logging.getLogger(__name__)

LINK_TTL = dt.timedelta(hours=24)
PATH = "/sat/credenciales/{token}"
# A SAT .cer or .key is 1 to 2 KB; anything far larger is not one.
MAX_FILE_BYTES = 64 * 1024
MAX_PASSWORD_CHARS = 256
NOTICE_KIND = "credential_stored"


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What the owner sees after an upload: never the key or the password."""

    what: str
    rfc: str
    certificate_number: str
    valid_from: dt.datetime
    valid_until: dt.datetime


def issue_upload_link(
    session: Session,
    *,
    business_id: int,
    kind: CredentialKind | str,
    actor: str,
    now: dt.datetime,
) -> str:
    """A new link token for uploading one credential; earlier unused links of the
    same kind stop working, so only the newest link in the chat opens the form."""
    kind = CredentialKind(kind)
    session.execute(
        update(SatUploadLink)
        .where(
            SatUploadLink.business_id == business_id,
            SatUploadLink.kind == kind,
            SatUploadLink.used_at.is_(None),
            SatUploadLink.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(24)
    session.add(
        SatUploadLink(
            token_hash=token_hash(token),
            business_id=business_id,
            kind=kind,
            actor=actor[:40],
            expires_at=now + LINK_TTL,
            created_at=now,
        )
    )
    session.flush()
    log.info(
        "sat upload link issued",
        extra={"business_id": business_id, "kind": str(kind)},
    )
    return token


def upload_url(public_base_url: str, token: str) -> str:
    return public_base_url.rstrip("/") + PATH.format(token=token)


def link_by_token(
    session: Session, *, token: str, now: dt.datetime
) -> SatUploadLink | None:
    """The link a token opens, locked for this transaction, while unused and
    unexpired; None for anything else, so every refusal looks the same."""
    if not token or len(token) > 128:
        return None
    link = session.scalar(
        select(SatUploadLink)
        .where(SatUploadLink.token_hash == token_hash(token))
        .with_for_update()
    )
    if link is None or link.used_at is not None:
        return None
    return link if now < _utc(link.expires_at) else None


def kind_name(link: SatUploadLink) -> str:
    """How the owner calls what the link uploads: "e.firma" or "CSD"."""
    return KIND_NAMES[CredentialKind(link.kind)]


def upload_credential(
    session: Session,
    *,
    link: SatUploadLink,
    certificate: bytes,
    key: bytes,
    password: str,
    secrets_key: SecretStr | str | None,
    channel: str,
    now: dt.datetime,
) -> Uploaded:
    """Check and store the uploaded credential, use the link up and tell the owner.

    Anything refused (wrong password, a key of another certificate, another RFC,
    an expired certificate, files too large) raises with a Spanish reason, stores
    nothing and leaves the link usable.
    """
    # Limitation: wrong passwords are not counted, so whoever holds both the link
    # and the .key could keep guessing for 24 hours; the link lives only in the
    # owner's chat and the key file is the owner's, so a counter was left out.
    name = kind_name(link)
    if not certificate or not key:
        raise InvalidInput(f"Falta el archivo .cer o el .key de tu {name}.")
    if len(certificate) > MAX_FILE_BYTES or len(key) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"Los archivos de la {name} pesan unos pocos KB; los que subiste pasan "
            f"de {MAX_FILE_BYTES // 1024} KB. Revisa que sean el .cer y el .key."
        )
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"Escribe la contraseña de la llave privada de tu {name}.")
    business = session.get(Business, link.business_id)
    if business is None:
        raise InvalidInput("Este enlace ya no sirve; pide otro en el chat.")

    # A savepoint: a refusal from the checks leaves no half-written row behind.
    with session.begin_nested():
        info = store_credential(
            session,
            business=business,
            kind=link.kind,
            certificate=certificate,
            key=key,
            password=password,
            secrets_key=secrets_key,
            actor=link.actor,
            channel=channel,
            now=now,
        )
    link.used_at = now
    row = session.scalars(
        select(SatCredential).where(
            SatCredential.business_id == business.id, SatCredential.kind == link.kind
        )
    ).one()
    uploaded = Uploaded(
        name,
        info.rfc,
        info.certificate_number,
        _utc(row.valid_from),
        _utc(row.valid_until),
    )

    notices.notify_owner(
        session,
        business_id=business.id,
        kind=NOTICE_KIND,
        facts={
            "what": name,
            "rfc": info.rfc,
            "certificate_number": info.certificate_number,
            "valid_until": uploaded.valid_until.date().isoformat(),
            "today": now.date().isoformat(),
        },
        dedupe_key=f"sat-upload:{link.id}",
        now=now,
    )
    log.info(
        "sat credential uploaded through a link",
        extra={"business_id": business.id, "kind": link.kind, "link_id": link.id},
    )
    return uploaded


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
