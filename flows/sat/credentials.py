"""A business's e.firma (FIEL) and CSD, stored encrypted; loaded back as signers.

The key and its password are encrypted with Fernet under a key derived from
`SECRETS_KEY`; neither is ever logged, returned to a chat or kept in the clear.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from pydantic import SecretStr
from satcfdi.models import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import CobraError, InvalidInput, NotFound
from storage.models import Business, SatCredential

log = logging.getLogger(__name__)

# A fixed, public salt: the secret's entropy comes from SECRETS_KEY itself; the
# salt only keeps this derivation apart from any other use of the same secret.
_SALT = b"cobra/sat-credentials/v1"
_ROUNDS = 200_000


class CredentialKind(StrEnum):
    FIEL = "fiel"
    CSD = "csd"


KIND_NAMES = {CredentialKind.FIEL: "e.firma", CredentialKind.CSD: "CSD"}
# What the owner writes to get an upload link ("sube mi e.firma").
UPLOAD_WORD = {CredentialKind.FIEL: "e.firma", CredentialKind.CSD: "CSD"}


class MissingSecretsKey(CobraError):
    """SECRETS_KEY is not configured, so nothing secret can be stored or read."""


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """What may be shown about a stored credential: never the key or password."""

    kind: str
    rfc: str
    certificate_number: str
    valid_until: dt.datetime


def _fernet(secrets_key: SecretStr | str | None) -> Fernet:
    if secrets_key is None:
        raise MissingSecretsKey(
            "Falta configurar SECRETS_KEY; sin ella no puedo guardar ni usar la "
            "e.firma o el CSD."
        )
    raw = (
        secrets_key.get_secret_value()
        if isinstance(secrets_key, SecretStr)
        else secrets_key
    )
    if not raw:
        raise MissingSecretsKey(
            "SECRETS_KEY está vacía; configúrala para guardar la e.firma o el CSD."
        )
    return Fernet(_derive(raw))


@lru_cache(maxsize=4)
def _derive(raw: str) -> bytes:
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=_SALT, iterations=_ROUNDS
    )
    return base64.urlsafe_b64encode(kdf.derive(raw.encode()))


def store_credential(
    session: Session,
    *,
    business: Business,
    kind: CredentialKind | str,
    certificate: bytes,
    key: bytes,
    password: str,
    secrets_key: SecretStr | str | None,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> CredentialInfo:
    """Check the pair (certificate, key, password) and store it, replacing any earlier.

    Refuses a key that does not open with the password, a key that does not match
    the certificate, a certificate of another RFC, or an expired one.
    """
    kind = CredentialKind(kind)
    fernet = _fernet(secrets_key)
    signer = _open(certificate, key, password, kind)

    rfc = str(signer.rfc or "")
    if rfc.upper() != business.rfc.upper():
        raise InvalidInput(
            f"El certificado de {KIND_NAMES[kind]} es de otro RFC, no de "
            f"{business.name}."
        )
    cert = signer.certificate.to_cryptography()
    valid_from = cert.not_valid_before_utc
    valid_until = cert.not_valid_after_utc
    if valid_until <= now:
        raise InvalidInput(f"El certificado de {KIND_NAMES[kind]} ya venció.")

    row = session.scalar(
        select(SatCredential).where(
            SatCredential.business_id == business.id, SatCredential.kind == kind
        )
    )
    if row is None:
        row = SatCredential(business_id=business.id, kind=kind, created_at=now)
        session.add(row)
    row.rfc = rfc.upper()
    row.certificate_number = signer.certificate_number
    row.certificate = base64.b64encode(certificate).decode()
    row.key_encrypted = fernet.encrypt(key).decode()
    row.password_encrypted = fernet.encrypt(password.encode()).decode()
    row.valid_from = valid_from
    row.valid_until = valid_until
    session.flush()

    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="sat.credential.stored",
        subject=f"{kind}:{row.certificate_number}",
        data={"kind": str(kind), "valid_until": valid_until.isoformat()},
        now=now,
    )
    log.info(
        "sat credential stored",
        extra={"business_id": business.id, "kind": str(kind)},
    )
    return CredentialInfo(str(kind), row.rfc, row.certificate_number, valid_until)


def load_signer(
    session: Session,
    *,
    business_id: int,
    kind: CredentialKind | str,
    secrets_key: SecretStr | str | None,
    now: dt.datetime,
) -> Signer:
    """The stored credential opened as a satcfdi signer, ready to seal or sign."""
    kind = CredentialKind(kind)
    fernet = _fernet(secrets_key)
    row = session.scalar(
        select(SatCredential).where(
            SatCredential.business_id == business_id, SatCredential.kind == kind
        )
    )
    if row is None:
        raise NotFound(
            f"Aún no tengo tu {KIND_NAMES[kind]}. Escribe «sube mi "
            f"{UPLOAD_WORD[kind]}» y te mando un link para hacerlo."
        )
    if _utc(row.valid_until) <= now:
        raise InvalidInput(
            f"Tu {KIND_NAMES[kind]} venció; escribe «sube mi {UPLOAD_WORD[kind]}» "
            "para subir la nueva."
        )
    try:
        key = fernet.decrypt(row.key_encrypted.encode())
        password = fernet.decrypt(row.password_encrypted.encode()).decode()
    except InvalidToken as exc:
        raise MissingSecretsKey(
            f"No pude abrir tu {KIND_NAMES[kind]}: SECRETS_KEY cambió desde que se "
            "guardó. Vuelve a subirla."
        ) from exc
    return _open(base64.b64decode(row.certificate), key, password, kind)


def credential_info(
    session: Session, *, business_id: int, kind: CredentialKind | str
) -> CredentialInfo | None:
    row = session.scalar(
        select(SatCredential).where(
            SatCredential.business_id == business_id,
            SatCredential.kind == CredentialKind(kind),
        )
    )
    if row is None:
        return None
    return CredentialInfo(row.kind, row.rfc, row.certificate_number, row.valid_until)


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _open(
    certificate: bytes, key: bytes, password: str, kind: CredentialKind
) -> Signer:
    name = KIND_NAMES[kind]
    try:
        return Signer.load(certificate=certificate, key=key, password=password)
    except (TypeError, ValueError) as exc:
        # cryptography says "Bad decrypt" or "Could not deserialize" alike for a
        # wrong password and a damaged file; both read the same to the owner.
        raise InvalidInput(
            f"No pude abrir la llave de la {name}: revisa la contraseña y que el "
            ".key sea el del certificado."
        ) from exc
    except Exception as exc:  # satcfdi raises its own CFDIError on a mismatch
        raise InvalidInput(
            f"La llave y el certificado de la {name} no corresponden entre sí, o el "
            ".cer no es válido."
        ) from exc
