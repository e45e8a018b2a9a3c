"""The `cobra` command line: serve, set up businesses and contacts, run jobs.

Exit status: 0 on success, 1 on a user error (one line on stderr), 2 on a usage
error; bad input never shows a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.orm import Session

from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from flows.errors import CobraError
from flows.fmt import zone
from storage import repo
from storage.models import Business

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class UserError(click.ClickException):
    """A one-line reason on stderr and exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def fail(message: str) -> NoReturn:
    raise UserError(message)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn Cobra's own errors, and a database that cannot be reached, into one line."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except CobraError as exc:
        fail(exc.message)
    except OperationalError as exc:
        fail(f"no se pudo usar la base de datos: {exc.orig}")


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process's runtime, built on first use (migrations applied)."""
    global _runtime
    if _runtime is None:
        with user_errors():
            try:
                settings = Settings()
            except Exception as exc:
                fail(f"configuración inválida: {exc}")
            _runtime = build_runtime(settings)
    return _runtime


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose work commits at the end, with user errors as one line."""
    with user_errors(), runtime().factory() as session, session.begin():
        yield session


def business_or_fail(session: Session, rfc: str) -> Business:
    business = repo.business_by_rfc(session, rfc=rfc.strip().upper())
    if business is None:
        fail(f"no existe un negocio con el RFC {rfc.upper()}")
    return business


def parse_now(value: str | None, tz: str = "America/Mexico_City") -> dt.datetime:
    """`--now`: ISO 8601; without an offset it is the business's local time."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now no es una fecha y hora ISO 8601: {value}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return moment.astimezone(dt.UTC)


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Tests replace this to run the commands at a fixed time.
clock: Callable[[], dt.datetime] = _system_clock


def wall_clock() -> dt.datetime:
    return clock()


def echo_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str, sort_keys=True))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Bitácora detallada.")
def cli(verbose: bool) -> None:
    """Cobra: cobranza y pagos por WhatsApp y Telegram."""
    from bot.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.WARNING)


@cli.group()
def db() -> None:
    """Base de datos."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Aplica las migraciones pendientes."""
    runtime()
    click.echo("Base de datos al día.")


def _register_commands() -> None:
    from bot.commands import (
        api,
        business,
        chat,
        contacts,
        financing,
        importing,
        jobs,
        sat,
        serve,
    )

    for module in (business, chat, contacts, importing, serve, api, jobs, sat):
        module.register(cli)
    financing.register(cli)
    from bot.commands import report

    report.register(cli)
    from bot.commands import catalog

    catalog.register(cli)


def main(argv: list[str] | None = None) -> None:
    _register_commands()
    try:
        cli.main(args=argv, prog_name="cobra", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
