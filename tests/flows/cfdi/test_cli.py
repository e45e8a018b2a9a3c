"""`cobra import-cfdi` end to end: counts, JSON, rejections and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.cli
from bot.runtime import build_runtime
from bot.settings import Settings
from tests.builders import make_business
from tests.cfdi_factory import BUSINESS, Paid, invoice, new_uuid, payment, zip_of
from tests.conftest import Db


@pytest.fixture
def cobra(db: Db, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI on the test database (its schema already built, so no migrations)."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    try:
        bot.cli._register_commands()
    except ImportError:
        from bot.commands import importing

        importing.register(bot.cli.cli)
    bot.cli._runtime = build_runtime(Settings(database_url=db.url), migrate=False)
    with db.session() as s, s.begin():
        make_business(s, rfc=BUSINESS.rfc)
    yield CliRunner()
    bot.cli._runtime.db.dispose()
    bot.cli._runtime = None


def test_import_prints_counts_and_rejections(cobra: CliRunner, tmp_path: Path) -> None:
    target = new_uuid()
    folder = tmp_path / "xml"
    folder.mkdir()
    (folder / "f.xml").write_bytes(invoice(uuid=target))
    (folder / "roto.xml").write_bytes(b"no soy xml")
    package = tmp_path / "pagos.zip"
    package.write_bytes(zip_of({"p/pago.xml": payment(paid=[Paid(target, "160.00")])}))

    result = cobra.invoke(
        bot.cli.cli,
        ["import-cfdi", "--business", BUSINESS.rfc, str(folder), str(package)],
    )

    assert result.exit_code == 0, result.output
    assert "Importados: 2" in result.output
    assert "Rechazados: 1" in result.output
    assert "Pagos aplicados: 1" in result.output
    assert f"{folder / 'roto.xml'}: no es un XML válido" in result.output


def test_json_output_and_reimport(cobra: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    path.write_bytes(invoice())
    args = ["import-cfdi", "--business", BUSINESS.rfc.lower(), "--json", str(path)]

    first = json.loads(cobra.invoke(bot.cli.cli, args).output)
    second = json.loads(cobra.invoke(bot.cli.cli, args).output)

    assert (first["imported"], first["duplicates"], first["rejected"]) == (1, 0, 0)
    assert (second["imported"], second["duplicates"]) == (0, 1)
    assert second["rejections"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--business", "NOE010101AA1", "{path}"], "no existe un negocio"),
        (["--business", BUSINESS.rfc, "{missing}"], "no existe la ruta"),
    ],
)
def test_user_errors_are_one_line_with_status_1(
    cobra: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "f.xml"
    path.write_bytes(invoice())
    argv = [
        a.format(path=path, missing=tmp_path / "no-hay.zip")
        for a in ["import-cfdi", *args]
    ]

    result = cobra.invoke(bot.cli.cli, argv)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.output


def test_no_paths_is_a_usage_error(cobra: CliRunner) -> None:
    result = cobra.invoke(bot.cli.cli, ["import-cfdi", "--business", BUSINESS.rfc])
    assert result.exit_code == 2
