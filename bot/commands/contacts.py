"""`cobra contact update|show`: a contact's channels, bank account, terms, balance."""

from __future__ import annotations

from typing import Any

import click

from bot.cli import (
    business_or_fail,
    echo_json,
    runtime,
    session_scope,
    wall_clock,
)
from flows import business as flows
from flows.fmt import local_date, money
from storage import repo


def register(cli: click.Group) -> None:
    cli.add_command(contact)


@click.group()
def contact() -> None:
    """Clientes y proveedores."""


@contact.command("update")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--rfc", "contact_rfc", required=True, help="RFC del contacto.")
@click.option("--whatsapp", help="WhatsApp (E.164 o 10 dígitos).")
@click.option("--email", help="Correo (se agrega a los que ya tiene).")
@click.option("--clabe", help="CLABE bancaria (proveedores).")
@click.option("--terms-days", type=int, help="Días de crédito de este contacto.")
@click.option(
    "--whatsapp-reminders",
    type=click.Choice(["on", "off"]),
    help="Recordatorios por WhatsApp.",
)
def contact_update(
    business_rfc: str,
    contact_rfc: str,
    whatsapp: str | None,
    email: str | None,
    clabe: str | None,
    terms_days: int | None,
    whatsapp_reminders: str | None,
) -> None:
    """Cambia los canales, la cuenta y el crédito de un contacto."""
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        target = flows.find_contact(session, business=found, rfc=contact_rfc)
        changes = flows.update_contact(
            session,
            contact=target,
            actor="cli",
            channel="cli",
            now=wall_clock(),
            whatsapp=whatsapp,
            email=email,
            clabe=clabe,
            terms_days=terms_days,
            whatsapp_reminders=None
            if whatsapp_reminders is None
            else whatsapp_reminders == "on",
        )
        name = target.name
    if not changes:
        click.echo(f"Sin cambios para {name}.")
        return
    click.echo(f"Contacto actualizado: {name} ({', '.join(changes)}).")


@contact.command("show")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--rfc", "contact_rfc", required=True, help="RFC del contacto.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
def contact_show(business_rfc: str, contact_rfc: str, as_json: bool) -> None:
    """Un contacto con su saldo, CLABE virtual y link del portal."""
    now = wall_clock()
    with session_scope() as session:
        found = business_or_fail(session, business_rfc)
        target = flows.find_contact(session, business=found, rfc=contact_rfc)
        today = local_date(now, found.timezone)
        direction = "receivable" if target.kind == "customer" else "payable"
        totals = repo.balance_totals(
            session,
            business_id=found.id,
            direction=direction,
            today=today,
            contact_id=target.id,
        )
        url = None
        if target.kind == "customer":
            token = flows.portal_token(
                session, contact=target, key=runtime().portal_key, now=now
            )
            url = flows.portal_url(runtime().settings.public_base_url, token)
        data: dict[str, Any] = {
            "rfc": target.rfc,
            "name": target.name,
            "kind": target.kind,
            "emails": target.email_list,
            "whatsapp": target.whatsapp,
            "clabe": target.clabe,
            "virtual_clabe": target.virtual_clabe,
            "terms_days": target.terms_days,
            "whatsapp_reminders": target.whatsapp_reminders,
            "whatsapp_opted_out": target.whatsapp_opted_out,
            "reminders_enabled": target.reminders_enabled,
            "invoices_hidden": target.invoices_hidden,
            "balance": {
                cur: {"total": str(t), "overdue": str(o), "invoices": n}
                for cur, (t, o, n) in totals.items()
            },
            "portal_url": url,
        }
    if as_json:
        echo_json(data)
        return
    kind = "Cliente" if data["kind"] == "customer" else "Proveedor"
    click.echo(f"{kind}: {data['name']} ({data['rfc']})")
    click.echo(f"Correos: {', '.join(data['emails']) or '—'}")
    click.echo(f"WhatsApp: {data['whatsapp'] or '—'}")
    if data["clabe"]:
        click.echo(f"CLABE: {data['clabe']}")
    if data["virtual_clabe"]:
        click.echo(f"CLABE virtual: {data['virtual_clabe']}")
    if not totals:
        click.echo("Saldo: $0.00")
    for cur, (total, overdue, count) in totals.items():
        click.echo(
            f"Saldo {cur}: {money(total, cur)} en {count} facturas "
            f"(vencido {money(overdue, cur)})"
        )
    if url:
        click.echo(f"Portal: {url}")
