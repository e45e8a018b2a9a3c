"""The sales catalog on both databases: filled from stored CFDIs, looked up by name
(with a question when two fit), added by chat and CLI, and used in a new invoice
stamped with the loopback PAC."""

# The SAT fixtures are imported from tests/flows/sat/conftest.py, so the test
# arguments that take them shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from satcfdi.cfdi import CFDI
from sqlalchemy import select

from flows import catalog
from flows.cfdi import import_sources
from flows.errors import Ambiguous, NotFound
from flows.messages import Channel, Inbound
from flows.sat.credentials import CredentialKind, load_signer
from flows.sat.issue import issue_invoice
from flows.sat.pac import FinkokPac
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.db import transaction
from storage.models import Business, Contact, SalesItem
from tests.builders import NOW
from tests.cfdi_factory import Item, Party, invoice
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import (  # noqa: F401 - the fixtures
    BUSINESS_RFC,
    SECRETS_KEY,
    csd,
    fake_pac,
    fiel,
    pac,
    setup_business,
)

OWNER = "+525511112222"
ACME = Party("AIM050610RT2", "ACME INDUSTRIAL", "601", "64000")
ISSUER = Party(BUSINESS_RFC, "FERRETERIA LA TUERCA", "601", "06600")
SCREWS = Item("Caja de tornillos", Decimal(2), Decimal("350.00"), "31161500", "H87")
WIRING = Item(
    "Instalación eléctrica", Decimal(1), Decimal("1200.00"), "72151500", "E48"
)


def setup(db: Db, csd: Credential, fiel: Credential) -> tuple[int, int]:
    with transaction(db.factory) as session:
        business, acme = setup_business(session, csd, fiel)
        ids = business.id, acme.id
    older = invoice(
        issuer=ISSUER,
        receiver=ACME,
        items=[
            Item("Caja de tornillos", Decimal(1), Decimal("300.00"), "31161500", "H87")
        ],
        issued=dt.datetime(2026, 9, 1, 10),
        folio="90",
    )
    newer = invoice(issuer=ISSUER, receiver=ACME, items=[SCREWS, WIRING], folio="91")
    report = import_sources(
        db.factory,
        business_id=ids[0],
        sources=[("a90.xml", older), ("a91.xml", newer)],
        now=NOW,
    )
    assert report.receivables == 2
    return ids


def test_fill_from_cfdis_takes_the_newest_price_once(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    business_id, _ = setup(db, csd, fiel)
    with transaction(db.factory) as session:
        assert catalog.fill_from_cfdis(session, business_id=business_id, now=NOW) == 2
        assert catalog.fill_from_cfdis(session, business_id=business_id, now=NOW) == 0
        items = {
            i.description: i for i in catalog.items_of(session, business_id=business_id)
        }
    screws = items["Caja de tornillos"]
    assert screws.unit_price == Decimal("350.00") and screws.vat == "16"
    assert (screws.product_key, screws.unit_key) == ("31161500", "H87")
    assert items["Instalación eléctrica"].product_key == "72151500"


def test_fuzzy_lookup_asks_when_two_fit(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    business_id, _ = setup(db, csd, fiel)
    with transaction(db.factory) as session:
        business = session.get(Business, business_id)
        assert business is not None
        catalog.fill_from_cfdis(session, business_id=business_id, now=NOW)
        found = catalog.find_item(session, business_id=business_id, name="tornilos")
        assert found.description == "Caja de tornillos"
        catalog.add_item(
            session,
            business=business,
            description="Caja de tornillos grande",
            unit_price=Decimal("500"),
            now=NOW,
            source="cli",
        )
        with pytest.raises(Ambiguous) as asked:
            catalog.find_item(session, business_id=business_id, name="caja tornillos")
        assert "Caja de tornillos grande" in asked.value.message
        with pytest.raises(NotFound):
            catalog.find_item(session, business_id=business_id, name="cemento gris")


def test_catalog_item_in_a_new_invoice(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac, pac: FinkokPac
) -> None:
    business_id, acme_id = setup(db, csd, fiel)
    with transaction(db.factory) as session:
        business = session.get(Business, business_id)
        acme = session.get(Contact, acme_id)
        assert business is not None and acme is not None
        catalog.fill_from_cfdis(session, business_id=business_id, now=NOW)
        wiring = catalog.find_item(session, business_id=business_id, name="instalacion")
        draft = catalog.draft_from_items(
            session, business=business, contact=acme, lines=[(wiring, Decimal(1))]
        )
        signer = load_signer(
            session,
            business_id=business_id,
            kind=CredentialKind.CSD,
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        issued = issue_invoice(
            session,
            business=business,
            draft=draft,
            signer=signer,
            pac=pac,
            now=NOW,
            actor="test",
            channel="cli",
        )
        uuid = issued.uuid
    assert uuid is not None
    assert draft.total == "1392.00"
    stamped = CFDI.from_string(fake_pac.stamped[uuid])
    [concept] = stamped["Conceptos"]
    assert concept["ClaveProdServ"] == "72151500" and concept["ClaveUnidad"] == "E48"
    assert concept["Descripcion"] == "Instalación eléctrica"


def test_owner_adds_an_item_by_chat(db: Db, csd: Credential, fiel: Credential) -> None:
    business_id, _ = setup(db, csd, fiel)
    engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))

    reply = engine.handle(
        Inbound(
            Channel.WHATSAPP,
            OWNER,
            "agrega el producto Caja de clavos a $350 más IVA",
            NOW,
            provider_message_id="SM-catalog-1",
        )
    )

    assert "Agregué «Caja de clavos» a $350.00 más IVA" in reply.text
    with db.session() as session:
        item = session.scalars(
            select(SalesItem).where(SalesItem.description == "Caja de clavos")
        ).one()
        assert item.source == "chat" and item.vat == "16"
        # The business's usual keys, from its stored invoices.
        assert item.product_key in ("31161500", "72151500")
