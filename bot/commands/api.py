"""`cobra apikey`, `cobra webhook` and `cobra contact import`: set up integrations."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import (
    business_or_fail,
    echo_json,
    fail,
    session_scope,
    user_errors,
    wall_clock,
)
from flows import apikeys, webhooks_out
from flows.contact_import import apply_rows, read_file


def register(cli: click.Group) -> None:
    cli.add_command(apikey)
    cli.add_command(webhook)
    contact = cli.commands.get("contact")
    if not isinstance(contact, click.Group):
        contact = click.Group("contact", help="Clientes y proveedores.")
        cli.add_command(contact)
    contact.add_command(contact_import)


# --- API keys -----------------------------------------------------------------


@click.group()
def apikey() -> None:
    """Llaves del API REST."""


@apikey.command("create")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--name", default="API", show_default=True, help="Para qué es la llave.")
def apikey_create(business_rfc: str, name: str) -> None:
    """Crea una llave; se muestra sólo esta vez."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        issued = apikeys.create_api_key(
            session,
            business=found,
            name=name,
            actor="cli",
            channel="cli",
            now=wall_clock(),
        )
        prefix = issued.key.prefix
    click.echo(issued.token)
    click.echo(
        f"Llave {prefix} creada. Guárdala ahora: no se vuelve a mostrar.", err=True
    )


@apikey.command("list")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def apikey_list(business_rfc: str, as_json: bool) -> None:
    """Las llaves del negocio, sin su secreto."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        rows = [
            {
                "id": k.id,
                "prefix": k.prefix,
                "name": k.name,
                "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked": k.revoked_at is not None,
            }
            for k in apikeys.api_keys(session, business=found)
        ]
    if as_json:
        echo_json({"keys": rows})
        return
    if not rows:
        click.echo("Sin llaves.")
    for row in rows:
        state = "revocada" if row["revoked"] else "activa"
        used = row["last_used_at"] or "nunca"
        click.echo(f"{row['prefix']}  {row['name']}  {state}  último uso: {used}")


@apikey.command("revoke")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.argument("prefix")
def apikey_revoke(business_rfc: str, prefix: str) -> None:
    """Revoca la llave con ese prefijo (el que muestra `cobra apikey list`)."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        apikeys.revoke_api_key(
            session,
            business=found,
            prefix=prefix,
            actor="cli",
            channel="cli",
            now=wall_clock(),
        )
    click.echo(f"Llave {prefix} revocada.")


# --- Webhooks -----------------------------------------------------------------


@click.group()
def webhook() -> None:
    """Webhooks salientes firmados."""


@webhook.command("add")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(webhooks_out.EVENTS),
    help="Evento a enviar (repetible); sin él, todos.",
)
@click.argument("url")
def webhook_add(business_rfc: str, events: tuple[str, ...], url: str) -> None:
    """Registra URL; imprime el secreto de la firma, sólo esta vez."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        endpoint = webhooks_out.add_endpoint(
            session,
            business=found,
            url=url,
            events=list(events),
            actor="cli",
            channel="cli",
            now=wall_clock(),
        )
        endpoint_id, secret = endpoint.id, endpoint.secret
    click.echo(secret)
    click.echo(
        f"Webhook {endpoint_id} registrado. Guarda el secreto: no se vuelve a mostrar.",
        err=True,
    )


@webhook.command("list")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def webhook_list(business_rfc: str, as_json: bool) -> None:
    """Los webhooks activos del negocio."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        rows = [
            {
                "id": e.id,
                "url": e.url,
                "events": webhooks_out.endpoint_events(e),
            }
            for e in webhooks_out.endpoints(session, business=found)
        ]
    if as_json:
        echo_json({"webhooks": rows})
        return
    if not rows:
        click.echo("Sin webhooks.")
    for row in rows:
        events = ", ".join(str(e) for e in row["events"])  # type: ignore[attr-defined]
        click.echo(f"{row['id']}  {row['url']}  {events}")


@webhook.command("failures")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def webhook_failures(business_rfc: str, as_json: bool) -> None:
    """Entregas que fallaron: las que se reintentan y las que ya no."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        rows = [
            {
                "outbox_id": m.id,
                "event": (m.payload or {}).get("event"),
                "event_id": (m.payload or {}).get("event_id"),
                "url": m.recipient,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at.isoformat()
                if m.status == "pending"
                else None,
                "error": m.last_error,
            }
            for m in webhooks_out.failures(session, business=found)
        ]
    if as_json:
        echo_json({"failures": rows})
        return
    if not rows:
        click.echo("Sin entregas fallidas.")
    for row in rows:
        state = "se reintentará" if row["status"] == "pending" else "abandonada"
        click.echo(
            f"{row['event']} {row['event_id']} → {row['url']}: {row['error']} "
            f"({row['attempts']} intentos, {state})"
        )


# --- Contact import -----------------------------------------------------------


@click.command("import")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def contact_import(business_rfc: str, as_json: bool, file: Path) -> None:
    """Correos, WhatsApp, crédito y recordatorios de muchos contactos, por RFC.

    Columnas (primera fila): rfc, nombre, tipo, correo, whatsapp, dias_credito,
    recordatorios_whatsapp, recordatorios, conjunto_recordatorios.
    """
    if not file.exists():
        fail(f"no existe el archivo {file}")
    with user_errors():
        rows = read_file(file)
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        result = apply_rows(
            session,
            business=found,
            rows=rows,
            actor="cli",
            channel="cli",
            now=wall_clock(),
        )
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(
        f"Contactos: {result.created} nuevos, {result.updated} actualizados, "
        f"{len(result.errors)} con errores."
    )
    for error in result.errors:
        click.echo(f"  línea {error.line} ({error.rfc or 'sin RFC'}): {error.reason}")
