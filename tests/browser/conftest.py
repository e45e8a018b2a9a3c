"""A live portal for the browser tests: the web app served by uvicorn on a free
local port over a SQLite file, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot import portal
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import stamp_head
from storage.models import Base
from tests.conftest import NOW

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveSite:
    base_url: str
    runtime: Runtime


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[LiveSite]:
    import uvicorn

    url = f"sqlite:///{tmp_path / 'cobra.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    stamp_head(engine)
    engine.dispose()
    port = _free_port()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        public_base_url=f"http://127.0.0.1:{port}",
        secrets_key=SecretStr("browser-test-secret"),
    )
    runtime = build_runtime(settings, migrate=False)
    runtime.extras[portal.CLOCK] = lambda: NOW
    runtime.extras[portal.MEDIA_DIR] = tmp_path / "media"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield LiveSite(f"http://127.0.0.1:{port}", runtime)
    server.should_exit = True
    thread.join(timeout=10)
    runtime.db.dispose()


@pytest.fixture
def phone() -> Iterator[Any]:
    """A phone-sized page in headless Chromium; skipped when Chromium is absent."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            java_script_enabled=False,
            accept_downloads=True,
            locale="es-MX",
        )
        yield context.new_page()
        context.close()
        browser.close()
