"""`cobra serve --demo` really starts, seeds once and answers /healthz."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import build_runtime
from bot.settings import Settings
from storage.db import make_engine

ROOT = str(Path(__file__).resolve().parents[2])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                process.stdout.read().decode() if process.stdout else ""
            )
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("cobra serve did not answer in 60 s")


def test_serve_demo_starts_and_seeds_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "PYTHONPATH": ROOT,
    }
    for _ in range(2):
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bot.cli import main; main()",
                "serve",
                "--demo",
                "--port",
                str(port),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            response = _wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
            assert response.status_code == 200
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0].decode()
        assert "DNO150301QKA" in output
    assert "existente" in output  # the second start reuses the demo business


def test_healthz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    with TestClient(create_app(runtime=runtime)) as client:
        assert client.get("/healthz").status_code == 200
        runtime.db = make_engine("postgresql+psycopg://nadie@127.0.0.1:1/nada")
        assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize("bad", ["postgresql+psycopg://nadie@127.0.0.1:1/nada"])
def test_cli_reports_an_unreachable_database_in_one_line(
    bad: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "db", "upgrade"],
        env={**os.environ, "DATABASE_URL": bad, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no se pudo usar la base de datos")
    assert "Traceback" not in result.stderr
