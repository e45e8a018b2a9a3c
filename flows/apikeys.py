"""API keys of a business: issued once in clear, kept only as a hash, revocable.

A key reads `cobra_<prefix>_<secret>`; the prefix tells keys apart in listings and
the whole key's SHA-256 finds it again when a request presents it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import InvalidInput, NotFound
from storage.models import ApiKey, Business

log = logging.getLogger(__name__)

KEY_PREFIX = "cobra_"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the row, and the clear key to show once and never again."""

    key: ApiKey
    token: str


def key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    business: Business,
    name: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> IssuedKey:
    """A new key for the business; the clear key is in the answer only."""
    label = name.strip()
    if not label or len(label) > 100:
        raise InvalidInput("El nombre de la llave debe tener de 1 a 100 caracteres.")
    prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        business_id=business.id,
        name=label,
        prefix=prefix,
        key_hash=key_hash(token),
        created_at=now,
    )
    session.add(key)
    session.flush()

    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="apikey.created",
        subject=f"apikey:{key.id}",
        data={"name": label, "prefix": prefix},
        now=now,
    )
    log.info("api key created", extra={"business_id": business.id, "key_id": key.id})
    return IssuedKey(key, token)


def api_keys(session: Session, *, business: Business) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.business_id == business.id).order_by(ApiKey.id)
    ).all()


def revoke_api_key(
    session: Session,
    *,
    business: Business,
    key_id: int | None = None,
    prefix: str | None = None,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> ApiKey:
    """Stop a key, named by its id or its prefix; revoking twice is a no-op."""
    query = select(ApiKey).where(ApiKey.business_id == business.id)
    if key_id is not None:
        query = query.where(ApiKey.id == key_id)
    elif prefix:
        query = query.where(ApiKey.prefix == prefix.strip().lower())
    else:
        raise InvalidInput("Indica qué llave revocar.")
    key = session.scalar(query)
    if key is None:
        raise NotFound("No encontré esa llave del API.")
    if key.revoked_at is None:
        key.revoked_at = now
        audit(
            session,
            business_id=business.id,
            actor=actor,
            channel=channel,
            action="apikey.revoked",
            subject=f"apikey:{key.id}",
            now=now,
        )
        log.info(
            "api key revoked", extra={"business_id": business.id, "key_id": key.id}
        )
    return key


def authenticate(session: Session, *, token: str, now: dt.datetime) -> ApiKey | None:
    """The key in force that `token` is, else None (unknown, malformed or revoked).

    The lookup is by the token's hash, so no secret is compared byte by byte.
    """
    if not token.startswith(KEY_PREFIX) or len(token) > MAX_KEY_LENGTH:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash(token)))
    if key is None or key.revoked_at is not None:
        return None
    key.last_used_at = now
    return key
