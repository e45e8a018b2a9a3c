"""`cobra financing list|show|decide`: the analysts' side of financing applications."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click

from bot.cli import echo_json, fail, session_scope, wall_clock
from flows import financing as flows
from flows.fmt import money
from storage.models import FinancingApplication


def register(cli: click.Group) -> None:
    cli.add_command(financing)


@click.group()
def financing() -> None:
    """Solicitudes de financiamiento."""


def _row(application: FinancingApplication, now: Any) -> dict[str, Any]:
    deadline = application.deadline_at
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=now.tzinfo)
    return {
        "id": application.id,
        "business": application.business.name,
        "business_rfc": application.business.rfc,
        "status": application.status,
        "amount_requested": str(application.amount_requested or ""),
        "amount_approved": str(application.amount_approved or ""),
        "submitted_at": application.submitted_at,
        "deadline_at": deadline,
        "overdue": application.status == flows.Status.SUBMITTED
        and deadline is not None
        and deadline <= now,
    }


@financing.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in flows.Status]),
    help="Sólo las de este estado.",
)
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def financing_list(status: str | None, as_json: bool) -> None:
    """Las solicitudes, con su plazo de respuesta; ⚠ las que ya lo pasaron."""
    now = wall_clock()
    with session_scope() as session:
        rows = [_row(a, now) for a in flows.list_applications(session, status=status)]
    if as_json:
        echo_json({"applications": rows})
        return
    if not rows:
        click.echo("No hay solicitudes.")
        return
    for row in rows:
        amount = money(Decimal(row["amount_requested"] or 0))
        deadline = row["deadline_at"].isoformat() if row["deadline_at"] else "-"
        flag = " ⚠ plazo vencido" if row["overdue"] else ""
        click.echo(
            f"#{row['id']}  {row['status']:<9}  {amount:>16}  {row['business']} "
            f"({row['business_rfc']})  plazo {deadline}{flag}"
        )


@financing.command("show")
@click.argument("application_id", type=int)
def financing_show(application_id: int) -> None:
    """Una solicitud completa con el resumen de cuentas por cobrar del negocio."""
    now = wall_clock()
    with session_scope() as session:
        application = session.get(FinancingApplication, application_id)
        if application is None:
            fail(f"no existe la solicitud {application_id}")
        data = _row(application, now)
        answers = dict(application.answers or {})
        for key in ("suggested_legal_name", "suggested_rfc"):
            answers.pop(key, None)
        data["answers"] = answers
        data["decision_reason"] = application.decision_reason
        data["receivables"] = application.receivables
    echo_json(data)


@financing.command("decide")
@click.argument("application_id", type=int)
@click.option("--approve", "approve", metavar="MONTO", help="Monto aprobado.")
@click.option("--reject", "reject", metavar="MOTIVO", help="Motivo del rechazo.")
@click.option("--by", "analyst", default="cli", help="Quién decide (bitácora).")
def financing_decide(
    application_id: int, approve: str | None, reject: str | None, analyst: str
) -> None:
    """Aprueba un monto o rechaza con un motivo; avisa al dueño en el chat."""
    if (approve is None) == (reject is None):
        raise click.UsageError("usa --approve MONTO o --reject MOTIVO (sólo uno)")
    amount = None
    if approve is not None:
        try:
            amount = Decimal(approve.replace(",", "").replace("$", ""))
        except InvalidOperation:
            fail(f"--approve no es un monto: {approve}")
    with session_scope() as session:
        application = flows.decide(
            session,
            application_id=application_id,
            approve=amount,
            reject_reason=reject,
            actor=f"analyst:{analyst}",
            now=wall_clock(),
        )
        status = application.status
        approved = application.amount_approved
    if status == flows.Status.APPROVED and approved is not None:
        click.echo(f"Solicitud {application_id} aprobada por {money(approved)}.")
    else:
        click.echo(f"Solicitud {application_id} rechazada.")
    click.echo("Aviso al dueño en la cola de envío.")
