"""Credit notes end to end through the engine, on both databases, with the loopback
PAC: issued and applied, refused above the balance, imported from elsewhere, and a
note issued here coming back from the SAT as a duplicate."""

# The SAT fixtures are imported from tests/flows/sat/conftest.py, so the test
# arguments that take them shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from satcfdi.cfdi import CFDI
from sqlalchemy import select

from flows.cfdi import import_sources
from flows.messages import Channel, Inbound, Reply
from handlers.context import EngineConfig
from handlers.engine import Engine
from handlers.sat import SatEngineConfig, sat_config
from storage.db import transaction
from storage.models import Invoice, Payment
from tests.builders import NOW, make_invoice
from tests.cfdi_factory import Party, credit_note, new_uuid
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import (  # noqa: F401 - the fixtures
    BUSINESS_RFC,
    SECRETS_KEY,
    csd,
    fake_pac,
    fiel,
    setup_business,
)

OWNER = "+525511112222"
ACME = Party("AIM050610RT2", "ACME INDUSTRIAL", "601", "64000")
ISSUER = Party(BUSINESS_RFC, "FERRETERIA LA TUERCA", "601", "06600")
INVOICE_UUID = new_uuid("a-102")


class Chat:
    def __init__(self, db: Db, fake: FakePac) -> None:
        base: dict[str, Any] = {
            "public_base_url": "https://cobra.test",
            "portal_key": b"k" * 32,
        }
        config: EngineConfig = SatEngineConfig(
            **base,
            sat=sat_config(
                secrets_key=SECRETS_KEY,
                pac_provider="finkok",
                pac_base_url=fake.base_url,
                pac_user="u",
                pac_password="p",
            ),
        )
        self.engine = Engine(db.factory, config)
        self.now = NOW

    def say(self, text: str) -> Reply:
        self.now += dt.timedelta(seconds=30)
        return self.engine.handle(Inbound(Channel.WHATSAPP, OWNER, text, self.now))


def setup(db: Db, csd: Credential, fiel: Credential) -> dict[str, int]:
    with transaction(db.factory) as session:
        business, acme = setup_business(session, csd, fiel)
        invoice = make_invoice(
            session, acme, total="11600.00", folio="102", uuid=INVOICE_UUID
        )
        return {"business": business.id, "invoice": invoice.id}


def invoice_of(db: Db, invoice_id: int) -> Invoice:
    with db.session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


def notes(db: Db) -> list[Invoice]:
    with db.session() as session:
        rows = session.scalars(select(Invoice).where(Invoice.cfdi_type == "E")).all()
        return list(rows)


def test_credit_note_is_stamped_and_lowers_the_balance(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    chat = Chat(db, fake_pac)

    draft = chat.say("hazle una nota de crédito a Acme por 2 mil de la A-102")
    assert "Nota de crédito para Acme Industrial" in draft.text
    assert "Total $2,000.00" in draft.text and "IVA 16% $275.86" in draft.text
    assert "quedará debiendo $9,600.00" in draft.text
    assert fake_pac.stamped == {}

    done = chat.say("sí")

    [note] = notes(db)
    assert note.uuid is not None
    assert note.label == "NC-1" and note.uuid in done.text
    assert "ahora debe $9,600.00" in done.text
    assert note.balance == 0 and note.total == Decimal("2000.00")
    assert invoice_of(db, ids["invoice"]).balance == Decimal("9600.00")
    stamped = CFDI.from_string(fake_pac.stamped[note.uuid])
    assert stamped["TipoDeComprobante"] == "E"
    [related] = stamped["CfdiRelacionados"]
    assert related["TipoRelacion"] == "01"
    assert list(related["CfdiRelacionado"]) == [INVOICE_UUID]
    with db.session() as session:
        [payment] = session.scalars(select(Payment)).all()
        assert payment.idempotency_key == f"cfdi-e:{note.uuid}:1"
        assert payment.complement_uuid == note.uuid

    # The same note downloaded later from the SAT is a duplicate, not a second
    # credit.
    report = import_sources(
        db.factory,
        business_id=ids["business"],
        sources=[("nc.xml", _bytes(fake_pac.stamped[note.uuid]))],
        now=NOW,
    )
    assert report.duplicates == 1
    assert invoice_of(db, ids["invoice"]).balance == Decimal("9600.00")


def _bytes(xml: str | bytes) -> bytes:
    return xml if isinstance(xml, bytes) else xml.encode()


def test_credit_note_above_the_balance_is_refused(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    ids = setup(db, csd, fiel)
    chat = Chat(db, fake_pac)

    reply = chat.say("nota de crédito a Acme por 20 mil de la A-102")

    assert "sólo debe $11,600.00" in reply.text
    assert "sí" not in reply.text.lower().split()
    chat.say("sí")
    assert fake_pac.stamped == {} and notes(db) == []
    assert invoice_of(db, ids["invoice"]).balance == Decimal("11600.00")


def test_credit_note_issued_elsewhere_applies_on_import(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    ids = setup(db, csd, fiel)
    document = credit_note(
        issuer=ISSUER, receiver=ACME, related=[INVOICE_UUID], total="1160.00"
    )

    report = import_sources(
        db.factory, business_id=ids["business"], sources=[("nc.xml", document)], now=NOW
    )

    assert report.credit_notes == 1 and report.payments_applied == 1
    assert invoice_of(db, ids["invoice"]).balance == Decimal("10440.00")


def test_staff_cannot_issue_credit_notes(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    from flows.business import add_user
    from storage.models import Business

    setup(db, csd, fiel)
    with transaction(db.factory) as session:
        business = session.scalars(select(Business)).one()
        add_user(
            session, business=business, role="staff", whatsapp="+525533334444", now=NOW
        )
    engine = Chat(db, fake_pac).engine
    reply = engine.handle(
        Inbound(
            Channel.WHATSAPP,
            "+525533334444",
            "nota de crédito a Acme por 2 mil de la A-102",
            NOW,
        )
    )
    assert "Timbré" not in reply.text and "¿La timbro?" not in reply.text
