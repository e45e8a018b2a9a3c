"""The customer portal over HTTP, on both databases: the page, downloads, the
statement, reporting a payment with its proof, and tokens that must fail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from bot import portal
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from flows import business as business_flows
from flows.customer_side import payment_link
from storage.models import Contact, OutboundMessage, PaymentReport
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import NOW, Db

BASE_URL = "https://cobra.example.mx"
XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" '
    'SubTotal="1000.00" Total="1160.00"><cfdi:Conceptos><cfdi:Concepto '
    'Descripcion="Tornillos" Cantidad="10" ValorUnitario="100" Importe="1000.00"/>'
    "</cfdi:Conceptos></cfdi:Comprobante>"
)


@dataclass
class Portal:
    client: TestClient
    runtime: Runtime
    db: Db
    token: str
    other_token: str
    invoice_id: int
    paid_id: int
    other_invoice_id: int
    acme_id: int

    @property
    def url(self) -> str:
        return f"/portal/{self.token}"

    def rows(self, model: Any) -> list[Any]:
        with self.db.session() as session:
            return list(session.scalars(select(model).order_by(model.id)))


def start_portal(db: Db, media_dir: Path) -> tuple[TestClient, Runtime]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db.url,
        public_base_url=BASE_URL,
        secrets_key=SecretStr("portal-test-secret"),
    )
    runtime = build_runtime(settings, migrate=False)
    runtime.extras[portal.CLOCK] = lambda: NOW
    runtime.extras[portal.MEDIA_DIR] = media_dir
    return TestClient(create_app(runtime=runtime)), runtime


def seed(db: Db, runtime: Runtime) -> dict[str, Any]:
    with db.session() as session, session.begin():
        business = make_business(session)
        business.clabe = "646180157000000004"
        acme = make_contact(
            session, business, name="Acme Industrial", rfc="AIN850101AB2"
        )
        acme.sequence = 7
        beta = make_contact(
            session, business, name="Beta Comercial", rfc="BCO900101AB3"
        )
        invoice = make_invoice(
            session, acme, total="1160.00", folio="102", uuid="0A1B2C3D-0000-4000"
        )
        invoice.xml = XML
        paid = make_invoice(session, acme, total="500.00", folio="90")
        paid.status, paid.paid, paid.balance = "paid", Decimal("500"), Decimal("0")
        theirs = make_invoice(session, beta, total="98765.43", series="B", folio="900")
        return {
            "token": business_flows.portal_token(
                session, contact=acme, key=runtime.portal_key, now=NOW
            ),
            "other_token": business_flows.portal_token(
                session, contact=beta, key=runtime.portal_key, now=NOW
            ),
            "invoice_id": invoice.id,
            "paid_id": paid.id,
            "other_invoice_id": theirs.id,
            "acme_id": acme.id,
        }


@pytest.fixture
def site(db: Db, tmp_path: Path) -> Iterator[Portal]:
    client, runtime = start_portal(db, tmp_path / "media")
    with client:
        yield Portal(client, runtime, db, **seed(db, runtime))
    runtime.db.dispose()


def test_portal_shows_own_invoices_balance_and_how_to_pay(site: Portal) -> None:
    page = site.client.get(site.url)

    assert page.status_code == 200
    html = page.text
    assert "Ferretería La Tuerca" in html and "Hola, Acme Industrial" in html
    assert "$1,160.00" in html and "Factura A-102" in html
    assert "646180157000000004" in html and "0000007" in html
    assert "Facturas pagadas (1)" in html
    assert "Beta" not in html and "98,765" not in html
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in html


def test_a_payment_link_opens_the_portal_on_one_invoice(site: Portal) -> None:
    link = payment_link(BASE_URL + site.url, invoice_id=site.invoice_id)

    page = site.client.get(link.removeprefix(BASE_URL))

    assert 'class="focus"' in page.text
    assert "Pagar la factura A-102" in page.text
    assert f'<option value="{site.invoice_id}" selected>' in page.text


def test_a_payment_link_for_an_amount(site: Portal) -> None:
    page = site.client.get(f"{site.url}?monto=580.00")

    assert "Monto a pagar" in page.text and "$580.00" in page.text


def test_pdf_and_xml_downloads(site: Portal) -> None:
    pdf = site.client.get(f"{site.url}/facturas/{site.invoice_id}.pdf")
    xml = site.client.get(f"{site.url}/facturas/{site.invoice_id}.xml")

    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert 'filename="factura-A-102.pdf"' in pdf.headers["content-disposition"]
    assert xml.status_code == 200 and b"Tornillos" in xml.content


def test_another_customers_invoice_is_not_found(site: Portal) -> None:
    for suffix in ("pdf", "xml"):
        got = site.client.get(f"{site.url}/facturas/{site.other_invoice_id}.{suffix}")
        assert got.status_code == 404
        assert "98,765" not in got.text


def test_statement_as_html_and_pdf(site: Portal) -> None:
    html = site.client.get(f"{site.url}/estado-de-cuenta")
    pdf = site.client.get(f"{site.url}/estado-de-cuenta.pdf")

    assert html.status_code == 200 and "Estado de cuenta al 3 dic" in html.text
    assert "A-90" in html.text and "pagada" in html.text
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_report_a_payment_with_proof(site: Portal, tmp_path: Path) -> None:
    sent = site.client.post(
        f"{site.url}/reportar-pago",
        data={"factura": str(site.invoice_id), "monto": "1,160.00", "nota": "SPEI"},
        files={"comprobante": ("spei.pdf", b"%PDF-1.4 proof", "application/pdf")},
        follow_redirects=False,
    )

    assert sent.status_code == 303
    assert sent.headers["location"] == f"{site.url}?reportado=1#reporte"
    [report] = site.rows(PaymentReport)
    assert (report.amount, report.invoice_id, report.channel) == (
        Decimal("1160.00"),
        site.invoice_id,
        "web",
    )
    assert report.hold_until == dt.date(2026, 12, 6)
    assert Path(report.proof_path).read_bytes() == b"%PDF-1.4 proof"
    assert Path(report.proof_path).parent == tmp_path / "media"
    [alert] = [r for r in site.rows(OutboundMessage) if r.template == "owner_alert"]
    assert alert.payload["source"] == "portal"
    assert alert.payload["buttons"][0]["payload"] == f"report:{report.id}:confirm"
    page = site.client.get(sent.headers["location"])
    assert "Recibimos tu aviso de pago" in page.text


def test_report_refuses_what_it_cannot_use(site: Portal) -> None:
    nothing = site.client.post(f"{site.url}/reportar-pago", data={})
    bad_amount = site.client.post(f"{site.url}/reportar-pago", data={"monto": "mucho"})
    bad_file = site.client.post(
        f"{site.url}/reportar-pago",
        data={"monto": "100"},
        files={"comprobante": ("x.exe", b"MZ", "application/octet-stream")},
    )
    theirs = site.client.post(
        f"{site.url}/reportar-pago", data={"factura": str(site.other_invoice_id)}
    )

    assert [r.status_code for r in (nothing, bad_amount, bad_file)] == [400] * 3
    assert "Elige la factura" in nothing.text
    assert "foto (JPG o PNG) o un PDF" in bad_file.text
    assert theirs.status_code == 404
    assert site.rows(PaymentReport) == []


@pytest.mark.parametrize("token", ["x", "A" * 43, "x/y/z.pdf", "%00", "a" * 500])
def test_a_wrong_token_gets_a_plain_404(site: Portal, token: str) -> None:
    got = site.client.get(f"/portal/{token}")

    assert got.status_code == 404
    assert "Página no encontrada" in got.text
    assert "Ferretería" not in got.text and "Acme" not in got.text


def test_a_revoked_or_rotated_token_gets_the_404(site: Portal) -> None:
    with site.db.session() as session, session.begin():
        acme = session.get(Contact, site.acme_id)
        assert acme is not None
        fresh = business_flows.issue_portal_token(
            session, contact=acme, key=site.runtime.portal_key, now=NOW
        )

    assert site.client.get(site.url).status_code == 404
    assert site.client.get(f"/portal/{fresh}").status_code == 200
    assert (
        site.client.get(f"{site.url}/facturas/{site.invoice_id}.pdf").status_code == 404
    )

    with site.db.session() as session, session.begin():
        acme = session.get(Contact, site.acme_id)
        assert acme is not None
        business_flows.revoke_portal_token(
            session, contact=acme, actor="test", channel="test", now=NOW
        )
    gone = site.client.get(f"/portal/{fresh}")
    assert gone.status_code == 404 and "Acme" not in gone.text


def test_the_portal_shows_an_accepted_payment_plan(site: Portal) -> None:
    from flows import payment_plans as plans
    from storage.models import Contact

    with site.db.session() as session, session.begin():
        acme = session.get(Contact, site.acme_id)
        assert acme is not None
        draft = plans.draft_plan(
            session,
            contact=acme,
            instalments=3,
            today=NOW.date(),
            invoice_ids=[site.invoice_id],
        )
        plan = plans.create_plan(
            session,
            draft=draft,
            status=plans.PlanStatus.OFFERED,
            requested_by="user:1",
            channel="chat",
            now=NOW,
        )
        plans.accept_plan(session, plan=plan, contact=acme, channel="web", now=NOW)

    page = site.client.get(site.url).text
    assert "Tu plan de pagos" in page
    assert "3 pagos por $1,160.00 (A-102)" in page
    # 1,160.00 in three parts to the cent: 386.66, 386.66 and 386.68.
    assert page.count("$386.66") == 2 and "$386.68" in page
    assert "3 ene 2027" in page and "pendiente" in page
