"""API keys, idempotency records and webhook signatures, below the HTTP layer."""

from __future__ import annotations

import datetime as dt

import pytest

from flows import apikeys, idempotency, webhooks_out
from flows.errors import Conflict
from storage.models import OutboundMessage
from tests.builders import make_business
from tests.conftest import NOW, Db


def test_key_is_shown_once_kept_hashed_and_revocable(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        issued = apikeys.create_api_key(
            session, business=business, name="ERP", actor="t", channel="t", now=NOW
        )
        assert issued.token.startswith("cobra_")
        assert issued.token not in issued.key.key_hash
        assert apikeys.authenticate(session, token=issued.token, now=NOW) is not None
        assert apikeys.authenticate(session, token=issued.token + "x", now=NOW) is None

        apikeys.revoke_api_key(
            session,
            business=business,
            prefix=issued.key.prefix,
            actor="t",
            channel="t",
            now=NOW,
        )
        assert apikeys.authenticate(session, token=issued.token, now=NOW) is None


def test_idempotency_replays_and_refuses_another_body(db: Db) -> None:
    first = idempotency.request_hash("POST", "/payments", b'{"a": 1}')
    other = idempotency.request_hash("POST", "/payments", b'{"a": 2}')
    with db.session() as session, session.begin():
        business = make_business(session)
        assert (
            idempotency.lookup(
                session, business_id=business.id, key="k1", request_hash=first
            )
            is None
        )
        idempotency.remember(
            session,
            business_id=business.id,
            key="k1",
            request_hash=first,
            status_code=201,
            body={"id": 7},
            now=NOW,
        )
        stored = idempotency.lookup(
            session, business_id=business.id, key="k1", request_hash=first
        )
        assert stored == idempotency.StoredResponse(201, {"id": 7})
        with pytest.raises(Conflict):
            idempotency.lookup(
                session, business_id=business.id, key="k1", request_hash=other
            )


def test_emit_queues_one_row_per_endpoint_and_event_key(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        for url in ("https://erp.example.mx/hook", "https://shop.example.mx/hook"):
            webhooks_out.add_endpoint(
                session,
                business=business,
                url=url,
                events=None,
                actor="t",
                channel="t",
                now=NOW,
            )
        webhooks_out.add_endpoint(
            session,
            business=business,
            url="https://only-disputes.example.mx/",
            events=["dispute.opened"],
            actor="t",
            channel="t",
            now=NOW,
        )
        first = webhooks_out.emit_event(
            session, business.id, "payment.recorded", {"x": "1"}, NOW, key="payment:1"
        )
        again = webhooks_out.emit_event(
            session, business.id, "payment.recorded", {"x": "1"}, NOW, key="payment:1"
        )
        rows = session.query(OutboundMessage).all()
    assert first == again
    assert len(rows) == 2
    assert {r.payload["event_id"] for r in rows} == {first}


def test_signature_verifies_and_rejects_a_stale_or_changed_body() -> None:
    body = b'{"id": "evt_1"}'
    stamp = int(NOW.timestamp())
    signature = webhooks_out.sign("whsec_x", stamp, body)
    ok = webhooks_out.verify(
        "whsec_x", timestamp=str(stamp), body=body, signature=signature, now=NOW
    )
    assert ok
    assert not webhooks_out.verify(
        "whsec_x", timestamp=str(stamp), body=body + b" ", signature=signature, now=NOW
    )
    later = NOW + dt.timedelta(hours=1)
    assert not webhooks_out.verify(
        "whsec_x", timestamp=str(stamp), body=body, signature=signature, now=later
    )
