"""Outbox delivery on both databases, through a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping

from sqlalchemy import select

from bot.smtp import SmtpSender
from flows.errors import ProviderError
from flows.outbox import (
    MAX_ATTEMPTS,
    DeliveryCounts,
    LogSender,
    RenderedMessage,
    Sender,
    deliver_pending,
    enqueue,
)
from flows.reminders import plan_reminders
from flows.render import message_id
from storage.models import OutboundMessage, OutboxStatus
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.flows.reminders.conftest import at
from tests.flows.reminders.smtp_server import Mailbox

DUE = dt.date(2026, 12, 1)
XML = '<?xml version="1.0" encoding="UTF-8"?><cfdi:Comprobante Folio="1"/>'


class RecordingSender:
    """A chat sender that keeps what it was asked to send, or fails as told."""

    def __init__(self, channel: str, failures: list[ProviderError] | None = None):
        self.channel = channel
        self.sent: list[RenderedMessage] = []
        self.failures = list(failures or [])

    def send(self, message: RenderedMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"SM{message.outbox_id:06d}"


def senders(
    mailbox: Mailbox, whatsapp: RecordingSender | None = None
) -> Mapping[str, Sender]:
    return {
        "email": SmtpSender(host=mailbox.host, port=mailbox.port, timeout=5),
        "whatsapp": whatsapp or RecordingSender("whatsapp"),
        "telegram": LogSender("telegram"),
    }


def queue_email(db: Db, count: int = 1, *, channel: str = "email") -> list[int]:
    """Owner-notice rows are the simplest payload; each gets its own key."""
    with db.session() as s, s.begin():
        business = make_business(s)
        ids = []
        for n in range(count):
            row = enqueue(
                s,
                business_id=business.id,
                channel=channel,
                recipient="pagos@acme.mx" if channel == "email" else "+525533334444",
                template="payment_receipt",
                payload={
                    "business_name": "Ferretería La Tuerca",
                    "contact_name": "Acme",
                    "amount": "100.00",
                    "currency": "MXN",
                    "paid_on": "2026-12-03",
                    "reference": None,
                    "invoices": [
                        {"label": "A-1", "amount": "100.00", "balance_after": "0.00"}
                    ],
                    "remaining": [],
                    "portal_url": "https://cobra.test/portal/x",
                },
                dedupe_key=f"test:{n}",
                now=NOW,
            )
            assert row is not None
            ids.append(row.id)
        return ids


def rows(db: Db) -> list[OutboundMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_a_reminder_goes_out_as_html_and_text_with_the_xml(
    db: Db, mailbox: Mailbox
) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, emails="pagos@acme.mx, cxp@acme.mx")
        invoice = make_invoice(
            s, acme, issue_date=dt.date(2026, 12, 3), due_date=dt.date(2027, 1, 2)
        )
        invoice.xml = XML
    plan_reminders(
        db.factory,
        now=at(dt.date(2026, 12, 3), 9),
        public_base_url="https://cobra.test",
        portal_key=b"k" * 32,
    )

    counts = deliver_pending(
        db.factory, senders=senders(mailbox), now=at(dt.date(2026, 12, 3), 9, 1)
    )

    assert counts.sent == 1
    [email] = mailbox.messages
    assert mailbox.envelopes[0][1] == ["pagos@acme.mx", "cxp@acme.mx"]
    assert email["Subject"] == "Ferretería La Tuerca: nueva factura"
    plain_part = email.get_body(("plain",))
    html_part = email.get_body(("html",))
    assert plain_part is not None and html_part is not None
    text = plain_part.get_content()
    html = html_part.get_content()
    assert "$1,160.00" in text and "https://cobra.test/portal/" in text
    assert "$1,160.00" in html and "<table" in html
    [xml] = [part for part in email.iter_attachments()]
    filename = xml.get_filename()
    assert filename is not None and filename.endswith(".xml")
    assert b"Comprobante" in xml.get_content()
    [row] = rows(db)
    assert row.status == OutboxStatus.SENT and row.provider_id == email["Message-ID"]
    assert row.provider_id == f"<{message_id(row)}@localhost>"


def test_quiet_hours_hold_delivery_until_eight(db: Db, mailbox: Mailbox) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, emails="pagos@acme.mx")
        make_invoice(s, acme, issue_date=dt.date(2026, 11, 1), due_date=DUE)
    plan_reminders(
        db.factory,
        now=at(DUE, 21),
        public_base_url="https://cobra.test",
        portal_key=b"k" * 32,
    )

    night = deliver_pending(db.factory, senders=senders(mailbox), now=at(DUE, 23))
    dawn = deliver_pending(
        db.factory, senders=senders(mailbox), now=at(DUE + dt.timedelta(1), 7, 59)
    )
    morning = deliver_pending(
        db.factory, senders=senders(mailbox), now=at(DUE + dt.timedelta(1), 8)
    )

    assert (night.sent, dawn.sent, morning.sent) == (0, 0, 1)
    assert len(mailbox.messages) == 1


def test_two_workers_send_each_message_once(db: Db, mailbox: Mailbox) -> None:
    ids = queue_email(db, 60)
    barrier = threading.Barrier(2)
    totals: list[DeliveryCounts] = []

    def work() -> None:
        sender = senders(mailbox)
        barrier.wait()
        while True:
            counts = deliver_pending(db.factory, senders=sender, now=NOW, limit=7)
            totals.append(counts)
            if counts.claimed == 0:
                return

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    received = mailbox.message_ids()
    assert len(received) == 60 and len(set(received)) == 60
    assert sum(c.sent for c in totals) == 60
    assert all(r.status == OutboxStatus.SENT and r.attempts == 1 for r in rows(db))
    assert sorted(r.id for r in rows(db)) == ids


def test_a_killed_worker_email_is_resent_with_the_same_message_id(
    db: Db, mailbox: Mailbox
) -> None:
    [outbox_id] = queue_email(db)
    with db.session() as s, s.begin():
        row = s.get_one(OutboundMessage, outbox_id)
        row.status = OutboxStatus.SENDING
        row.attempts = 1
        row.claim_token = "dead-process"
        row.claimed_until = NOW - dt.timedelta(seconds=1)
        expected = f"<{message_id(row)}@localhost>"

    counts = deliver_pending(db.factory, senders=senders(mailbox), now=NOW)

    assert counts.requeued == 1 and counts.sent == 1
    assert mailbox.message_ids() == [expected]


def test_a_killed_worker_whatsapp_is_not_resent_and_the_owner_is_told(
    db: Db, mailbox: Mailbox
) -> None:
    [outbox_id] = queue_email(db, channel="whatsapp")
    with db.session() as s, s.begin():
        row = s.get_one(OutboundMessage, outbox_id)
        row.status = OutboxStatus.SENDING
        row.claim_token = "dead-process"
        row.claimed_until = NOW - dt.timedelta(seconds=1)
    whatsapp = RecordingSender("whatsapp")

    counts = deliver_pending(db.factory, senders=senders(mailbox, whatsapp), now=NOW)

    assert counts.uncertain == 1
    stuck, notice = rows(db)
    assert stuck.status == OutboxStatus.FAILED and stuck.delivery_status == "uncertain"
    assert notice.template == "owner_notice" and notice.status == OutboxStatus.SENT
    # Only the owner's notice went out, to the owner's number.
    assert [m.recipient for m in whatsapp.sent] == ["+525511112222"]
    assert "no lo repetí" in whatsapp.sent[0].text


def test_a_chat_message_that_may_have_gone_out_is_not_resent(
    db: Db, mailbox: Mailbox
) -> None:
    queue_email(db, channel="whatsapp")
    maybe = ProviderError("WhatsApp no contestó", uncertain=True)
    whatsapp = RecordingSender("whatsapp", [maybe])

    counts = deliver_pending(db.factory, senders=senders(mailbox, whatsapp), now=NOW)
    again = deliver_pending(
        db.factory, senders=senders(mailbox, whatsapp), now=NOW + dt.timedelta(hours=1)
    )

    # The second pass sends the owner's notice and nothing else.
    assert (counts.uncertain, again.claimed, again.sent) == (1, 1, 1)
    stuck, notice = rows(db)
    assert stuck.status == OutboxStatus.FAILED and stuck.delivery_status == "uncertain"
    assert notice.template == "owner_notice" and notice.payload["kind"] == "uncertain"
    assert [m.recipient for m in whatsapp.sent] == ["+525511112222"]


def test_a_lease_still_running_is_left_alone_and_an_expired_claim_is_retaken(
    db: Db, mailbox: Mailbox
) -> None:
    first, second = queue_email(db, 2)
    with db.session() as s, s.begin():
        held = s.get_one(OutboundMessage, first)
        held.status = OutboxStatus.SENDING
        held.claim_token = "live"
        held.claimed_until = NOW + dt.timedelta(minutes=1)
        stale = s.get_one(OutboundMessage, second)
        stale.claim_token = "gone"  # claimed, never started, lease over
        stale.claimed_until = NOW - dt.timedelta(minutes=1)

    counts = deliver_pending(db.factory, senders=senders(mailbox), now=NOW)

    assert counts.sent == 1 and counts.requeued == 0
    assert [r.status for r in rows(db)] == [OutboxStatus.SENDING, OutboxStatus.SENT]


def test_temporary_failures_back_off_then_the_message_dies(
    db: Db, mailbox: Mailbox
) -> None:
    queue_email(db, channel="whatsapp")
    failing = RecordingSender(
        "whatsapp", [ProviderError("Twilio 503", temporary=True)] * MAX_ATTEMPTS
    )
    moment = NOW
    delays = []
    for _ in range(MAX_ATTEMPTS):
        deliver_pending(db.factory, senders=senders(mailbox, failing), now=moment)
        row = rows(db)[0]
        if row.status == OutboxStatus.PENDING:
            next_at = row.next_attempt_at.replace(tzinfo=dt.UTC)
            delays.append(int((next_at - moment).total_seconds() // 60))
            moment = next_at
    assert delays == [1, 2, 4, 8, 16]
    dead, notice = rows(db)[:2]
    assert dead.status == OutboxStatus.DEAD and dead.attempts == MAX_ATTEMPTS
    assert dead.last_error == "Twilio 503"
    assert notice.template == "owner_notice" and notice.payload["kind"] == "dead"


def test_a_permanent_failure_dies_at_once(db: Db, mailbox: Mailbox) -> None:
    queue_email(db)
    mailbox.refuse["pagos@acme.mx"] = "550 5.1.1 no such user"

    counts = deliver_pending(db.factory, senders=senders(mailbox), now=NOW)

    assert counts.dead == 1
    dead, notice = rows(db)[:2]
    assert dead.status == OutboxStatus.DEAD and dead.attempts == 1
    assert notice.channel == "whatsapp" and notice.payload["recipient"] == "pa…@acme.mx"


def test_a_temporary_smtp_refusal_is_retried(db: Db, mailbox: Mailbox) -> None:
    queue_email(db)
    mailbox.refuse["pagos@acme.mx"] = "451 4.3.0 try later"
    first = deliver_pending(db.factory, senders=senders(mailbox), now=NOW)
    mailbox.refuse.clear()
    second = deliver_pending(
        db.factory, senders=senders(mailbox), now=NOW + dt.timedelta(minutes=1)
    )
    assert (first.retried, second.sent) == (1, 1)
    assert rows(db)[0].attempts == 2


def test_a_channel_without_credentials_is_logged_and_marked_sent(db: Db) -> None:
    [outbox_id] = queue_email(db, channel="whatsapp")
    counts = deliver_pending(
        db.factory, senders={"whatsapp": LogSender("whatsapp")}, now=NOW
    )
    assert counts.sent == 1
    assert rows(db)[0].provider_id == f"log-{outbox_id}"


def test_whatsapp_outside_the_window_needs_a_template(db: Db) -> None:
    from storage.models import Contact

    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(
            s, business, emails="pagos@acme.mx", whatsapp="+525533334444"
        )
        acme.whatsapp_reminders = True
        acme.whatsapp_last_inbound_at = NOW - dt.timedelta(hours=2)
        make_invoice(
            s, acme, issue_date=dt.date(2026, 11, 1), due_date=dt.date(2026, 12, 3)
        )
        acme_id = acme.id
    plan_reminders(
        db.factory, now=NOW, public_base_url="https://cobra.test", portal_key=b"k" * 32
    )
    whatsapp = RecordingSender("whatsapp")
    deliver_pending(
        db.factory, senders={"email": LogSender("email"), "whatsapp": whatsapp}, now=NOW
    )
    [inside] = whatsapp.sent
    assert not inside.template_required and "vence hoy" in inside.text
    assert (
        inside.whatsapp_template == "reminder" and inside.variables["3"] == "$1,160.00"
    )

    with db.session() as s, s.begin():
        acme = s.get_one(Contact, acme_id)
        acme.whatsapp_last_inbound_at = NOW - dt.timedelta(hours=30)
    plan_reminders(
        db.factory,
        now=NOW + dt.timedelta(days=3),
        public_base_url="https://cobra.test",
        portal_key=b"k" * 32,
    )
    deliver_pending(
        db.factory,
        senders={"email": LogSender("email"), "whatsapp": whatsapp},
        now=NOW + dt.timedelta(days=3),
    )
    assert whatsapp.sent[1].template_required


def test_a_planned_message_due_at_night_waits_without_using_an_attempt(
    db: Db, mailbox: Mailbox
) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, emails="pagos@acme.mx")
        make_invoice(s, acme, issue_date=dt.date(2026, 11, 1), due_date=DUE)
    plan_reminders(
        db.factory,
        now=at(DUE, 9),
        public_base_url="https://cobra.test",
        portal_key=b"k" * 32,
    )

    # The outbox was down all day; it comes back at 21:00.
    night = deliver_pending(db.factory, senders=senders(mailbox), now=at(DUE, 21))

    assert night.deferred == 1 and mailbox.messages == []
    [row] = rows(db)
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == at(DUE + dt.timedelta(1), 8)
    morning = deliver_pending(
        db.factory, senders=senders(mailbox), now=at(DUE + dt.timedelta(1), 8)
    )
    assert morning.sent == 1


def test_owner_messages_use_the_window_of_the_owners_last_message(db: Db) -> None:
    from flows.render import render_outbound
    from storage.models import InboundMessage

    [outbox_id] = queue_email(db, channel="whatsapp")
    with db.session() as s, s.begin():
        row = s.get_one(OutboundMessage, outbox_id)
        row.contact_id = None
        row.recipient = "+525511112222"
        assert render_outbound(s, row, NOW).template_required
        s.add(
            InboundMessage(
                channel="whatsapp",
                provider_message_id="SM1",
                sender="+525511112222",
                text="¿cuánto me deben?",
                received_at=NOW - dt.timedelta(hours=1),
            )
        )
        s.flush()
        assert not render_outbound(s, row, NOW).template_required
