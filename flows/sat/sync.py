"""One SAT sync pass for a business: check the requests still open at the SAT, bring
in finished packages, and ask for what was issued and received since the last pass.

A request in progress is checked again on the next pass, never waited for. CFDI
packages go through the same import as `cobra import-cfdi`; metadata packages carry
the cancellations, which update balances. A failed or rejected request is told to
the owner with the SAT's reason.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flows.cfdi import import_sources
from flows.errors import CobraError, NotFound
from flows.fmt import as_utc
from flows.money import cancel_invoice, reverse_payment
from flows.sat.cancel import CancelStatus, record_outcome
from flows.sat.credentials import CredentialKind, load_signer
from flows.sat.notices import notify_owner
from flows.sat.ws import (
    ACCEPTED,
    NO_DATA,
    ROLE_ISSUED,
    ROLE_RECEIVED,
    STATE_FINISHED,
    STATE_IN_PROGRESS,
    STATE_NAMES,
    TYPE_CFDI,
    TYPE_METADATA,
    SatWs,
)
from storage.db import transaction
from storage.models import (
    Business,
    ComplementStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    SatCancellation,
    SatDownloadRequest,
)

log = logging.getLogger(__name__)

LOOKBACK = dt.timedelta(days=30)
# Asking again sooner than this only spends the SAT's request quota.
MIN_PERIOD = dt.timedelta(hours=1)
OPEN = ("requested", "in_progress")
KINDS = [
    (ROLE_ISSUED, TYPE_CFDI),
    (ROLE_RECEIVED, TYPE_CFDI),
    (ROLE_ISSUED, TYPE_METADATA),
    (ROLE_RECEIVED, TYPE_METADATA),
]


@dataclass
class SyncReport:
    requested: int = 0
    in_progress: int = 0
    finished: int = 0
    failed: int = 0
    packages: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sync_business(
    factory: sessionmaker[Session],
    *,
    business_id: int,
    secrets_key: SecretStr | str | None,
    base_url: str | None,
    now: dt.datetime,
    ws: SatWs | None = None,
) -> SyncReport:
    """One pass; network calls happen outside any open transaction."""
    report = SyncReport()
    with transaction(factory) as session:
        if session.get(Business, business_id) is None:
            raise NotFound("No existe ese negocio.")
        if ws is None:
            signer = load_signer(
                session,
                business_id=business_id,
                kind=CredentialKind.FIEL,
                secrets_key=secrets_key,
                now=now,
            )
            ws = SatWs(signer=signer, base_url=base_url)
        open_ids = session.scalars(
            select(SatDownloadRequest.id).where(
                SatDownloadRequest.business_id == business_id,
                SatDownloadRequest.status.in_(OPEN),
            )
        ).all()

    for row_id in open_ids:
        _check(factory, ws, row_id, now, report)
    for role, request_type in KINDS:
        _ask(factory, ws, business_id, role, request_type, now, report)
    log.info("sat sync pass", extra={"business_id": business_id, **report.as_dict()})
    return report


def _check(
    factory: sessionmaker[Session],
    ws: SatWs,
    row_id: int,
    now: dt.datetime,
    report: SyncReport,
) -> None:
    with transaction(factory) as session:
        row = session.get(SatDownloadRequest, row_id)
        assert row is not None
        request_id, business_id = row.request_id, row.business_id
        request_type, done = row.request_type, list(row.packages.get("done", []))
    verification = ws.verify(request_id)

    if verification.state in STATE_IN_PROGRESS:
        with transaction(factory) as session:
            row = session.get(SatDownloadRequest, row_id)
            assert row is not None
            row.status = "in_progress"
            row.updated_at = now
        report.in_progress += 1
        return
    if verification.state != STATE_FINISHED:
        state = STATE_NAMES.get(verification.state, str(verification.state))
        reason = verification.message or f"solicitud {state}"
        _fail(factory, row_id, reason, now)
        report.failed += 1
        return

    for package in verification.packages:
        if package in done:
            continue
        data = ws.download(package)
        if request_type == TYPE_CFDI:
            imported = import_sources(
                factory,
                business_id=business_id,
                sources=[(f"{package}.zip", data)],
                now=now,
                actor="sat",
                channel="sat",
            )
            report.imported += imported.imported
            report.duplicates += imported.duplicates
            report.rejected += imported.rejected
        else:
            with transaction(factory) as session:
                report.cancelled += apply_metadata(
                    session, business_id=business_id, package=data, now=now
                )
        done.append(package)
        report.packages += 1
        with transaction(factory) as session:
            row = session.get(SatDownloadRequest, row_id)
            assert row is not None
            row.packages = {"done": list(done)}
            row.updated_at = now

    with transaction(factory) as session:
        row = session.get(SatDownloadRequest, row_id)
        assert row is not None
        row.status = "finished"
        row.message = verification.message or None
        row.updated_at = now
    report.finished += 1


def _ask(
    factory: sessionmaker[Session],
    ws: SatWs,
    business_id: int,
    role: str,
    request_type: str,
    now: dt.datetime,
    report: SyncReport,
) -> None:
    with transaction(factory) as session:
        rows = session.scalars(
            select(SatDownloadRequest).where(
                SatDownloadRequest.business_id == business_id,
                SatDownloadRequest.role == role,
                SatDownloadRequest.request_type == request_type,
            )
        ).all()
        if any(r.status in OPEN for r in rows):
            return
        ends = [as_utc(r.period_end) for r in rows if r.status == "finished"]
        start = max(ends) if ends else now - LOOKBACK
    if now - start < MIN_PERIOD:
        return

    answer = ws.request(role=role, request_type=request_type, start=start, end=now)
    if answer.code == ACCEPTED and answer.request_id:
        status, request_id = "requested", answer.request_id
        report.requested += 1
    elif answer.code == NO_DATA:
        status = "finished"
        request_id = (
            answer.request_id
            or f"sin-datos:{role}:{request_type}:{int(now.timestamp())}"
        )
    else:
        status = "failed"
        request_id = (
            answer.request_id or f"rechazo:{role}:{request_type}:{int(now.timestamp())}"
        )
        report.failed += 1
    with transaction(factory) as session:
        row = SatDownloadRequest(
            business_id=business_id,
            request_id=request_id,
            role=role,
            request_type=request_type,
            period_start=start,
            period_end=now,
            status=status,
            message=answer.message[:500] or None,
            packages={},
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        if status == "failed":
            _notify(session, row, answer.message or f"código {answer.code}", now)


def _fail(
    factory: sessionmaker[Session], row_id: int, reason: str, now: dt.datetime
) -> None:
    with transaction(factory) as session:
        row = session.get(SatDownloadRequest, row_id)
        assert row is not None
        row.status = "failed"
        row.message = reason[:500]
        row.updated_at = now
        _notify(session, row, reason, now)


def _notify(
    session: Session, row: SatDownloadRequest, reason: str, now: dt.datetime
) -> None:
    what = "emitidas" if row.role == ROLE_ISSUED else "recibidas"
    kind = "facturas" if row.request_type == TYPE_CFDI else "datos de facturas"
    notify_owner(
        session,
        business_id=row.business_id,
        kind="sync_failed",
        facts={"what": f"{kind} {what}", "reason": reason},
        dedupe_key=f"sat-sync-failed:{row.business_id}:{row.request_id}",
        now=now,
    )


def apply_metadata(
    session: Session, *, business_id: int, package: bytes, now: dt.datetime
) -> int:
    """Cancellations listed in a metadata package, applied; returns how many."""
    cancelled = 0
    for uuid, effect in _cancelled_uuids(package):
        if effect == "P":
            cancelled += _complement_cancelled(session, business_id, uuid, now)
            continue
        invoice = session.scalar(
            select(Invoice).where(
                Invoice.business_id == business_id, Invoice.uuid == uuid
            )
        )
        if invoice is None or invoice.status == InvoiceStatus.CANCELLED:
            continue
        pending = session.scalar(
            select(SatCancellation).where(
                SatCancellation.business_id == business_id,
                SatCancellation.uuid == uuid,
                SatCancellation.status == CancelStatus.PENDING_ACCEPTANCE,
            )
        )
        if pending is not None:
            record_outcome(
                session, business_id=business_id, uuid=uuid, accepted=True, now=now
            )
        else:
            cancel_invoice(
                session, invoice=invoice, actor="sat", channel="sat", now=now
            )
        cancelled += 1
    return cancelled


def _complement_cancelled(
    session: Session, business_id: int, uuid: str, now: dt.datetime
) -> int:
    payments = session.scalars(
        select(Payment).where(
            Payment.business_id == business_id,
            Payment.complement_uuid == uuid,
            Payment.reversed_at.is_(None),
        )
    ).all()
    for payment in payments:
        if payment.source == "sat":
            # The payment was known only through that complement.
            reverse_payment(
                session, payment=payment, actor="sat", channel="sat", now=now
            )
        else:
            payment.complement_status = ComplementStatus.PENDING
            payment.complement_uuid = None
    return 1 if payments else 0


def _cancelled_uuids(package: bytes) -> list[tuple[str, str]]:
    """(UUID, effect) of every row with Estatus 0 in the metadata text files."""
    found: list[tuple[str, str]] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile as exc:
        raise CobraError("El paquete de metadatos del SAT no es un zip.") from exc
    for name in archive.namelist():
        if not name.lower().endswith(".txt"):
            continue
        lines = archive.read(name).decode("utf-8-sig", "replace").splitlines()
        if not lines:
            continue
        header = [h.strip().lower() for h in lines[0].split("~")]
        try:
            at_uuid = header.index("uuid")
            at_status = header.index("estatus")
        except ValueError:
            continue
        at_effect = (
            header.index("efectocomprobante") if "efectocomprobante" in header else None
        )
        for line in lines[1:]:
            cells = line.split("~")
            if len(cells) <= max(at_uuid, at_status):
                continue
            if cells[at_status].strip() == "0":
                effect = cells[at_effect].strip() if at_effect is not None else "I"
                found.append((cells[at_uuid].strip().upper(), effect))
    return found
