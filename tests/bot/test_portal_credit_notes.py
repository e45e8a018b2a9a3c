"""Credit notes in the customer portal over HTTP, on both databases: under their
invoice on the page and in the statement (HTML and PDF), not as rows of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from flows import business as business_flows
from storage.models import Contact, Invoice
from tests.bot.test_portal import start_portal
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import NOW, Db
from tests.flows.test_credit_notes_shown import book_note


def seed(db: Db, runtime: Runtime) -> dict[str, Any]:
    with db.session() as session, session.begin():
        business = make_business(session)
        acme = make_contact(
            session, business, name="Acme Industrial", rfc="AIN850101AB2"
        )
        invoice = make_invoice(
            session,
            acme,
            total="11600.00",
            folio="102",
            uuid="11111111-2222-4333-8444-555555555555",
        )
        note = book_note(session, invoice, "2000.00")
        note.xml = "<cfdi:Comprobante/>"
        return {
            "token": business_flows.portal_token(
                session, contact=acme, key=runtime.portal_key, now=NOW
            ),
            "invoice": invoice.id,
            "note": note.id,
            "acme": acme.id,
        }


@pytest.fixture
def site(db: Db, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    client, runtime = start_portal(db, tmp_path / "media")
    with client:
        yield client, seed(db, runtime)
    runtime.db.dispose()


def test_portal_shows_the_note_under_its_invoice(
    site: tuple[TestClient, dict[str, Any]], db: Db
) -> None:
    client, seeded = site

    html = client.get(f"/portal/{seeded['token']}").text

    assert "Factura A-102" in html and "$9,600.00" in html
    assert "Nota de crédito NC-3 · -$2,000.00" in html
    assert f"/facturas/{seeded['note']}.xml" in html
    # The note is shown with its invoice, not as an invoice of its own.
    assert "Factura NC-3" not in html
    with db.session() as session:
        acme = session.get(Contact, seeded["acme"])
        note = session.get(Invoice, seeded["note"])
        assert acme is not None and note is not None and note.cfdi_type == "E"


def test_statement_html_and_pdf_carry_the_note(
    site: tuple[TestClient, dict[str, Any]],
) -> None:
    client, seeded = site

    page = client.get(f"/portal/{seeded['token']}/estado-de-cuenta")
    pdf = client.get(f"/portal/{seeded['token']}/estado-de-cuenta.pdf")

    assert page.status_code == 200
    assert "Nota de crédito NC-3" in page.text and "-$2,000.00" in page.text
    assert page.text.count("NC-3") == 1
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
