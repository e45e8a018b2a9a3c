"""The whole round trip: issue a PPD invoice, stamp it, record a payment, issue its
Pagos 2.0 complement, check every seal, and cancel under the SAT's rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from satcfdi.cfdi import CFDI
from sqlalchemy.orm import Session

from flows.errors import InvalidInput, MoneyRuleViolation
from flows.money import Allocation, record_payment
from flows.render import render_text
from flows.sat.cancel import record_outcome, request_cancellation
from flows.sat.complements import (
    draft_complement,
    issue_complement,
    pending_payments,
    run_complement_reminders,
)
from flows.sat.credentials import load_signer
from flows.sat.issue import draft_invoice, issue_invoice
from flows.sat.pac import FinkokPac
from storage.models import (
    Business,
    Contact,
    Invoice,
    OutboundMessage,
    Payment,
    SatCancellation,
)
from tests.builders import NOW
from tests.conftest import Db
from tests.fakes.pac import FakePac
from tests.flows.sat.certs import Credential
from tests.flows.sat.conftest import SECRETS_KEY, setup_business
from tests.flows.sat.test_issue import check_seals


def _issue(
    session: Session,
    business: Business,
    acme: Contact,
    pac: FinkokPac,
    amount: str,
    now: dt.datetime = NOW,
) -> Invoice:
    draft = draft_invoice(
        session,
        business=business,
        contact=acme,
        amount=Decimal(amount),
        concept="Consultoría de noviembre",
        plus_iva=True,
    )
    signer = load_signer(
        session, business_id=business.id, kind="csd", secrets_key=SECRETS_KEY, now=now
    )
    return issue_invoice(
        session,
        business=business,
        draft=draft,
        signer=signer,
        pac=pac,
        now=now,
        actor="owner",
        channel="cli",
    )


def _pay(
    session: Session, acme: Contact, invoice: Invoice, amount: str, day: int
) -> Payment:
    return record_payment(
        session,
        contact=acme,
        amount=Decimal(amount),
        currency="MXN",
        paid_at=dt.datetime(2026, 11, day, 18, tzinfo=dt.UTC),
        allocations=[Allocation(invoice, Decimal(amount))],
        source="chat",
        actor="owner",
        channel="whatsapp",
        now=NOW,
        method="03",
        reference=f"SPEI{day}",
    )


def test_invoice_payment_complement_and_cancel(
    db: Db, csd: Credential, fiel: Credential, fake_pac: FakePac, pac: FinkokPac
) -> None:
    issued_on = dt.datetime(2026, 11, 2, 17, tzinfo=dt.UTC)
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        invoice = _issue(session, business, acme, pac, "10000", now=issued_on)
        assert invoice.payment_method == "PPD"

        # Two partial payments in November, one complement covering both.
        first = _pay(session, acme, invoice, "5000", 10)
        second = _pay(session, acme, invoice, "6600", 20)
        assert first.complement_status == second.complement_status == "pending"
        assert invoice.balance == Decimal("0.00")

        draft = draft_complement(session, business=business, contact=acme)
        assert draft.payment_ids == [first.id, second.id]
        assert "$5,000.00" in draft.summary and invoice.label in draft.summary

        signer = load_signer(
            session,
            business_id=business.id,
            kind="csd",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        complement = issue_complement(
            session,
            business=business,
            payment_ids=draft.payment_ids,
            signer=signer,
            pac=pac,
            now=NOW,
            actor="owner",
            channel="whatsapp",
        )
        session.commit()
        assert first.complement_uuid == second.complement_uuid == complement.uuid
        assert pending_payments(session, business_id=business.id) == []

        assert complement.xml is not None
        cfdi: CFDI = check_seals(complement.xml.encode())
        assert cfdi["TipoDeComprobante"] == "P"
        pagos = cfdi["Complemento"]["Pagos"]
        assert pagos["Totales"]["MontoTotalPagos"] == Decimal("11600.00")
        docs = [p["DoctoRelacionado"][0] for p in pagos["Pago"]]
        assert [d["NumParcialidad"] for d in docs] == [1, 2]
        assert [d["ImpSaldoAnt"] for d in docs] == [
            Decimal("11600.00"),
            Decimal("6600.00"),
        ]
        assert [d["ImpSaldoInsoluto"] for d in docs] == [
            Decimal("6600.00"),
            Decimal("0.00"),
        ]
        assert all(d["IdDocumento"] == invoice.uuid for d in docs)

        # An invoice with a complement in force cannot be cancelled.
        with pytest.raises(MoneyRuleViolation, match="complemento"):
            request_cancellation(
                session,
                business=business,
                invoice=invoice,
                motive="02",
                signer=signer,
                pac=pac,
                now=NOW,
                actor="owner",
                channel="whatsapp",
            )

        # Motive 01 needs its substitute issued first; then the customer must accept.
        wrong = _issue(session, business, acme, pac, "2000", now=issued_on)
        with pytest.raises(InvalidInput, match="sustituye"):
            request_cancellation(
                session,
                business=business,
                invoice=wrong,
                motive="01",
                signer=signer,
                pac=pac,
                now=NOW,
                actor="owner",
                channel="whatsapp",
            )
        right = _issue(session, business, acme, pac, "2100")
        cancellation = request_cancellation(
            session,
            business=business,
            invoice=wrong,
            motive="01",
            substitute_uuid=right.uuid,
            signer=signer,
            pac=pac,
            now=NOW,
            actor="owner",
            channel="whatsapp",
        )
        assert wrong.uuid is not None
        assert fake_pac.cancelled[wrong.uuid] == "01"
        assert cancellation.status == "pending_acceptance"
        assert wrong.status == "pending"

        record_outcome(
            session, business_id=business.id, uuid=wrong.uuid, accepted=True, now=NOW
        )
        assert wrong.status == "cancelled" and wrong.balance == Decimal("2320.00")

        # A small invoice cancels at once, without acceptance.
        small = _issue(session, business, acme, pac, "500")
        done = request_cancellation(
            session,
            business=business,
            invoice=small,
            motive="03",
            signer=signer,
            pac=pac,
            now=NOW,
            actor="owner",
            channel="whatsapp",
        )
        assert done.status == "cancelled" and small.status == "cancelled"
        session.commit()
        assert session.query(SatCancellation).count() == 2


def test_complement_reminder_before_the_fifth(
    db: Db, csd: Credential, fiel: Credential, pac: FinkokPac
) -> None:
    issued_on = dt.datetime(2026, 11, 2, 17, tzinfo=dt.UTC)
    with db.session() as session:
        business, acme = setup_business(session, csd, fiel)
        invoice = _issue(session, business, acme, pac, "1000", now=issued_on)
        _pay(session, acme, invoice, "500", 15)
        session.commit()

    # On 3 December (NOW) a November payment without complement is reminded once.
    assert run_complement_reminders(db.factory, NOW) == 1
    assert run_complement_reminders(db.factory, NOW + dt.timedelta(hours=1)) == 0
    # From the 5th on, nothing is planned.
    assert run_complement_reminders(db.factory, NOW + dt.timedelta(days=3)) == 0
    with db.session() as session:
        row = session.query(OutboundMessage).one()
        assert row.template == "sat_notice"
        text = render_text("messages/sat_notice.txt.j2", row.payload)
        assert "Acme" in text and "el 5 de este mes" in text
