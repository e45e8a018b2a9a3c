"""Idempotency keys: the same key with the same request gets the first answer.

A key is scoped to the business. The stored answer is written in the same
transaction as the work it describes, so either both are kept or neither is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.errors import Conflict, InvalidInput
from storage.models import IdempotencyRecord

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_hash(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and the exact body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    cleaned = key.strip()
    if not cleaned or len(cleaned) > MAX_KEY_LENGTH or not cleaned.isprintable():
        raise InvalidInput(
            "El encabezado Idempotency-Key debe tener de 1 a 255 caracteres visibles."
        )
    return cleaned


def lookup(
    session: Session, *, business_id: int, key: str, request_hash: str
) -> StoredResponse | None:
    """The first answer for the key, None when unused; Conflict for another request."""
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.business_id == business_id,
            IdempotencyRecord.key == key,
        )
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        log.info(
            "idempotency key reused with another request",
            extra={"business_id": business_id},
        )
        raise Conflict(
            "Esa Idempotency-Key ya se usó con otra solicitud; usa una llave nueva."
        )
    return StoredResponse(record.status_code, dict(record.response))


def remember(
    session: Session,
    *,
    business_id: int,
    key: str,
    request_hash: str,
    status_code: int,
    body: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Keep the answer with the work. Raises `IntegrityError` when a concurrent
    request took the key first: roll back and `lookup` again to answer as it did."""
    record = IdempotencyRecord(
        business_id=business_id,
        key=key,
        request_hash=request_hash,
        status_code=status_code,
        response=body,
        created_at=now,
    )
    session.add(record)
    session.flush()
