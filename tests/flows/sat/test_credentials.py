"""Storing the e.firma and CSD: encrypted at rest, checked on the way in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from flows.errors import InvalidInput, NotFound
from flows.sat.credentials import (
    CredentialInfo,
    CredentialKind,
    MissingSecretsKey,
    load_signer,
    store_credential,
)
from storage.models import Business, SatCredential
from tests.builders import NOW, make_business
from tests.conftest import Db
from tests.flows.sat.certs import Credential, issue
from tests.flows.sat.conftest import BUSINESS_RFC, SECRETS_KEY


def _store(
    session: Session,
    business: Business,
    cred: Credential,
    *,
    password: str | None = None,
    secrets_key: str | None = SECRETS_KEY,
) -> CredentialInfo:
    """Store `cred` as the CSD, with its own password unless another is given."""
    return store_credential(
        session,
        business=business,
        kind=CredentialKind.CSD,
        certificate=cred.certificate,
        key=cred.key,
        password=cred.password if password is None else password,
        secrets_key=secrets_key,
        actor="test",
        channel="cli",
        now=NOW,
    )


def test_stored_encrypted_and_loaded_back(db: Db, csd: Credential) -> None:
    with db.session() as session:
        business = make_business(session, rfc=BUSINESS_RFC)
        info = _store(session, business, csd)
        session.commit()
        assert info.rfc == BUSINESS_RFC
        row = session.query(SatCredential).one()
        assert csd.password not in row.password_encrypted
        assert row.key_encrypted.encode() != csd.key
        signer = load_signer(
            session,
            business_id=business.id,
            kind="csd",
            secrets_key=SECRETS_KEY,
            now=NOW,
        )
        assert signer.certificate_number == info.certificate_number


def test_refuses_without_secrets_key(db: Db, csd: Credential) -> None:
    with db.session() as session:
        business = make_business(session, rfc=BUSINESS_RFC)
        with pytest.raises(MissingSecretsKey) as caught:
            _store(session, business, csd, secrets_key=None)
        assert "SECRETS_KEY" in caught.value.message


def test_refuses_wrong_password_other_rfc_and_expired(db: Db, csd: Credential) -> None:
    with db.session() as session:
        business = make_business(session, rfc=BUSINESS_RFC)
        with pytest.raises(InvalidInput, match="contraseña"):
            _store(session, business, csd, password="otra")
        other = issue("XAXX010101000", "OTRO")
        with pytest.raises(InvalidInput, match="otro RFC"):
            _store(session, business, other)
        old = issue(
            BUSINESS_RFC, "LA TUERCA", not_after=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
        with pytest.raises(InvalidInput, match="venció"):
            _store(session, business, old)


def test_missing_credential_and_changed_key(db: Db, csd: Credential) -> None:
    with db.session() as session:
        business = make_business(session, rfc=BUSINESS_RFC)
        with pytest.raises(NotFound):
            load_signer(
                session, business_id=business.id, kind="csd", secrets_key="x", now=NOW
            )
        _store(session, business, csd)
        with pytest.raises(MissingSecretsKey, match="cambió"):
            load_signer(
                session,
                business_id=business.id,
                kind="csd",
                secrets_key="otra-clave",
                now=NOW,
            )
