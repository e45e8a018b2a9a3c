"""The hourly checks of `cobra serve` act on real rows and act once a day."""

from __future__ import annotations

import datetime as dt

from bot.runtime import build_runtime
from bot.scheduler import run_daily_checks, run_sat_sync
from bot.settings import Settings
from storage.models import OutboundMessage, Promise
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db

NOON = dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.UTC)


def test_daily_checks_follow_up_a_broken_promise_once(db: Db) -> None:
    runtime = build_runtime(Settings(database_url=db.url), migrate=False)
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, name="Acme SA", emails="pagos@acme.mx")
        invoice = make_invoice(s, acme, total="500.00")
        s.add(
            Promise(
                business_id=business.id,
                contact_id=acme.id,
                invoice_id=invoice.id,
                promised_on=dt.date(2026, 12, 1),
                status="open",
                created_at=NOON - dt.timedelta(days=5),
            )
        )
    first = run_daily_checks(runtime, now=NOON)
    second = run_daily_checks(runtime, now=NOON + dt.timedelta(hours=1))
    assert first["broken_promises"] == 1 and second["broken_promises"] == 0
    with db.session() as s:
        assert s.query(Promise).one().status == "broken"
        queued = s.query(OutboundMessage).all()
        assert {m.recipient for m in queued} >= {"pagos@acme.mx"}
    assert run_sat_sync(runtime, now=NOON) == 0  # nobody uploaded an e.firma
    runtime.db.dispose()
