"""`cobra catalog fill|list|add|update`: the business's sales items."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click

from bot.cli import business_or_fail, echo_json, fail, session_scope, wall_clock
from flows import catalog as flows
from flows.errors import CobraError
from storage.models import SalesItem


def register(cli: click.Group) -> None:
    cli.add_command(catalog)


@click.group()
def catalog() -> None:
    """Catálogo de productos y servicios."""


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace("$", ""))
    except InvalidOperation:
        fail(f"Precio inválido: {text}")
    return value


def _row(item: SalesItem) -> dict[str, str | None]:
    return {
        "description": item.description,
        "product_key": item.product_key,
        "unit_key": item.unit_key,
        "unit_price": str(item.unit_price.normalize()),
        "currency": item.currency,
        "vat": item.vat,
        "source": item.source,
    }


@catalog.command("fill")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida JSON.")
def catalog_fill(business_rfc: str, as_json: bool) -> None:
    """Llena el catálogo con los conceptos de las facturas guardadas."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        added = flows.fill_from_cfdis(
            session, business_id=business.id, now=wall_clock()
        )
    if as_json:
        echo_json({"added": added})
    else:
        click.echo(f"Productos agregados: {added}")


@catalog.command("list")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--json", "as_json", is_flag=True, help="Salida JSON.")
def catalog_list(business_rfc: str, as_json: bool) -> None:
    """Lista los productos del catálogo."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        rows = [_row(i) for i in flows.items_of(session, business_id=business.id)]
    if as_json:
        echo_json({"items": rows})
        return
    for row in rows:
        vat = f"IVA {row['vat']}%" if row["vat"] else "sin IVA"
        click.echo(
            f"{row['description']}\t{row['unit_price']} {row['currency']}\t{vat}\t"
            f"{row['product_key']}/{row['unit_key']}"
        )


@catalog.command("add")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--description", required=True, help="Nombre del producto.")
@click.option("--price", required=True, help="Precio unitario antes de IVA.")
@click.option("--product-key", help="ClaveProdServ del SAT.")
@click.option("--unit-key", help="ClaveUnidad del SAT.")
@click.option("--vat", default="16", show_default=True, help="16, 8, 0 o none.")
def catalog_add(
    business_rfc: str,
    description: str,
    price: str,
    product_key: str | None,
    unit_key: str | None,
    vat: str,
) -> None:
    """Agrega un producto."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        try:
            item = flows.add_item(
                session,
                business=business,
                description=description,
                unit_price=_price(price),
                now=wall_clock(),
                source="cli",
                vat=None if vat == "none" else vat,
                product_key=product_key,
                unit_key=unit_key,
            )
        except CobraError as exc:
            fail(exc.message)
        click.echo(f"Agregado: {item.description}")


@catalog.command("update")
@click.option("--business", "business_rfc", required=True, help="RFC del negocio.")
@click.option("--item", "name", required=True, help="Nombre (o parte) del producto.")
@click.option("--description", help="Nuevo nombre.")
@click.option("--price", help="Nuevo precio unitario antes de IVA.")
@click.option("--product-key", help="ClaveProdServ del SAT.")
@click.option("--unit-key", help="ClaveUnidad del SAT.")
@click.option("--vat", help="16, 8, 0 o none.")
def catalog_update(
    business_rfc: str,
    name: str,
    description: str | None,
    price: str | None,
    product_key: str | None,
    unit_key: str | None,
    vat: str | None,
) -> None:
    """Cambia un producto."""
    with session_scope() as session:
        business = business_or_fail(session, business_rfc)
        try:
            item = flows.find_item(session, business_id=business.id, name=name)
            flows.update_item(
                session,
                item=item,
                now=wall_clock(),
                description=description,
                unit_price=_price(price) if price else None,
                product_key=product_key,
                unit_key=unit_key,
                vat="" if vat == "none" else vat,
            )
        except CobraError as exc:
            fail(exc.message)
        click.echo(f"Actualizado: {item.description}")
