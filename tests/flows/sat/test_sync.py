"""The SAT sync against a loopback fake of the bulk-download services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from flows.render import render_text
from flows.sat.sync import SyncReport, sync_business
from storage.models import Invoice, OutboundMessage, SatDownloadRequest
from tests import cfdi_factory as cf
from tests.builders import NOW
from tests.conftest import Db
from tests.fakes.sat_ws import FakeSatWs, Planned, running_fake_sat_ws
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import SECRETS_KEY, setup_business


@pytest.fixture
def fake_ws() -> Iterator[FakeSatWs]:
    with running_fake_sat_ws() as fake:
        yield fake


def _sync(db: Db, fake_ws: FakeSatWs, business_id: int, now: dt.datetime) -> SyncReport:
    return sync_business(
        db.factory,
        business_id=business_id,
        secrets_key=SECRETS_KEY,
        base_url=fake_ws.base_url,
        now=now,
    )


def test_in_progress_then_downloaded_and_cancelled(
    db: Db, csd: Credential, fiel: Credential, fake_ws: FakeSatWs
) -> None:
    issued = cf.invoice(uuid=cf.new_uuid("sync-1"), folio="501", total="11600.00")
    gone = cf.invoice(uuid=cf.new_uuid("sync-2"), folio="502", total="2320.00")
    bought = cf.invoice(
        issuer=cf.SUPPLIER, receiver=cf.BUSINESS, uuid=cf.new_uuid("sync-3")
    )
    fake_ws.packages = {
        "PKG-ISSUED": cf.zip_of({"a.xml": issued, "b.xml": gone}),
        "PKG-RECEIVED": cf.zip_of({"c.xml": bought}),
        "PKG-META": cf.zip_of(
            {
                "meta.txt": (
                    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~"
                    "FechaEmision~FechaCertificacionSat~Monto~EfectoComprobante~"
                    "Estatus~FechaCancelacion\n"
                    f"{cf.new_uuid('sync-1')}~FTU010101AB1~X~AIN850101AB2~Y~PAC~"
                    "2026-11-01 10:30:00~2026-11-01 10:31:00~11600.00~I~1~\n"
                    f"{cf.new_uuid('sync-2')}~FTU010101AB1~X~AIN850101AB2~Y~PAC~"
                    "2026-11-01 10:30:00~2026-11-01 10:31:00~2320.00~I~0~"
                    "2026-11-05 09:00:00\n"
                ).encode()
            }
        ),
    }
    fake_ws.plan = {
        ("issued", "CFDI"): Planned(states=[2, 3], packages=["PKG-ISSUED"]),
        ("received", "CFDI"): Planned(states=[3], packages=["PKG-RECEIVED"]),
        ("issued", "Metadata"): Planned(states=[3], packages=["PKG-META"]),
        ("received", "Metadata"): Planned(states=[3], packages=[]),
    }
    with db.session() as session:
        business, _ = setup_business(session, csd, fiel)
        session.commit()
        business_id = business.id

    first = _sync(db, fake_ws, business_id, NOW)
    assert first.requested == 4 and first.packages == 0

    # Metadata runs before the issued CFDIs arrive: nothing to cancel yet.
    second = _sync(db, fake_ws, business_id, NOW + dt.timedelta(hours=2))
    assert second.in_progress == 1 and second.finished == 3
    assert second.imported == 1 and second.cancelled == 0

    # Meanwhile the next metadata request (from where the first ended) lists the
    # cancellation again, now of an invoice in the books: the balance follows.
    third = _sync(db, fake_ws, business_id, NOW + dt.timedelta(hours=4))
    assert third.imported == 2 and third.cancelled == 1
    with db.session() as session:
        statuses = dict(session.query(Invoice.folio, Invoice.status).all())
        assert statuses == {"501": "pending", "502": "cancelled", "1001": "pending"}
        periods = sorted(
            (r.period_start, r.period_end)
            for r in session.query(SatDownloadRequest).filter_by(
                role="issued", request_type="Metadata"
            )
        )
        assert len(periods) == 3 and periods[1][0] == periods[0][1]


def test_rejected_request_told_to_owner(
    db: Db, csd: Credential, fiel: Credential, fake_ws: FakeSatWs
) -> None:
    fake_ws.plan = {
        ("issued", "CFDI"): Planned(
            request_code="5002",
            request_message="Se han agotado las solicitudes de por vida",
        ),
        ("received", "CFDI"): Planned(states=[5], message="Solicitud rechazada"),
    }
    with db.session() as session:
        business, _ = setup_business(session, csd, fiel)
        session.commit()
        business_id = business.id

    first = _sync(db, fake_ws, business_id, NOW)
    assert first.failed == 1 and first.requested == 3
    second = _sync(db, fake_ws, business_id, NOW + dt.timedelta(hours=2))
    assert second.failed == 2  # the received request, and the issued one asked again
    with db.session() as session:
        rows = session.query(OutboundMessage).all()
        assert {m.template for m in rows} == {"sat_notice"}
        texts = [render_text("messages/sat_notice.txt.j2", m.payload) for m in rows]
        assert any("agotado las solicitudes" in t for t in texts)
        assert any("Solicitud rechazada" in t for t in texts)
        assert all("SAT" in t for t in texts)
