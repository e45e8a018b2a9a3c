"""`cobra apikey`, `cobra webhook` and `cobra contact import`: typed as people do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from openpyxl import Workbook

from tests.builders import make_business, make_contact
from tests.conftest import Db


def _business(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        make_contact(session, business, rfc="ACM010101AB1", name="Acme")


def test_apikey_create_list_revoke(db: Db, cobra: Callable[..., Result]) -> None:
    _business(db)
    created = cobra("apikey create --business FTU010101AB1 --name ERP")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("cobra_")
    prefix = token.split("_")[1]

    listed = cobra("apikey list --business FTU010101AB1")
    assert prefix in listed.stdout and "activa" in listed.stdout
    assert token not in listed.stdout
    assert cobra(f"apikey revoke --business FTU010101AB1 {prefix}").exit_code == 0
    assert "revocada" in cobra("apikey list --business FTU010101AB1").stdout
    missing = cobra("apikey revoke --business FTU010101AB1 nohay")
    assert missing.exit_code == 1


def test_webhook_add_and_list(db: Db, cobra: Callable[..., Result]) -> None:
    _business(db)
    added = cobra(
        "webhook add --business FTU010101AB1 --event invoice.paid "
        "https://erp.example.mx/h"
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("whsec_")
    assert "invoice.paid" in cobra("webhook list --business FTU010101AB1").stdout
    assert "Sin entregas" in cobra("webhook failures --business FTU010101AB1").stdout
    bad = cobra("webhook add --business FTU010101AB1 ftp://x")
    assert bad.exit_code == 1


def test_contact_import_csv_reports_bad_lines(
    db: Db, cobra: Callable[..., Result], tmp_path: Path
) -> None:
    _business(db)
    sheet = tmp_path / "clientes.csv"
    sheet.write_text(
        "RFC,Nombre,Correo,WhatsApp,Días crédito,Recordatorios WhatsApp\n"
        "ACM010101AB1,,cxc@acme.mx,5512345678,45,sí\n"
        "NUE020202AB2,Nueva SA,pagos@nueva.mx,,,\n"
        "MALO,Malo,,,,\n"
        "SIN030303AB3,,,,,\n"
        "ACM010101AB1,,no-es-correo,,,\n",
        encoding="utf-8",
    )
    result = cobra(["contact", "import", "--business", "FTU010101AB1", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "1 nuevos, 1 actualizados, 3 con errores" in result.stdout
    assert "línea 4 (MALO)" in result.stdout
    assert "línea 5 (SIN030303AB3)" in result.stdout
    assert "línea 6 (ACM010101AB1)" in result.stdout

    shown = cobra("contact show --business FTU010101AB1 --rfc ACM010101AB1 --json")
    assert "cxc@acme.mx" in shown.stdout


def test_contact_import_xlsx(
    db: Db, cobra: Callable[..., Result], tmp_path: Path
) -> None:
    _business(db)
    book = Workbook()
    sheet = book.active
    sheet.append(["rfc", "correo", "dias_credito"])
    sheet.append(["ACM010101AB1", "xl@acme.mx", 30])
    sheet.append(["ACM010101AB1", None, "muchos"])
    path = tmp_path / "clientes.xlsx"
    book.save(path)
    result = cobra(f"contact import --business FTU010101AB1 --json {path}")
    assert result.exit_code == 0, result.output
    assert '"updated": 1' in result.stdout
    assert '"line": 3' in result.stdout
