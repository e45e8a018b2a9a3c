"""`cobra reminders ...` and `cobra outbox deliver` on both databases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import select

from storage.models import Business, Contact, OutboundMessage, ReminderSet
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db


def seed(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, rfc="ACM010101AB1", emails="pagos@acme.mx")
        make_invoice(
            s, acme, issue_date=dt.date(2026, 11, 1), due_date=dt.date(2026, 12, 1)
        )
        make_contact(s, business, rfc="BET010101AB1", name="Beta", emails="b@beta.mx")


def test_run_then_deliver_without_credentials(
    cobra: Callable[..., Result], db: Db
) -> None:
    seed(db)
    planned = cobra("reminders run --now 2026-12-01T09:00 --json")
    assert planned.exit_code == 0, planned.output
    counts = json.loads(planned.output)
    assert counts["messages"] == 1 and counts["customers"] == 1

    delivered = cobra("outbox deliver --now 2026-12-01T09:05 --json")
    assert delivered.exit_code == 0, delivered.output
    assert json.loads(delivered.output)["sent"] == 1
    with db.session() as s:
        row = s.scalars(select(OutboundMessage)).one()
        assert row.provider_id == f"log-{row.id}"

    text = cobra("reminders run --now 2026-12-01T09:30")
    assert text.exit_code == 0 and "Recordatorios: 0 mensajes" in text.output


def test_sets_create_assign_list(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    created = cobra(
        [
            "reminders", "set", "create", "--business", "FTU010101AB1",
            "--name", "Suave", "--rules", "due+0, due+10", "--channels", "email",
            "--statement-days", "0", "--wording", "Un recordatorio amable.",
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assigned = cobra(
        "reminders set assign --business FTU010101AB1 --set suave "
        "--customer ACM010101AB1"
    )
    assert assigned.exit_code == 0 and "1 clientes" in assigned.output
    listed = cobra("reminders set list --business FTU010101AB1 --json")
    sets = {s["name"]: s for s in json.loads(listed.output)["sets"]}
    assert sets["Suave"]["rules"] == ["due+0", "due+10"]
    assert sets["Suave"]["customers"] == 1 and sets["Estándar"]["customers"] == 1

    with db.session() as s:
        suave = s.scalars(select(ReminderSet).where(ReminderSet.name == "Suave")).one()
        assert suave.statement_every_days == 0
        assert all(r.email and not r.whatsapp for r in suave.rules)

    cobra("reminders run --now 2026-12-11T09:00")
    with db.session() as s:
        [row] = s.scalars(select(OutboundMessage)).all()
        assert row.payload["wording"] == "Un recordatorio amable."


def test_pause_and_resume(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    paused = cobra("reminders pause --business FTU010101AB1")
    assert paused.exit_code == 0 and "en pausa" in paused.output
    one = cobra("reminders pause --business FTU010101AB1 --customer ACM010101AB1")
    assert one.exit_code == 0
    cobra("reminders resume --business FTU010101AB1")
    with db.session() as s:
        assert not s.scalars(select(Business)).one().reminders_paused
        acme = s.scalars(select(Contact).where(Contact.rfc == "ACM010101AB1")).one()
        assert not acme.reminders_enabled


def test_bad_input_is_one_line(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    bad_rules = cobra(
        "reminders set create --business FTU010101AB1 --name X --rules mañana"
    )
    assert bad_rules.exit_code == 1 and "no es una regla" in bad_rules.output
    no_set = cobra("reminders set assign --business FTU010101AB1 --set Nada --all")
    assert no_set.exit_code == 1 and "no existe el conjunto" in no_set.output
    bad_now = cobra("outbox deliver --now ayer")
    assert bad_now.exit_code == 1 and "ISO 8601" in bad_now.output


def test_digest_on_and_off(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    on = cobra("reminders digest --business FTU010101AB1 on")
    assert on.exit_code == 0 and "10:00" in on.output
    with db.session() as s:
        assert s.scalars(select(Business)).one().owner_digest
    assert cobra("reminders digest --business FTU010101AB1 off").exit_code == 0
    with db.session() as s:
        assert not s.scalars(select(Business)).one().owner_digest
