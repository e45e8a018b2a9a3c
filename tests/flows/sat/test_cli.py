"""`cobra sat credentials`, `cobra invoice issue` and `cobra sat sync` end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Db
from tests.fakes.pac import running_fake_pac
from tests.fakes.sat_ws import running_fake_sat_ws
from tests.flows.sat.certs import Credential, pac_credential
from tests.flows.sat.conftest import BUSINESS_RFC


def test_credentials_issue_and_sync(
    cobra: Callable[..., Result],
    tmp_path: Path,
    csd: Credential,
    fiel: Credential,
    db: Db,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, data in {
        "fiel.cer": fiel.certificate,
        "fiel.key": fiel.key,
        "csd.cer": csd.certificate,
        "csd.key": csd.key,
    }.items():
        (tmp_path / name).write_bytes(data)
    assert (
        cobra(
            f"business create --name 'La Tuerca' --rfc {BUSINESS_RFC} "
            "--owner-whatsapp +525511112222"
        ).exit_code
        == 0
    )

    result = cobra(
        f"sat credentials --business {BUSINESS_RFC} --fiel-cer {tmp_path}/fiel.cer "
        f"--fiel-key {tmp_path}/fiel.key --csd-cer {tmp_path}/csd.cer "
        f"--csd-key {tmp_path}/csd.key --password-stdin",
        input=fiel.password + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "FIEL guardada" in result.output and fiel.password not in result.output

    wrong = cobra(
        f"sat credentials --business {BUSINESS_RFC} --fiel-cer {tmp_path}/fiel.cer "
        f"--fiel-key {tmp_path}/fiel.key --password-stdin",
        input="equivocada\n",
    )
    assert wrong.exit_code == 1 and "contraseña" in wrong.output

    with running_fake_pac(pac_credential().signer()) as fake_pac:
        monkeypatch.setenv("PAC_BASE_URL", fake_pac.base_url)
        monkeypatch.setenv("PAC_USER", "u")
        monkeypatch.setenv("PAC_PASSWORD", "p")
        missing = cobra(
            f"invoice issue --business {BUSINESS_RFC} --customer AIM050610RT2 "
            "--amount 10000 --concept 'Consultoría' --plus-iva"
        )
        assert missing.exit_code == 1 and "cliente" in missing.output

    with running_fake_sat_ws() as fake_ws:
        monkeypatch.setenv("SAT_WS_BASE_URL", fake_ws.base_url)
        import bot.cli

        bot.cli._runtime = None
        synced = cobra(f"sat sync --business {BUSINESS_RFC} --json")
        assert synced.exit_code == 0, synced.output
        assert '"requested": 4' in synced.output
