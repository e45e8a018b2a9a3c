"""The portal in headless Chromium on a phone-sized screen, with JavaScript off:
open it, download a PDF, report a payment with a file, and a revoked link's 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flows import business as business_flows
from storage.models import Contact, PaymentReport
from tests.browser.conftest import ARTIFACTS, LiveSite
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import NOW

pytestmark = pytest.mark.browser


def _seed(site: LiveSite) -> tuple[str, int, int]:
    with site.runtime.factory() as session, session.begin():
        business = make_business(session)
        business.clabe = "646180157000000004"
        acme = make_contact(
            session, business, name="Acme Industrial", rfc="AIN850101AB2"
        )
        invoice = make_invoice(session, acme, total="1160.00", folio="102")
        make_invoice(session, acme, total="2320.00", folio="103")
        token = business_flows.portal_token(
            session, contact=acme, key=site.runtime.portal_key, now=NOW
        )
        return token, invoice.id, acme.id


def test_portal_on_a_phone(live_site: LiveSite, phone: Any, tmp_path: Path) -> None:
    token, invoice_id, _ = _seed(live_site)
    url = f"{live_site.base_url}/portal/{token}"

    phone.goto(f"{url}?factura={invoice_id}")

    assert phone.locator("h1").inner_text() == "Hola, Acme Industrial"
    assert "Pagar la factura A-102" in phone.content()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "portal-phone.png"), full_page=True)

    with phone.expect_download() as waiting:
        phone.locator(f'a[href$="/facturas/{invoice_id}.pdf"]').first.click()
    download = waiting.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == "factura-A-102.pdf"
    assert saved.read_bytes().startswith(b"%PDF")

    proof = tmp_path / "comprobante.png"
    proof.write_bytes(b"\x89PNG\r\n\x1a\n fake")
    phone.select_option("#factura", str(invoice_id))
    phone.fill("#monto", "1,160.00")
    phone.set_input_files("#comprobante", str(proof))
    phone.fill("#nota", "Transferencia SPEI")
    phone.click("button[type=submit]")

    assert phone.locator("#reporte-recibido").is_visible()
    phone.screenshot(path=str(ARTIFACTS / "portal-reported.png"), full_page=True)
    with live_site.runtime.factory() as session:
        [report] = session.scalars(select(PaymentReport)).all()
        assert report.invoice_id == invoice_id and report.channel == "web"
        assert Path(report.proof_path or "").read_bytes().startswith(b"\x89PNG")


def test_a_revoked_link_shows_the_404_page(live_site: LiveSite, phone: Any) -> None:
    token, _, acme_id = _seed(live_site)
    with live_site.runtime.factory() as session, session.begin():
        acme = session.get(Contact, acme_id)
        assert acme is not None
        business_flows.revoke_portal_token(
            session, contact=acme, actor="test", channel="test", now=NOW
        )

    response = phone.goto(f"{live_site.base_url}/portal/{token}")

    assert response is not None and response.status == 404
    assert phone.locator("h1").inner_text() == "Página no encontrada"
    assert "Acme" not in phone.content()
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "portal-404.png"))
