"""`cobra chat`: the conversation in a terminal, interactive or a message at a time."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from bot.cli import business_or_fail, fail, runtime, session_scope, wall_clock
from flows.messages import Channel, Inbound, Outbound, Reply
from storage import repo


def register(cli: click.Group) -> None:
    cli.add_command(chat)


@click.command()
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option(
    "--as",
    "as_who",
    default="owner",
    show_default=True,
    help="owner, o el RFC de un cliente para hablar como ese cliente.",
)
@click.option("--message", help="Envía un solo mensaje e imprime sólo la respuesta.")
def chat(business_rfc: str, as_who: str, message: str | None) -> None:
    """La conversación en la terminal; lee líneas hasta el fin de la entrada."""
    rfc = business_rfc.strip().upper()
    contact_rfc = None if as_who.lower() == "owner" else as_who.strip().upper()
    with session_scope() as session:
        business = business_or_fail(session, rfc)
        if contact_rfc is not None:
            found = repo.contact_by_rfc(
                session, business_id=business.id, rfc=contact_rfc, kind="customer"
            )
            if found is None:
                fail(f"no existe un cliente con el RFC {contact_rfc}")

    if message is not None:
        _print(_send(rfc, contact_rfc, message))
        return
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Escribe tu mensaje (Ctrl-D para salir).")
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        _print(_send(rfc, contact_rfc, line.strip()))
        if interactive:
            click.echo()


def _send(rfc: str, contact_rfc: str | None, text: str) -> Reply:
    inbound = Inbound(
        channel=Channel.CHAT,
        sender=f"terminal:{rfc}",
        text=text,
        received_at=wall_clock(),
        business_rfc=rfc,
        as_contact_rfc=contact_rfc,
    )
    return runtime().engine.handle(inbound)


def _print(reply: Reply) -> None:
    for outbound in reply.messages:
        click.echo(outbound.text)
        if outbound.buttons:
            click.echo("  ".join(f"[{b.title}]" for b in outbound.buttons))
        for path in _save_files(outbound):
            click.echo(f"(archivo: {path})")


def _save_files(outbound: Outbound) -> list[Path]:
    files = [*outbound.documents, *outbound.images]
    if not files:
        return []
    folder = Path(tempfile.mkdtemp(prefix="cobra-chat-"))
    saved = []
    for doc in files:
        path = folder / doc.filename
        path.write_bytes(doc.content)
        saved.append(path)
    return saved
