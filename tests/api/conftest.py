"""Fixtures for the API tests: the API mounted at /api/v1 on each backend's test
database, a business with a key, and builders of keys and businesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.api import PREFIX, build_api
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from flows.apikeys import create_api_key
from tests.builders import make_business
from tests.conftest import NOW, Db

PUBLIC_BASE_URL = "https://cobra.example.mx"


@dataclass
class Api:
    """The API client and the runtime under it; `auth(token)` builds headers."""

    client: TestClient
    runtime: Runtime
    db: Db

    def new_key(self, rfc: str, name: str = "Otro negocio") -> tuple[int, str]:
        """A business (made when new) and a fresh key for it: (business id, token)."""
        with self.db.session() as session, session.begin():
            from storage import repo

            business = repo.business_by_rfc(session, rfc=rfc)
            if business is None:
                business = make_business(
                    session,
                    name=name,
                    rfc=rfc,
                    owner_whatsapp=None,
                    owner_email=f"dueno@{rfc.lower()}.mx",
                )
            issued = create_api_key(
                session,
                business=business,
                name="pruebas",
                actor="t",
                channel="t",
                now=NOW,
            )
            return business.id, issued.token


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def runtime(db: Db) -> Iterator[Runtime]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db.url,
        public_base_url=PUBLIC_BASE_URL,
        secrets_key=SecretStr("clave-de-pruebas"),
    )
    built = build_runtime(settings, migrate=False)
    yield built
    if built.db is not db.engine:
        built.db.dispose()


@pytest.fixture
def api(db: Db, runtime: Runtime) -> Iterator[Api]:
    app = FastAPI()
    app.mount(PREFIX, build_api(runtime, clock=lambda: NOW))
    with TestClient(app, base_url="http://testserver") as client:
        yield Api(client, runtime, db)


@pytest.fixture
def keyed(api: Api) -> tuple[int, str]:
    """The main test business (FTU010101AB1) and a key for it."""
    return api.new_key("FTU010101AB1", "Ferretería La Tuerca")


Url = Callable[[str], str]


def url(path: str) -> str:
    return PREFIX + path
