"""`cobra import-cfdi`: CFDI files, folders and zip packages into a business's books."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bot.cli import (
    business_or_fail,
    echo_json,
    fail,
    runtime,
    session_scope,
    user_errors,
    wall_clock,
)
from flows.cfdi import ImportReport, count_documents, import_sources

log = logging.getLogger(__name__)


def register(cli: click.Group) -> None:
    cli.add_command(import_cfdi)


@click.command("import-cfdi")
@click.option("--business", "rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Un objeto JSON con los conteos.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_cfdi(rfc: str, as_json: bool, paths: tuple[Path, ...]) -> None:
    """Importa CFDI 4.0 (XML, carpetas o zip del SAT); no duplica por UUID."""
    for path in paths:
        if not path.exists():
            fail(f"no existe la ruta {path}")
    with session_scope() as session:
        business_id = business_or_fail(session, rfc).id

    factory = runtime().factory
    now = wall_clock()
    with user_errors():
        if sys.stderr.isatty():
            total = count_documents(paths)
            with click.progressbar(
                length=total, label="Importando CFDI", file=sys.stderr
            ) as bar:
                report = import_sources(
                    factory,
                    business_id=business_id,
                    sources=paths,
                    now=now,
                    progress=bar.update,
                )
        else:
            report = import_sources(
                factory, business_id=business_id, sources=paths, now=now
            )

    if as_json:
        echo_json(report.as_dict())
    else:
        _print(report)


def _print(report: ImportReport) -> None:
    click.echo(
        f"Importados: {report.imported} ({report.receivables} por cobrar, "
        f"{report.payables} por pagar, {report.credit_notes} notas de crédito, "
        f"{report.complements} complementos de pago)"
    )
    click.echo(f"Duplicados: {report.duplicates}")
    click.echo(f"Rechazados: {report.rejected}")
    click.echo(f"Pagos aplicados: {report.payments_applied}")
    click.echo(f"Pagos pendientes de su factura: {report.pending}")
    for rejection in report.rejections:
        click.echo(str(rejection))
    if report.warnings:
        click.echo("Avisos:")
        for warning in report.warnings:
            click.echo(str(warning))
