"""`cobra report movements`: money in and out for a period, as CSV or XLSX."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.cli import business_or_fail, fail, session_scope
from flows import movements as flows


def register(cli: click.Group) -> None:
    cli.add_command(report)


@click.group()
def report() -> None:
    """Reportes."""


@report.command("movements")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--from", "since", required=True, help="Primer día (AAAA-MM-DD).")
@click.option("--to", "until", required=True, help="Último día (AAAA-MM-DD).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
    help="Formato del archivo.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "Archivo de salida; sin él, el CSV sale en pantalla y el XLSX a un "
        "nombre propio."
    ),
)
def report_movements(
    business_rfc: str, since: str, until: str, fmt: str, output: Path | None
) -> None:
    """Entradas y salidas de dinero entre dos fechas (días locales, inclusive)."""
    start, end = _day(since, "--from"), _day(until, "--to")
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        rows = flows.movements(session, business=business, start=start, end=end)
        title = f"Movimientos de {business.name} del {start} al {end}"
        rfc = business.rfc

    if fmt == "csv":
        text = flows.to_csv(rows)
        if output is None:
            sys.stdout.write(text)
            return
        output.write_text(text, encoding="utf-8")
    else:
        output = output or Path(f"movimientos_{rfc}_{start}_{end}.xlsx")
        output.write_bytes(flows.to_xlsx(rows, title=title))
    click.echo(f"{len(rows)} movimientos en {output}", err=True)


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} no es una fecha AAAA-MM-DD: {value}")
