"""`cobra serve`: migrate, optionally seed the demo business, run web app and jobs."""

from __future__ import annotations

import logging

import click

from bot.cli import runtime, user_errors, wall_clock

log = logging.getLogger(__name__)


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Crea un negocio de demostración (una vez).")
def serve(host: str, port: int, demo: bool) -> None:
    """Aplica migraciones y arranca el servicio web y las tareas programadas."""
    import uvicorn

    from bot.app import create_app
    from bot.demo import DEMO_RFC, seed_demo
    from bot.logs import configure_logging

    configure_logging(logging.INFO)
    rt = runtime()
    if demo:
        with user_errors():
            created = seed_demo(rt.factory, now=wall_clock())
        if created:
            click.echo(f"Negocio de demostración creado (RFC {DEMO_RFC}).")
        else:
            click.echo(f"Usando el negocio de demostración existente (RFC {DEMO_RFC}).")
        click.echo(f"Pruébalo: cobra chat --business {DEMO_RFC}")
    app = create_app(runtime=rt, run_scheduler=True, freeze_heap=True)
    click.echo(f"Cobra escuchando en http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
