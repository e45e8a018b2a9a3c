"""The owner uploads the e.firma or the CSD through a one-time link from the chat."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot import sat_web
from bot.logs import JsonFormatter
from flows.business import add_user
from flows.messages import Channel, Inbound
from flows.render import render_outbound
from flows.sat import upload_links
from flows.sat.credentials import load_signer
from prompts import texts
from storage.models import (
    AuditEvent,
    OutboundMessage,
    SatCredential,
    SatUploadLink,
)
from tests.bot.conftest import PUBLIC_BASE_URL, Serve, Service, make_settings
from tests.builders import NOW, make_business
from tests.conftest import Db
from tests.flows.sat.certs import Credential, issue
from tests.flows.sat.conftest import BUSINESS_RFC, SECRETS_KEY, csd, fiel

__all__ = ["csd", "fiel"]  # the SAT tests' certificates, reused as fixtures here

OWNER = "+525511112222"
STAFF = "+525533334444"
COBRA_PACKAGES = {"bot", "handlers", "flows", "storage"}


@pytest.fixture
def service(db: Db, serve: Serve) -> Service:
    with db.session() as session, session.begin():
        business = make_business(session, rfc=BUSINESS_RFC)
        add_user(session, business=business, role="staff", whatsapp=STAFF, now=NOW)
    started: Service = serve(make_settings(db, secrets_key=SECRETS_KEY))
    started.runtime.extras[sat_web.CLOCK] = started.clock
    return started


def say(service: Service, text: str, *, sender: str = OWNER) -> str:
    inbound = Inbound(Channel.WHATSAPP, sender, text, service.clock.now)
    return service.runtime.engine.handle(inbound).text


def link_path(reply: str) -> str:
    assert PUBLIC_BASE_URL + "/sat/credenciales/" in reply
    return reply.split(PUBLIC_BASE_URL, 1)[1].split()[0]


def files(credential: Credential, **overrides: Any) -> dict[str, Any]:
    sent = {
        "cer": ("fiel.cer", credential.certificate, "application/octet-stream"),
        "key": ("fiel.key", credential.key, "application/octet-stream"),
    }
    sent.update(overrides)
    return sent


def post(service: Service, path: str, credential: Credential, password: str) -> Any:
    return service.client.post(
        path, files=files(credential), data={"password": password}
    )


def stored(db: Db) -> list[SatCredential]:
    with db.session() as session:
        return list(session.scalars(select(SatCredential)))


def test_owner_uploads_the_fiel_through_the_chat_link(
    db: Db, service: Service, fiel: Credential, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = say(service, "sube mi e.firma")
    assert ".key" in reply and "contraseña" in reply
    assert "nunca aquí en el chat" in reply
    path = link_path(reply)

    page = service.client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="password"' in page.text and "<script" not in page.text
    assert "Sube tu e.firma" in page.text

    done = post(service, path, fiel, fiel.password)
    assert done.status_code == 200, done.text
    assert "Listo: guardé tu e.firma" in done.text
    assert BUSINESS_RFC in done.text
    assert "1 ene 2025" in done.text and "1 ene 2029" in done.text
    assert done.headers["cache-control"] == "no-store"

    # Stored encrypted: the key and the password never in the clear.
    [row] = stored(db)
    assert row.kind == "fiel" and row.rfc == BUSINESS_RFC
    assert row.certificate_number in done.text
    assert fiel.password not in row.password_encrypted
    assert fiel.key.hex() not in row.key_encrypted
    with db.session() as session:
        signer = load_signer(
            session,
            business_id=row.business_id,
            kind="fiel",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        assert signer.rfc == BUSINESS_RFC
        link = session.scalars(select(SatUploadLink)).one()
        assert link.used_at is not None and link.token_hash not in path
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sat.credential.stored")
        ).one()
        assert event.channel == "web" and event.actor.startswith("user:")

    # The link is used up.
    assert post(service, path, fiel, fiel.password).status_code == 404
    assert service.client.get(path).status_code == 404

    # The owner hears about it in the chat, without the key or the password.
    with db.session() as session:
        notices = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "sat_notice")
        ).all()
        assert [(n.channel, n.recipient) for n in notices] == [("whatsapp", OWNER)]
        assert notices[0].payload["kind"] == "credential_stored"
        text = render_outbound(session, notices[0], NOW).text
        assert "Guardé tu e.firma" in text and row.certificate_number in text
        assert "1 ene 2029" in text
        for message in session.scalars(select(OutboundMessage)):
            assert fiel.password not in json.dumps(message.payload)

    # Nor in any log line, with every structured field written out.
    # (The test's own HTTP client logs the addresses it requests; Cobra does not.)
    token = path.rsplit("/", 1)[1]
    ours = [r for r in caplog.records if r.name.split(".")[0] in COBRA_PACKAGES]
    assert len(ours) >= 4
    for record in caplog.records:
        assert fiel.password not in JsonFormatter().format(record)
    for record in ours:
        assert token not in JsonFormatter().format(record)


def test_owner_uploads_the_csd(db: Db, service: Service, csd: Credential) -> None:
    reply = say(service, "quiero subir mi CSD")
    assert "CSD (sello digital)" in reply
    path = link_path(reply)
    assert "Sube tu CSD" in service.client.get(path).text

    done = post(service, path, csd, csd.password)
    assert done.status_code == 200 and "guardé tu CSD" in done.text
    assert [row.kind for row in stored(db)] == ["csd"]

    # Asking again says what is stored and that a new one replaces it.
    again = say(service, "sello digital")
    assert "Ya tengo un CSD vigente hasta el 1 ene 2029" in again


def test_wrong_password_keeps_the_link(
    db: Db, service: Service, fiel: Credential
) -> None:
    path = link_path(say(service, "sube mi e.firma"))

    wrong = post(service, path, fiel, "no-es-la-contraseña")
    assert wrong.status_code == 422
    assert "revisa la contraseña" in wrong.text
    assert 'type="password"' in wrong.text  # the form again
    assert "no-es-la-contraseña" not in wrong.text
    assert stored(db) == []
    with db.session() as session:
        assert session.scalars(select(SatUploadLink)).one().used_at is None
        assert session.scalars(select(OutboundMessage)).all() == []

    assert post(service, path, fiel, fiel.password).status_code == 200


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("other_rfc", "es de otro RFC"),
        ("expired", "ya venció"),
        ("mismatched_key", "no corresponden"),
        ("missing_key", "Falta el archivo"),
        ("too_large", "pasan de 64 KB"),
    ],
)
def test_refused_uploads_store_nothing(
    db: Db, service: Service, fiel: Credential, case: str, expected: str
) -> None:
    path = link_path(say(service, "sube mi e.firma"))
    sent = files(fiel)
    if case == "other_rfc":
        sent = files(issue("OTR020202AB2", "OTRA EMPRESA", kind="fiel"))
    elif case == "expired":
        old = issue(BUSINESS_RFC, "LA TUERCA", not_after=NOW - dt.timedelta(days=30))
        sent = files(old)
    elif case == "mismatched_key":
        other = issue(BUSINESS_RFC, "LA TUERCA", kind="fiel")
        sent = files(fiel, key=("fiel.key", other.key, "application/octet-stream"))
    elif case == "missing_key":
        sent = {"cer": sent["cer"]}
    elif case == "too_large":
        sent = files(fiel, key=("fiel.key", b"0" * 70_000, "application/octet-stream"))

    refused = service.client.post(path, files=sent, data={"password": fiel.password})
    assert refused.status_code in (413, 422)
    assert expected in refused.text
    assert stored(db) == []
    assert service.client.get(path).status_code == 200  # still usable


def test_expired_or_wrong_link_is_a_plain_404(
    service: Service, fiel: Credential
) -> None:
    path = link_path(say(service, "sube mi e.firma"))
    service.clock.advance(hours=24, seconds=1)
    for response in (
        service.client.get(path),
        post(service, path, fiel, fiel.password),
        service.client.get("/sat/credenciales/no-existe"),
    ):
        assert response.status_code == 404
        assert "Este enlace ya no sirve" in response.text
        assert response.headers["cache-control"] == "no-store"


def test_a_new_link_replaces_the_earlier_one(service: Service) -> None:
    first = link_path(say(service, "sube mi e.firma"))
    second = link_path(say(service, "mándame otra liga para la e.firma"))
    assert service.client.get(first).status_code == 404
    assert service.client.get(second).status_code == 200


def test_staff_cannot_get_a_link(db: Db, service: Service) -> None:
    reply = say(service, "sube mi CSD", sender=STAFF)
    assert reply == texts.OWNER_ONLY
    with db.session() as session:
        assert session.scalars(select(SatUploadLink)).all() == []


def test_without_secrets_key_the_page_says_so(db: Db, serve: Serve) -> None:
    with db.session() as session, session.begin():
        business = make_business(session, rfc=BUSINESS_RFC)
        token = upload_links.issue_upload_link(
            session, business_id=business.id, kind="csd", actor="test", now=NOW
        )
    service = serve(make_settings(db))
    service.runtime.extras[sat_web.CLOCK] = service.clock

    page = service.client.get(f"/sat/credenciales/{token}")
    assert page.status_code == 503
    assert "La facturación no está configurada" in page.text
    assert "falta SECRETS_KEY" in say(service, "sube mi CSD")


def test_no_csd_message_points_to_the_chat_link(service: Service) -> None:
    reply = say(service, "Factúrale a Acme 10 mil más IVA por consultoría")
    assert "Aún no tengo tu CSD" in reply and "Escribe «sube mi CSD»" in reply
