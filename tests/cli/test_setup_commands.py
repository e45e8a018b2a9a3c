"""`cobra business|user|contact` as the contract says, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import Result

from storage.models import Business, Contact, User
from tests.builders import make_contact, make_invoice
from tests.conftest import Db


def test_business_create_update_and_user_add(
    cobra: Callable[..., Result], db: Db
) -> None:
    result = cobra(
        "business create --name 'Tortillería Doña Lupe' --rfc TDL120304AB5 "
        "--owner-whatsapp +5215512345678 --owner-telegram 4242"
    )
    assert result.exit_code == 0, result.output
    assert "Negocio creado" in result.output
    assert "/start " in result.output

    again = cobra("business create --name Otra --rfc TDL120304AB5 --owner-email a@b.mx")
    assert again.exit_code == 1
    assert "Ya existe un negocio" in again.stderr
    assert "Traceback" not in again.output + again.stderr

    updated = cobra(
        "business update --rfc tdl120304ab5 --clabe 012180001234567899 "
        "--default-terms-days 45 --timezone America/Monterrey"
    )
    assert updated.exit_code == 0, updated.stderr
    plans = cobra(
        "business update --rfc TDL120304AB5 --plans-on-request on --max-instalments 4"
    )
    assert plans.exit_code == 0, plans.stderr
    too_many = cobra("business update --rfc TDL120304AB5 --max-instalments 40")
    assert too_many.exit_code == 1 and "de 2 a 24 pagos" in too_many.stderr
    bad = cobra("business update --rfc TDL120304AB5 --clabe 012180001234567890")
    assert bad.exit_code == 1 and "dígito verificador" in bad.stderr

    staff = cobra("user add --business TDL120304AB5 --role staff --telegram 777")
    assert staff.exit_code == 0 and "/start " in staff.output

    with db.session() as s:
        business = s.query(Business).one()
        assert business.default_terms_days == 45
        assert business.timezone == "America/Monterrey"
        assert business.plans_on_request and business.plans_max_instalments == 4
        owner = s.query(User).filter_by(role="owner").one()
        # The same person with or without the mobile 1.
        assert owner.whatsapp == "+525512345678"


def test_usage_and_user_errors_have_clean_exit_codes(
    cobra: Callable[..., Result],
) -> None:
    assert cobra("business create --name X").exit_code == 2
    bad_rfc = cobra("business create --name X --rfc 123 --owner-email a@b.mx")
    assert bad_rfc.exit_code == 1
    assert bad_rfc.stderr.strip() == "Error: «123» no es un RFC válido."
    missing = cobra("contact show --business NOP010101AAA --rfc AAA010101AAA")
    assert missing.exit_code == 1 and "no existe un negocio" in missing.stderr


def test_contact_update_and_show_json(cobra: Callable[..., Result], db: Db) -> None:
    cobra("business create --name Nopal --rfc DNO150301QKA --owner-email d@n.mx")
    cobra("business update --rfc DNO150301QKA --stp-account-prefix 1234")
    with db.session() as s, s.begin():
        business = s.query(Business).one()
        acme = make_contact(s, business, rfc="AIM050610RTA", name="Acme")
        make_invoice(s, acme, total="1160.00")
        make_invoice(s, acme, total="500.00", currency="USD")

    result = cobra(
        "contact update --business DNO150301QKA --rfc AIM050610RTA "
        "--whatsapp '55 1234 5678' --email Pagos@Acme.mx --terms-days 15 "
        "--whatsapp-reminders on"
    )
    assert result.exit_code == 0, result.stderr
    bad = cobra(
        "contact update --business DNO150301QKA --rfc AIM050610RTA --email nada"
    )
    assert bad.exit_code == 1 and "correo" in bad.stderr

    shown = cobra("contact show --business DNO150301QKA --rfc AIM050610RTA --json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.output)
    assert data["emails"] == ["pagos@acme.mx"]
    assert data["whatsapp"] == "+525512345678"
    assert data["whatsapp_reminders"] is True
    assert data["balance"]["MXN"] == {
        "total": "1160.00",
        "overdue": "1160.00",
        "invoices": 1,
    }
    assert data["balance"]["USD"]["total"] == "500.00"
    assert data["virtual_clabe"].startswith("6461801234")
    assert len(data["virtual_clabe"]) == 18
    assert data["portal_url"].startswith("https://cobra.test/portal/")

    # The link is stable until rotated, and only its hash is stored.
    again = json.loads(
        cobra("contact show --business DNO150301QKA --rfc AIM050610RTA --json").output
    )
    assert again["portal_url"] == data["portal_url"]
    token = data["portal_url"].rsplit("/", 1)[1]
    with db.session() as s:
        contact = s.query(Contact).filter_by(rfc="AIM050610RTA").one()
        assert contact.portal_token_hash and token not in contact.portal_token_hash

    text = cobra("contact show --business DNO150301QKA --rfc AIM050610RTA")
    assert "Saldo MXN: $1,160.00" in text.output
    assert "Saldo USD: US$500.00" in text.output
