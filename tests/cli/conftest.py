"""Run `cobra` in-process against the test database, as a person would type it."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

import bot.cli
from bot.cli import _register_commands, cli
from tests.conftest import NOW


@pytest.fixture
def cobra(db, tmp_path) -> Iterator[Callable[..., Result]]:  # type: ignore[no-untyped-def]
    """`cobra("contact show --business X ...")` with DATABASE_URL set to the test db."""
    _register_commands()
    env = {
        "DATABASE_URL": db.url,
        "PUBLIC_BASE_URL": "https://cobra.test",
        "SECRETS_KEY": "clave-de-pruebas",
    }

    bot.cli._runtime = None

    def run(args: str | list[str], input: str | None = None) -> Result:
        runner = CliRunner()
        argv = shlex.split(args) if isinstance(args, str) else args
        return runner.invoke(cli, argv, env=env, input=input, catch_exceptions=False)

    monkey = pytest.MonkeyPatch()
    monkey.chdir(tmp_path)
    monkey.setattr(bot.cli, "clock", lambda: NOW)
    yield run
    monkey.undo()
    if bot.cli._runtime is not None:
        bot.cli._runtime.db.dispose()
    bot.cli._runtime = None
