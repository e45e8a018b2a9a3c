"""Fixtures for the SAT side: a business with its CSD, a customer with tax data, and
the loopback PAC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from flows.sat.credentials import CredentialKind, store_credential
from flows.sat.pac import FinkokPac
from storage.models import Business, Contact
from tests.builders import NOW, make_business, make_contact
from tests.fakes.pac import FakePac, running_fake_pac
from tests.flows.sat.certs import Credential, issue, pac_credential

SECRETS_KEY = "clave-de-pruebas-para-cifrar"
BUSINESS_RFC = "FTU010101AB1"
ACME_RFC = "AIM050610RT2"


@dataclass
class SatSetup:
    business_id: int
    acme_id: int
    csd: Credential
    fiel: Credential


@pytest.fixture(scope="session")
def csd() -> Credential:
    return issue(BUSINESS_RFC, "FERRETERIA LA TUERCA")


@pytest.fixture(scope="session")
def fiel() -> Credential:
    return issue(BUSINESS_RFC, "FERRETERIA LA TUERCA", kind="fiel")


@pytest.fixture
def fake_pac() -> Iterator[FakePac]:
    with running_fake_pac(pac_credential().signer()) as fake:
        yield fake


@pytest.fixture
def pac(fake_pac: FakePac) -> FinkokPac:
    return FinkokPac(base_url=fake_pac.base_url, username="u", password="p")


def setup_business(
    session: Session, csd: Credential, fiel: Credential
) -> tuple[Business, Contact]:
    business = make_business(session, rfc=BUSINESS_RFC)
    business.tax_regime = "601"
    business.postal_code = "06600"
    acme = make_contact(session, business, name="Acme Industrial", rfc=ACME_RFC)
    acme.tax_regime = "601"
    acme.postal_code = "64000"
    acme.terms_days = 30
    for kind, cred in ((CredentialKind.CSD, csd), (CredentialKind.FIEL, fiel)):
        store_credential(
            session,
            business=business,
            kind=kind,
            certificate=cred.certificate,
            key=cred.key,
            password=cred.password,
            secrets_key=SECRETS_KEY,
            actor="test",
            channel="cli",
            now=NOW,
        )
    session.flush()
    return business, acme
