"""`cobra sat credentials`, `cobra sat sync` and `cobra invoice issue`: the SAT side
from the terminal."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
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
from flows.sat.credentials import CredentialKind, load_signer, store_credential
from flows.sat.issue import draft_invoice, issue_invoice
from flows.sat.pac import make_pac
from flows.sat.sync import sync_business
from storage.models import Contact


def register(cli: click.Group) -> None:
    cli.add_command(sat)
    cli.add_command(invoice)


@click.group()
def sat() -> None:
    """SAT: e.firma, CSD y sincronización."""


@click.group()
def invoice() -> None:
    """Facturas CFDI 4.0."""


def _read(path: Path) -> bytes:
    if not path.is_file():
        fail(f"no existe el archivo {path}")
    return path.read_bytes()


@sat.command("credentials")
@click.option("--business", "rfc", required=True, help="RFC del negocio.")
@click.option("--fiel-cer", type=click.Path(path_type=Path), required=True)
@click.option("--fiel-key", type=click.Path(path_type=Path), required=True)
@click.option("--csd-cer", type=click.Path(path_type=Path))
@click.option("--csd-key", type=click.Path(path_type=Path))
@click.option(
    "--password-stdin", is_flag=True, help="Lee la(s) contraseña(s) de stdin."
)
def credentials(
    rfc: str,
    fiel_cer: Path,
    fiel_key: Path,
    csd_cer: Path | None,
    csd_key: Path | None,
    password_stdin: bool,
) -> None:
    """Guarda la e.firma (y el CSD) cifrados; la contraseña nunca se muestra."""
    if (csd_cer is None) != (csd_key is None):
        fail("el CSD necesita --csd-cer y --csd-key")
    pairs = [(CredentialKind.FIEL, _read(fiel_cer), _read(fiel_key))]
    if csd_cer and csd_key:
        pairs.append((CredentialKind.CSD, _read(csd_cer), _read(csd_key)))

    passwords: list[str] = []
    if password_stdin:
        lines = sys.stdin.read().splitlines()
        passwords = [line for line in lines if line]
        if not passwords:
            fail("no llegó ninguna contraseña por stdin")
    else:
        for kind, _, _ in pairs:
            label = "e.firma" if kind == CredentialKind.FIEL else "CSD"
            passwords.append(click.prompt(f"Contraseña de la {label}", hide_input=True))

    settings = runtime().settings
    now = wall_clock()
    with session_scope() as session:
        business = business_or_fail(session, rfc)
        for index, (kind, cer, key) in enumerate(pairs):
            # One password for both when only one line came.
            password = passwords[min(index, len(passwords) - 1)]
            info = store_credential(
                session,
                business=business,
                kind=kind,
                certificate=cer,
                key=key,
                password=password,
                secrets_key=settings.secrets_key,
                actor="cli",
                channel="cli",
                now=now,
            )
            click.echo(
                f"{kind.upper()} guardada: certificado {info.certificate_number}, "
                f"vigente hasta {info.valid_until:%d/%m/%Y}."
            )


@sat.command("sync")
@click.option("--business", "rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True)
def sync(rfc: str, as_json: bool) -> None:
    """Una pasada de sincronización con el SAT (descarga masiva)."""
    settings = runtime().settings
    with session_scope() as session:
        business_id = business_or_fail(session, rfc).id
    with user_errors():
        report = sync_business(
            runtime().factory,
            business_id=business_id,
            secrets_key=settings.secrets_key,
            base_url=settings.sat_ws_base_url,
            now=wall_clock(),
        )
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(
        f"Solicitudes nuevas {report.requested}, en proceso {report.in_progress}, "
        f"terminadas {report.finished}, fallidas {report.failed}; importados "
        f"{report.imported}, duplicados {report.duplicates}, cancelados "
        f"{report.cancelled}."
    )


@invoice.command("issue")
@click.option("--business", "rfc", required=True, help="RFC del negocio.")
@click.option("--customer", "customer_rfc", required=True, help="RFC del cliente.")
@click.option("--amount", required=True)
@click.option("--concept", required=True)
@click.option("--plus-iva", is_flag=True, help="El monto es antes de IVA.")
def issue(
    rfc: str, customer_rfc: str, amount: str, concept: str, plus_iva: bool
) -> None:
    """Emite, sella y timbra una factura de ingreso."""
    try:
        value = Decimal(amount.replace(",", "").replace("$", ""))
    except InvalidOperation:
        fail(f"«{amount}» no es un monto")
    settings = runtime().settings
    now = wall_clock()
    with session_scope() as session:
        business = business_or_fail(session, rfc)
        contact = (
            session.query(Contact)
            .filter_by(
                business_id=business.id,
                kind="customer",
                rfc=customer_rfc.strip().upper(),
            )
            .first()
        )
        if contact is None:
            fail(f"no hay un cliente con el RFC {customer_rfc.upper()}")
        draft = draft_invoice(
            session,
            business=business,
            contact=contact,
            amount=value,
            concept=concept,
            plus_iva=plus_iva,
        )
        signer = load_signer(
            session,
            business_id=business.id,
            kind=CredentialKind.CSD,
            secrets_key=settings.secrets_key,
            now=now,
        )
        pac = make_pac(
            provider=settings.pac_provider,
            base_url=settings.pac_base_url,
            username=settings.pac_user,
            password=(
                settings.pac_password.get_secret_value()
                if settings.pac_password
                else None
            ),
        )
        issued = issue_invoice(
            session,
            business=business,
            draft=draft,
            signer=signer,
            pac=pac,
            now=now,
            actor="cli",
            channel="cli",
        )
        click.echo(draft.summary())
        click.echo(f"Timbrada: {issued.label} UUID {issued.uuid}")
