"""Issuing, complements and cancellations by chat, through the conversation engine
on both databases, with the loopback PAC and the tests' own certificates."""

# The SAT fixtures are imported from tests/flows/sat/conftest.py, so the test
# arguments that take them shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

from satcfdi.cfdi import CFDI
from sqlalchemy import select

from flows.business import add_user
from flows.messages import Channel, Inbound, Reply
from flows.render import render_text
from flows.sat.notices import cfdi_attachments
from handlers.context import EngineConfig
from handlers.engine import Engine
from handlers.sat import SatEngineConfig, sat_config
from storage.db import transaction
from storage.models import (
    CfdiComplement,
    CfdiPdf,
    ComplementStatus,
    Invoice,
    InvoiceStatus,
    OutboundMessage,
    Payment,
    SatCancellation,
)
from tests.builders import NOW
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import (  # noqa: F401 - the fixtures
    SECRETS_KEY,
    csd,
    fake_pac,
    fiel,
    setup_business,
)

OWNER = "+525511112222"
STAFF = "+525533334444"


class Chat:
    def __init__(self, db: Db, fake: FakePac | None, sender: str = OWNER) -> None:
        base: dict[str, Any] = {
            "public_base_url": "https://cobra.test",
            "portal_key": b"k" * 32,
        }
        config: EngineConfig = EngineConfig(**base)
        if fake is not None:
            config = SatEngineConfig(
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
        self.sender = sender
        self.now = NOW

    def say(self, text: str) -> Reply:
        self.now += dt.timedelta(seconds=30)
        return self.engine.handle(
            Inbound(Channel.WHATSAPP, self.sender, text, self.now)
        )


def setup(db: Db, csd: Credential, fiel: Credential) -> dict[str, int]:
    with transaction(db.factory) as session:
        business, acme = setup_business(session, csd, fiel)
        acme.emails = "pagos@acme.mx"
        add_user(session, business=business, role="staff", whatsapp=STAFF, now=NOW)
        session.flush()
        return {"business": business.id, "acme": acme.id}


def issued(db: Db) -> list[Invoice]:
    with db.session() as session:
        rows = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        for row in rows:
            _ = row.xml
        return list(rows)


def issue_by_chat(chat: Chat) -> Reply:
    draft = chat.say("Factúrale a Acme 10 mil más IVA por consultoría de noviembre")
    assert "Consultoría de noviembre" in draft.text
    assert "Subtotal $10,000.00" in draft.text and "Total $11,600.00" in draft.text
    assert "PPD" in draft.text and "¿La timbro" in draft.text
    return chat.say("sí")


def test_owner_issues_an_invoice_by_chat(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)

    done = issue_by_chat(chat)

    [invoice] = issued(db)
    assert invoice.total == Decimal("11600.00") and invoice.status == "pending"
    assert invoice.payment_method == "PPD" and invoice.source == "issued"
    assert invoice.uuid is not None
    assert f"factura {invoice.label}" in done.text and invoice.uuid in done.text
    stamped = CFDI.from_string(fake_pac.stamped[invoice.uuid])
    assert stamped["Receptor"]["Rfc"] == "AIM050610RT2"
    assert stamped["Conceptos"][0]["Descripcion"] == "Consultoría de noviembre"

    with db.session() as session:
        [row] = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "sat_notice")
        ).all()
        assert row.recipient == "pagos@acme.mx" and row.channel == "email"
        assert invoice.label in render_text("email/sat_notice.txt.j2", row.payload)
        started = time.perf_counter()
        files = cfdi_attachments(session, row.payload, now=NOW)
        assert time.perf_counter() - started < 2.0
        assert [f.content_type for f in files] == ["application/pdf"]
        assert files[0].content.startswith(b"%PDF")
        session.commit()
        assert session.scalar(select(CfdiPdf.uuid)) == invoice.uuid


def test_a_pac_refusal_comes_back_in_spanish(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    fake_pac.failures.append(
        ("305", "La fecha de emisión no está dentro de la vigencia")
    )

    refused = issue_by_chat(chat)

    assert "No se pudo timbrar la factura" in refused.text
    assert "fuera de la vigencia del CSD" in refused.text
    assert issued(db) == []


def test_without_a_pac_configured_nothing_is_stamped(
    db: Db, csd: Credential, fiel: Credential
) -> None:
    setup(db, csd, fiel)
    refused = issue_by_chat(Chat(db, None))
    assert "no está configurada" in refused.text
    assert issued(db) == []


def test_complement_offered_after_a_chat_payment(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    issue_by_chat(chat)
    [invoice] = issued(db)

    chat.say(f"Acme me pagó 5 mil de la {invoice.label}")
    recorded = chat.say("sí")
    assert "Registré $5,000.00" in recorded.text
    assert "¿Timbro el complemento de pago?" in recorded.text

    stamped = chat.say("sí")
    assert "Timbré el complemento de pago P-" in stamped.text
    with db.session() as session:
        payment = session.scalars(select(Payment)).one()
        assert payment.complement_status == ComplementStatus.ISSUED
        complement = session.scalars(select(CfdiComplement)).one()
        assert complement.uuid == payment.complement_uuid
        assert complement.uuid in stamped.text
        assert complement.xml is not None
        pago = CFDI.from_string(complement.xml.encode())
        related = pago["Complemento"]["Pagos"]["Pago"][0]["DoctoRelacionado"][0]
        assert related["IdDocumento"] == invoice.uuid
        assert related["ImpSaldoAnt"] == Decimal("11600.00")
        assert related["ImpPagado"] == Decimal("5000.00")
        # The receipt still waiting in the outbox carries the complement along.
        receipt = session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.dedupe_key == f"receipt:{payment.id}:email"
            )
        ).one()
        assert receipt.payload["attach_complement_ids"] == [complement.id]
        files = cfdi_attachments(session, receipt.payload, now=NOW)
        assert [f.content_type for f in files] == ["application/xml", "application/pdf"]


def test_complement_by_name_and_staff_never_asked(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    owner = Chat(db, fake_pac)
    issue_by_chat(owner)
    [invoice] = issued(db)

    staff = Chat(db, fake_pac, sender=STAFF)
    staff.say(f"Acme me pagó 2 mil de la {invoice.label}")
    recorded = staff.say("sí")
    assert "Registré $2,000.00" in recorded.text
    assert "complemento" not in recorded.text
    refused = staff.say("timbra el complemento de Acme")
    assert "dueñ" in refused.text

    ask = owner.say("timbra el complemento de Acme")
    assert "Complemento de pago para Acme" in ask.text and "$2,000.00" in ask.text
    done = owner.say("sí")
    assert "Timbré el complemento" in done.text
    assert len(fake_pac.stamped) == 2


def _cancel_setup(db: Db, chat: Chat) -> Invoice:
    issue_by_chat(chat)
    [invoice] = issued(db)
    return invoice


def test_cancel_with_motive_02_needs_acceptance(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    invoice = _cancel_setup(db, chat)
    # Issued more than a day ago: the customer must accept.
    with transaction(db.factory) as session:
        row = session.get(Invoice, invoice.id)
        assert row is not None
        row.issued_at = NOW - dt.timedelta(days=3)

    motives = chat.say(f"cancela la {invoice.label}")
    assert "¿Por qué motivo" in motives.text
    assert all(f"0{n}." in motives.text for n in range(1, 5))
    confirm = chat.say("2")
    assert "Motivo 02" in confirm.text and "¿La cancelo?" in confirm.text
    assert fake_pac.cancelled == {}

    done = chat.say("sí")
    assert "Pedí la cancelación" in done.text
    assert fake_pac.cancelled == {invoice.uuid: "02"}
    with db.session() as session:
        cancellation = session.scalars(select(SatCancellation)).one()
        assert cancellation.status == "pending_acceptance"
        assert session.get_one(Invoice, invoice.id).status == InvoiceStatus.PENDING


def test_cancel_with_motive_03_right_away(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    invoice = _cancel_setup(db, chat)

    chat.say(f"cancela la {invoice.label}")
    chat.say("motivo 3")
    done = chat.say("sí")
    assert "El SAT canceló" in done.text
    assert fake_pac.cancelled == {invoice.uuid: "03"}
    with db.session() as session:
        assert session.get_one(Invoice, invoice.id).status == InvoiceStatus.CANCELLED


def test_cancel_with_motive_01_names_its_substitute(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    wrong = _cancel_setup(db, chat)
    issue_by_chat(chat)
    right = issued(db)[1]

    chat.say(f"cancela la {wrong.label}")
    ask = chat.say("1")
    assert "¿Cuál es la nueva?" in ask.text
    unknown = chat.say("A-999")
    assert "No encontré la factura A-999" in unknown.text

    chat.say(f"cancela la {wrong.label}")
    chat.say("01")
    confirm = chat.say(f"la {right.label}")
    assert right.uuid is not None
    assert right.uuid in confirm.text and "Motivo 01" in confirm.text
    chat.say("sí")
    assert fake_pac.cancelled == {wrong.uuid: "01"}
    with db.session() as session:
        row = session.scalars(select(SatCancellation)).one()
        assert row.substitute_uuid == right.uuid


def test_cancel_refused_with_a_complement_in_force_and_for_staff(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    chat = Chat(db, fake_pac)
    invoice = _cancel_setup(db, chat)

    staff = Chat(db, fake_pac, sender=STAFF)
    assert "dueñ" in staff.say(f"cancela la {invoice.label}").text

    chat.say(f"Acme me pagó 1000 de la {invoice.label}")
    chat.say("sí")
    chat.say("sí")
    refused = chat.say(f"cancela la {invoice.label}")
    assert "complemento(s) de pago vigente(s)" in refused.text
    assert fake_pac.cancelled == {}


def test_staff_may_not_issue(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac
) -> None:
    setup(db, csd, fiel)
    staff = Chat(db, fake_pac, sender=STAFF)
    refused = staff.say("Factúrale a Acme 10 mil más IVA por consultoría de noviembre")
    assert "dueñ" in refused.text
    assert issued(db) == [] and fake_pac.stamped == {}
