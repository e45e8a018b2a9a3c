"""`cobra reminders ...` and `cobra outbox deliver`: one pass of a job, pausing,
the owner's digest, and the reminder sets.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from bot.cli import (
    business_or_fail,
    echo_json,
    fail,
    parse_now,
    runtime,
    session_scope,
    user_errors,
    wall_clock,
)
from flows import business as business_flows
from flows import reminders as flows
from flows.business import find_contact
from storage.models import Contact, ContactKind

ACTOR = "cli"


def register(cli: click.Group) -> None:
    cli.add_command(reminders)
    cli.add_command(outbox)


@click.group()
def reminders() -> None:
    """Recordatorios de cobro y estados de cuenta."""


@reminders.command("run")
@click.option(
    "--now", "now_text", help="Fecha y hora ISO 8601 (local si no trae zona)."
)
@click.option("--business", "business_rfc", help="Sólo este negocio (RFC).")
@click.option("--json", "as_json", is_flag=True, help="Imprime los conteos en JSON.")
def reminders_run(
    now_text: str | None, business_rfc: str | None, as_json: bool
) -> None:
    """Una pasada de planeación: encola los recordatorios y estados de cuenta de hoy."""
    from bot.scheduler import run_reminders

    rt = runtime()
    business_id = None
    tz = "America/Mexico_City"
    if business_rfc:
        with session_scope() as session:
            business = business_or_fail(session, business_rfc)
            business_id, tz = business.id, business.timezone
    now = parse_now(now_text, tz)
    with user_errors():
        counts = run_reminders(rt, now=now, only_due=False, business_id=business_id)
    if counts is None:
        fail("otro proceso está planeando los recordatorios; intenta en un momento")
    if as_json:
        echo_json(counts.as_dict())
        return
    click.echo(
        f"Recordatorios: {counts.messages} mensajes para {counts.customers} clientes "
        f"({counts.invoices} facturas); {counts.statements} estados de cuenta; "
        f"{counts.paused} negocios en pausa."
    )


@reminders.command("pause")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--customer", "customer_rfc", help="Sólo este cliente (RFC).")
def reminders_pause(business_rfc: str, customer_rfc: str | None) -> None:
    """Pausa los recordatorios del negocio, o de un cliente."""
    _set_paused(business_rfc, customer_rfc, paused=True)


@reminders.command("resume")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--customer", "customer_rfc", help="Sólo este cliente (RFC).")
def reminders_resume(business_rfc: str, customer_rfc: str | None) -> None:
    """Reanuda los recordatorios del negocio, o de un cliente."""
    _set_paused(business_rfc, customer_rfc, paused=False)


def _set_paused(business_rfc: str, customer_rfc: str | None, *, paused: bool) -> None:
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        contact = None
        if customer_rfc:
            contact = find_contact(
                session, business=business, rfc=customer_rfc, kind=ContactKind.CUSTOMER
            )
        if contact is None:
            business_flows.set_reminders_paused(
                session,
                business=business,
                paused=paused,
                now=wall_clock(),
                actor=ACTOR,
                channel=ACTOR,
            )
        else:
            business_flows.set_contact_reminders(
                session,
                contact=contact,
                enabled=not paused,
                now=wall_clock(),
                actor=ACTOR,
                channel=ACTOR,
            )
        who = contact.name if contact else business.name
    state = "en pausa" if paused else "activos"
    click.echo(f"Recordatorios de {who}: {state}.")


@reminders.command("digest")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.argument("state", type=click.Choice(["on", "off"]))
def reminders_digest(business_rfc: str, state: str) -> None:
    """Resumen matutino para la dueña o el dueño (on/off)."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        flows.set_owner_digest(
            session,
            business=business,
            enabled=state == "on",
            now=wall_clock(),
            actor=ACTOR,
            channel=ACTOR,
        )
    if state == "on":
        click.echo("Resumen matutino activo: los recordatorios salen a las 10:00.")
    else:
        click.echo("Resumen matutino desactivado.")


@reminders.group("set")
def reminder_set() -> None:
    """Conjuntos de recordatorios: qué avisos, cuándo y por qué canal."""


@reminder_set.command("list")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Imprime los conjuntos en JSON.")
def set_list(business_rfc: str, as_json: bool) -> None:
    """Los conjuntos del negocio, sus reglas y cuántos clientes los usan."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        sets = flows.reminder_sets(session, business=business)
    if as_json:
        echo_json({"sets": sets})
        return
    for item in sets:
        mark = " (predeterminado)" if item["default"] else ""
        every = item["statement_every_days"]
        statement = f"estado de cuenta cada {every} días" if every else "sin estado"
        click.echo(
            f"{item['name']}{mark}: {', '.join(item['rules'])}; {statement}; "
            f"{item['customers']} clientes"
        )


@reminder_set.command("create")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--name", required=True, help="Nombre del conjunto.")
@click.option(
    "--rules",
    required=True,
    help="Reglas separadas por comas: issued+0, due-3, due+0, due+7 ...",
)
@click.option(
    "--channels",
    default="email,whatsapp",
    show_default=True,
    help="Canales: email, whatsapp o ambos.",
)
@click.option(
    "--statement-days",
    type=int,
    default=14,
    show_default=True,
    help="Estado de cuenta cada N días (0: nunca).",
)
@click.option("--wording", help="Texto propio al inicio del recordatorio.")
@click.option("--default", "make_default", is_flag=True, help="Para clientes nuevos.")
def set_create(
    business_rfc: str,
    name: str,
    rules: str,
    channels: str,
    statement_days: int,
    wording: str | None,
    make_default: bool,
) -> None:
    """Crea un conjunto de recordatorios."""
    chosen = {c.strip().lower() for c in channels.split(",") if c.strip()}
    if not chosen or not chosen <= {"email", "whatsapp"}:
        fail("--channels acepta email, whatsapp o ambos separados por coma")
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        created = flows.create_reminder_set(
            session,
            business=business,
            name=name,
            rules=flows.parse_rules(rules),
            email="email" in chosen,
            whatsapp="whatsapp" in chosen,
            statement_every_days=statement_days,
            wording=wording,
            make_default=make_default,
            now=wall_clock(),
            actor=ACTOR,
            channel=ACTOR,
        )
        count = len(created.rules)
    click.echo(f"Conjunto «{name}» creado con {count} reglas.")


@reminder_set.command("assign")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--set", "set_name", required=True, help="Nombre del conjunto.")
@click.option("--customer", "customer_rfcs", multiple=True, help="RFC del cliente.")
@click.option("--all", "all_customers", is_flag=True, help="Todos los clientes.")
def set_assign(
    business_rfc: str,
    set_name: str,
    customer_rfcs: tuple[str, ...],
    all_customers: bool,
) -> None:
    """Asigna un conjunto a clientes."""
    if bool(customer_rfcs) == all_customers:
        fail("indica --customer RFC (una o más veces) o --all")
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        chosen = flows.reminder_set_by_name(session, business=business, name=set_name)
        if chosen is None:
            fail(f"no existe el conjunto de recordatorios «{set_name}»")
        if all_customers:
            contacts = list(
                session.scalars(
                    select(Contact).where(
                        Contact.business_id == business.id,
                        Contact.kind == ContactKind.CUSTOMER,
                    )
                )
            )
        else:
            contacts = [
                find_contact(
                    session, business=business, rfc=rfc, kind=ContactKind.CUSTOMER
                )
                for rfc in customer_rfcs
            ]
        count = flows.assign_reminder_set(
            session,
            business=business,
            reminder_set=chosen,
            contacts=contacts,
            now=wall_clock(),
            actor=ACTOR,
            channel=ACTOR,
        )
    click.echo(f"Conjunto «{set_name}» asignado a {count} clientes.")


@click.group()
def outbox() -> None:
    """Mensajes por enviar."""


@outbox.command("deliver")
@click.option(
    "--now", "now_text", help="Fecha y hora ISO 8601 (local si no trae zona)."
)
@click.option("--limit", default=500, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Imprime los conteos en JSON.")
def outbox_deliver(now_text: str | None, limit: int, as_json: bool) -> None:
    """Una pasada de entrega: envía los mensajes pendientes que ya tocan."""
    from bot.scheduler import build_senders, close_senders, run_outbox

    rt = runtime()
    now = parse_now(now_text)
    senders = build_senders(rt.settings)
    try:
        with user_errors():
            counts = run_outbox(rt, now=now, senders=senders, limit=limit)
    finally:
        close_senders(senders)
    if as_json:
        echo_json(counts.as_dict())
        return
    click.echo(
        f"Entregados: {counts.sent}; reintentos: {counts.retried}; "
        f"fallidos: {counts.dead}; inciertos: {counts.uncertain}."
    )
