"""Issuing a CFDI 4.0 Ingreso: draft, seal with the CSD, stamp at the loopback PAC."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from satcfdi.cfdi import CFDI
from satcfdi.models import Certificate

from flows.cfdi import import_sources
from flows.errors import InvalidInput, ProviderError
from flows.sat.credentials import load_signer
from flows.sat.issue import draft_invoice, issue_invoice
from flows.sat.pac import FinkokPac
from storage.models import Invoice
from tests.builders import NOW
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential, pac_credential
from tests.flows.sat.conftest import SECRETS_KEY, setup_business


def check_seals(xml: bytes) -> CFDI:
    """The issuer's seal and the PAC's stamp both verify."""
    cfdi = CFDI.from_string(xml)
    certificate = Certificate.load_certificate(base64.b64decode(cfdi["Certificado"]))
    assert certificate.verify_sha256(
        cfdi.cadena_original().encode(), base64.b64decode(cfdi["Sello"])
    )
    tfd = cfdi["Complemento"]["TimbreFiscalDigital"]
    assert tfd["SelloCFD"] == cfdi["Sello"]
    pac = pac_credential().signer()
    assert tfd["NoCertificadoSAT"] == pac.certificate_number
    assert pac.verify_sha256(
        tfd.cadena_original().encode(), base64.b64decode(tfd["SelloSAT"])
    )
    return cfdi


def test_draft_uses_tax_data_terms_and_iva(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        draft = draft_invoice(
            session,
            business=business,
            contact=acme,
            amount=Decimal("10000"),
            concept="Consultoría de noviembre",
            plus_iva=True,
        )
        assert (draft.subtotal, draft.iva, draft.total) == (
            "10000.00",
            "1600.00",
            "11600.00",
        )
        assert draft.payment_method == "PPD" and draft.payment_form == "99"
        assert (draft.product_key, draft.unit_key) == ("84111506", "E48")
        assert "Acme" in draft.summary() and "$11,600.00" in draft.summary()

        acme.terms_days = 0
        pue = draft_invoice(
            session,
            business=business,
            contact=acme,
            amount=Decimal("1160"),
            concept="Tornillos",
            plus_iva=False,
        )
        assert pue.payment_method == "PUE" and pue.total == "1160.00"

        acme.postal_code = None
        with pytest.raises(InvalidInput, match="código postal"):
            draft_invoice(
                session,
                business=business,
                contact=acme,
                amount=Decimal("1"),
                concept="x",
                plus_iva=True,
            )


def test_issue_signs_stamps_and_books(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac, pac: FinkokPac
) -> None:
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        draft = draft_invoice(
            session,
            business=business,
            contact=acme,
            amount=Decimal("10000"),
            concept="Consultoría de noviembre",
            plus_iva=True,
        )
        signer = load_signer(
            session,
            business_id=business.id,
            kind="csd",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        invoice = issue_invoice(
            session,
            business=business,
            draft=draft,
            signer=signer,
            pac=pac,
            now=NOW,
            actor="owner",
            channel="cli",
        )
        session.commit()
        assert invoice.uuid in fake_pac.stamped
        assert invoice.label == "A-1"
        assert invoice.total == Decimal("11600.00")
        assert invoice.payment_method == "PPD"
        assert invoice.source == "issued"
        assert str(invoice.due_date) == "2027-01-02"
        assert invoice.xml is not None
        cfdi = check_seals(invoice.xml.encode())
        assert cfdi["Receptor"]["Rfc"] == acme.rfc
        business_id = business.id

    # The import (what the SAT sync feeds) sees the same CFDI as already booked.
    report = import_sources(
        db.factory,
        business_id=business_id,
        sources=[("a1.xml", fake_pac.stamped[invoice.uuid])],
        now=NOW,
    )
    assert report.duplicates == 1 and report.imported == 0
    with db.session() as session:
        assert session.query(Invoice).count() == 1


def test_pac_rejection_reads_plainly(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac, pac: FinkokPac
) -> None:
    fake_pac.failures.append(
        ("305", "La fecha de emisión no esta dentro de la vigencia del CSD del Emisor")
    )
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        draft = draft_invoice(
            session,
            business=business,
            contact=acme,
            amount=Decimal("100"),
            concept="Servicio",
            plus_iva=True,
        )
        signer = load_signer(
            session,
            business_id=business.id,
            kind="csd",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        with pytest.raises(ProviderError) as caught:
            issue_invoice(
                session,
                business=business,
                draft=draft,
                signer=signer,
                pac=pac,
                now=NOW,
                actor="owner",
                channel="cli",
            )
        assert "vigencia del CSD" in caught.value.message
        assert not caught.value.temporary


def test_unreachable_pac_is_temporary(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    pac = FinkokPac(base_url="http://127.0.0.1:9", username="u", password="p")
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        draft = draft_invoice(
            session,
            business=business,
            contact=acme,
            amount=Decimal("100"),
            concept="Servicio",
            plus_iva=True,
        )
        signer = load_signer(
            session,
            business_id=business.id,
            kind="csd",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        with pytest.raises(ProviderError) as caught:
            issue_invoice(
                session,
                business=business,
                draft=draft,
                signer=signer,
                pac=pac,
                now=NOW,
                actor="owner",
                channel="cli",
            )
        assert caught.value.temporary and "PAC" in caught.value.message
