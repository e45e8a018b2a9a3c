"""`cobra business create|update` and `cobra user add`."""

from __future__ import annotations

import click

from bot.cli import business_or_fail, echo_json, fail, session_scope, wall_clock
from flows import business as flows


def register(cli: click.Group) -> None:
    cli.add_command(business)
    cli.add_command(user)


@click.group()
def business() -> None:
    """Negocios."""


@business.command("create")
@click.option("--name", required=True, help="Nombre del negocio.")
@click.option("--rfc", required=True, help="RFC del negocio.")
@click.option("--owner-whatsapp", help="WhatsApp de la dueña o el dueño (E.164).")
@click.option("--owner-telegram", type=int, help="Id de usuario de Telegram.")
@click.option("--owner-email", help="Correo de la dueña o el dueño.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def business_create(
    name: str,
    rfc: str,
    owner_whatsapp: str | None,
    owner_telegram: int | None,
    owner_email: str | None,
    as_json: bool,
) -> None:
    """Crea un negocio con su dueña o dueño."""
    if not (owner_whatsapp or owner_telegram or owner_email):
        fail("indica al menos --owner-whatsapp, --owner-telegram o --owner-email")
    with session_scope() as session:
        created = flows.create_business(
            session,
            name=name,
            rfc=rfc,
            owner_whatsapp=owner_whatsapp,
            owner_telegram=owner_telegram,
            owner_email=owner_email,
            now=wall_clock(),
        )
        owner = flows.owner_of(session, business=created)
        code = None
        if owner is not None and owner_telegram is not None:
            code = flows.issue_telegram_code(owner)
        result = {"id": created.id, "rfc": created.rfc, "name": created.name}
    if as_json:
        echo_json({**result, "telegram_code": code})
        return
    click.echo(f"Negocio creado: {result['name']} ({result['rfc']}).")
    if code:
        click.echo(f"Para vincular Telegram, envía al bot: /start {code}")


@business.command("update")
@click.option("--rfc", required=True, help="RFC del negocio.")
@click.option("--clabe", help="CLABE donde cobra el negocio.")
@click.option(
    "--stp-account-prefix", help="Prefijo de cuenta STP para CLABEs virtuales."
)
@click.option("--default-terms-days", type=int, help="Días de crédito por omisión.")
@click.option("--timezone", help="Zona horaria, p. ej. America/Monterrey.")
@click.option(
    "--plans-on-request",
    type=click.Choice(["on", "off"]),
    help="Si los clientes pueden pedir pagar en partes.",
)
@click.option("--max-instalments", type=int, help="Máximo de pagos de un plan.")
def business_update(
    rfc: str,
    clabe: str | None,
    stp_account_prefix: str | None,
    default_terms_days: int | None,
    timezone: str | None,
    plans_on_request: str | None,
    max_instalments: int | None,
) -> None:
    """Define dónde pagan los clientes, los días de crédito y los planes de pago."""
    options = (
        clabe,
        stp_account_prefix,
        default_terms_days,
        timezone,
        plans_on_request,
        max_instalments,
    )
    if all(v is None for v in options):
        fail(
            "no hay nada que cambiar: usa --clabe, --stp-account-prefix, "
            "--default-terms-days, --timezone, --plans-on-request o "
            "--max-instalments"
        )
    with session_scope() as session:
        found = business_or_fail(session, rfc)
        flows.update_business(
            session,
            business=found,
            clabe=clabe,
            stp_account_prefix=stp_account_prefix,
            default_terms_days=default_terms_days,
            timezone=timezone,
            plans_on_request=None
            if plans_on_request is None
            else plans_on_request == "on",
            max_instalments=max_instalments,
            now=wall_clock(),
        )
        name = found.name
    click.echo(f"Negocio actualizado: {name}.")


@click.group()
def user() -> None:
    """Personas del negocio."""


@user.command("add")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--role", type=click.Choice(["owner", "staff"]), required=True)
@click.option("--whatsapp", help="WhatsApp (E.164).")
@click.option("--telegram", type=int, help="Id de usuario de Telegram.")
@click.option("--email", help="Correo.")
@click.option("--name", help="Nombre.")
def user_add(
    business_rfc: str,
    role: str,
    whatsapp: str | None,
    telegram: int | None,
    email: str | None,
    name: str | None,
) -> None:
    """Agrega una persona; con --telegram imprime su código de /start."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        added = flows.add_user(
            session,
            business=found,
            role=role,
            whatsapp=whatsapp,
            telegram=telegram,
            email=email,
            name=name,
            now=wall_clock(),
        )
    click.echo(f"Persona agregada ({role}).")
    if added.telegram_code:
        click.echo(
            f"Para vincular Telegram, envía al bot: /start {added.telegram_code}"
        )
