"""The customer portal: `GET /portal/{token}` with invoices, balance and how to pay,
PDF and XML downloads, the statement, and a form to report a payment with its proof.

A token that is wrong, revoked or rotated gets the same plain 404 page.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from flows import business as business_flows
from flows import customer_side, documents
from flows.errors import CobraError
from flows.fmt import local_date, money, short_date
from flows.payment_plans import plan_view
from storage.models import Contact, Invoice

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
# Keys of `Runtime.extras` that tests and deployments may set.
CLOCK = "portal.clock"
MEDIA_DIR = "portal.media_dir"
DEFAULT_MEDIA_DIR = Path("var/media/portal")
MAX_PROOF_BYTES = 10 * 1024 * 1024
PROOF_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
AMOUNT_RE = re.compile(r"^\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def install(app: FastAPI, runtime: Runtime) -> None:
    app.add_api_route("/portal/{token}", show_portal, methods=["GET"])
    app.add_api_route(
        "/portal/{token}/facturas/{invoice_id:int}.pdf", invoice_pdf, methods=["GET"]
    )
    app.add_api_route(
        "/portal/{token}/facturas/{invoice_id:int}.xml", invoice_xml, methods=["GET"]
    )
    app.add_api_route("/portal/{token}/estado-de-cuenta", statement, methods=["GET"])
    app.add_api_route(
        "/portal/{token}/estado-de-cuenta.pdf", statement_pdf, methods=["GET"]
    )
    app.add_api_route("/portal/{token}/reportar-pago", report_payment, methods=["POST"])
    # Anything else under /portal gets the same page as a wrong token.
    app.add_api_route("/portal/{rest:path}", anything_else, methods=["GET", "POST"])


def anything_else(rest: str) -> Response:
    return not_found()


# --- Pages -----------------------------------------------------------------------


def show_portal(
    request: Request,
    token: str,
    factura: str | None = None,
    monto: str | None = None,
    reportado: str | None = None,
) -> Response:
    with _customer(request, token) as found:
        if found is None:
            return not_found()
        session, contact, now = found
        return _page(
            session,
            contact,
            token=token,
            now=now,
            highlight=_int(factura),
            amount=_amount(monto) if monto else None,
            reported=reportado == "1",
        )


def statement(request: Request, token: str) -> Response:
    with _customer(request, token) as found:
        if found is None:
            return not_found()
        session, contact, now = found
        today = local_date(now, contact.business.timezone)
        view = customer_side.statement(session, contact=contact, today=today)
        html = render(
            "portal/statement.html.j2",
            view=view,
            today=today,
            base=f"/portal/{token}",
            lines=sorted(view.open + view.closed, key=lambda i: (i.issue_date, i.id)),
        )
        return _html(html)


def statement_pdf(request: Request, token: str) -> Response:
    with _customer(request, token) as found:
        if found is None:
            return not_found()
        session, contact, now = found
        today = local_date(now, contact.business.timezone)
        content = customer_side.statement_pdf(
            session, contact=contact, today=today, now=now
        )
        return _file(content, documents.PDF_TYPE, f"estado-de-cuenta-{today}.pdf")


def invoice_pdf(request: Request, token: str, invoice_id: int) -> Response:
    with _customer(request, token) as found:
        if found is None:
            return not_found()
        session, contact, _ = found
        invoice = customer_side.own_invoice_by_id(
            session, contact=contact, invoice_id=invoice_id
        )
        if invoice is None:
            return not_found()
        content = documents.invoice_pdf(
            invoice, business=contact.business, contact=contact
        )
        return _file(
            content, documents.PDF_TYPE, documents.invoice_filename(invoice, "pdf")
        )


def invoice_xml(request: Request, token: str, invoice_id: int) -> Response:
    with _customer(request, token) as found:
        if found is None:
            return not_found()
        session, contact, _ = found
        invoice = customer_side.own_invoice_by_id(
            session, contact=contact, invoice_id=invoice_id
        )
        content = documents.invoice_xml(invoice) if invoice is not None else None
        if invoice is None or content is None:
            return not_found()
        return _file(
            content, documents.XML_TYPE, documents.invoice_filename(invoice, "xml")
        )


# --- Reporting a payment ---------------------------------------------------------


def report_payment(
    request: Request,
    token: str,
    factura: Annotated[str, Form()] = "",
    monto: Annotated[str, Form()] = "",
    nota: Annotated[str, Form()] = "",
    comprobante: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The form's POST: the same report and owner confirmation as "ya pagué"."""
    runtime: Runtime = request.app.state.runtime
    with _customer(request, token, write=True) as found:
        if found is None:
            return not_found()
        session, contact, now = found
        invoice = None
        if factura.strip():
            invoice = customer_side.own_invoice_by_id(
                session, contact=contact, invoice_id=_int(factura) or 0
            )
            if invoice is None:
                return not_found()
        amount = _amount(monto) if monto.strip() else None
        problem = None
        if monto.strip() and amount is None:
            problem = "Escribe el monto como número, por ejemplo 1,160.00."
        elif invoice is None and amount is None:
            problem = "Elige la factura que pagaste o escribe el monto."
        proof: tuple[str, str] | None = None
        if problem is None and comprobante is not None and comprobante.filename:
            proof_or_problem = _keep_proof(runtime, comprobante)
            if isinstance(proof_or_problem, str):
                problem = proof_or_problem
            else:
                proof = proof_or_problem
        if problem is not None:
            return _page(
                session,
                contact,
                token=token,
                now=now,
                highlight=invoice.id if invoice else None,
                amount=amount,
                problem=problem,
                status_code=400,
            )
        try:
            with session.begin_nested():
                customer_side.report_payment(
                    session,
                    contact=contact,
                    invoice=invoice,
                    amount=amount,
                    currency=invoice.currency if invoice else None,
                    channel="web",
                    now=now,
                    today=local_date(now, contact.business.timezone),
                    proof_path=proof[0] if proof else None,
                    proof_content_type=proof[1] if proof else None,
                    note=nota.strip() or None,
                )
        except CobraError as exc:
            return _page(
                session,
                contact,
                token=token,
                now=now,
                problem=exc.message,
                status_code=400,
            )
    return RedirectResponse(
        f"/portal/{token}?reportado=1#reporte", status_code=303, headers=HEADERS
    )


def _keep_proof(runtime: Runtime, upload: UploadFile) -> tuple[str, str] | str:
    """Save the uploaded proof under a random name; a problem comes back as text."""
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    extension = PROOF_TYPES.get(content_type)
    if extension is None:
        return "El comprobante debe ser una foto (JPG o PNG) o un PDF."
    data = upload.file.read(MAX_PROOF_BYTES + 1)
    if len(data) > MAX_PROOF_BYTES:
        return "El comprobante pesa más de 10 MB; manda una foto más ligera."
    if not data:
        return "El comprobante llegó vacío; vuelve a elegir el archivo."
    folder = Path(runtime.extras.get(MEDIA_DIR, DEFAULT_MEDIA_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}{extension}"
    path.write_bytes(data)
    return str(path), content_type


# --- Helpers ---------------------------------------------------------------------


@contextmanager
def _customer(
    request: Request, token: str, *, write: bool = False
) -> Iterator[tuple[Session, Contact, dt.datetime] | None]:
    """The session and the token's customer, or None for any token that fails."""
    runtime: Runtime = request.app.state.runtime
    clock: Callable[[], dt.datetime] = runtime.extras.get(CLOCK, _utcnow)
    with runtime.factory() as session, session.begin():
        contact = business_flows.contact_by_portal_token(session, token=token)
        if contact is None or contact.kind != "customer":
            log.info("portal token refused", extra={"path": "portal"})
            yield None
            return
        log.info(
            "portal opened",
            extra={
                "business_id": contact.business_id,
                "contact_id": contact.id,
                "write": write,
            },
        )
        yield session, contact, clock()


def _page(
    session: Session,
    contact: Contact,
    *,
    token: str,
    now: dt.datetime,
    highlight: int | None = None,
    amount: Decimal | None = None,
    reported: bool = False,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    today = local_date(now, contact.business.timezone)
    view = customer_side.statement(session, contact=contact, today=today)
    focus: Invoice | None = None
    if highlight is not None:
        focus = next((i for i in view.open + view.closed if i.id == highlight), None)
    plan = plan_view(session, contact=contact, now=now, tz=contact.business.timezone)
    for part in plan["instalments"] if plan else ():
        part["due_date"] = dt.date.fromisoformat(part["due_date"])
    html = render(
        "portal/portal.html.j2",
        view=view,
        plan=plan,
        today=today,
        base=f"/portal/{token}",
        focus=focus,
        amount=amount,
        reported=reported,
        problem=problem,
    )
    return _html(html, status_code)


def not_found() -> Response:
    return _html(render("portal/not_found.html.j2"), 404)


def _html(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _file(content: bytes, content_type: str, filename: str) -> Response:
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=content_type, headers=headers)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PROMPTS)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda value, currency="MXN": money(value, currency)
    env.filters["fecha"] = lambda day, today=None: short_date(day, today=today)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


def _amount(raw: str) -> Decimal | None:
    match = AMOUNT_RE.match(raw.strip())
    if match is None:
        return None
    try:
        value = Decimal(f"{match.group(1).replace(',', '')}.{match.group(2) or '0'}")
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.01")) if value > 0 else None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
