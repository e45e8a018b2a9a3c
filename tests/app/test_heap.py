"""A server process keeps what start-up left out of the garbage collector's way;
an app built for a test does not."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings


def _runtime(tmp_path: Path) -> Runtime:
    return build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"))


def test_a_server_freezes_its_start_up_heap(tmp_path: Path) -> None:
    app = create_app(runtime=_runtime(tmp_path), freeze_heap=True)
    try:
        assert gc.get_freeze_count() == 0
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 0
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()


def test_an_app_for_tests_leaves_the_collector_alone(tmp_path: Path) -> None:
    with TestClient(create_app(runtime=_runtime(tmp_path))) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
