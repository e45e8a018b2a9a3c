"""A certificate authority of the tests' own, issuing CSD, e.firma and PAC
certificates shaped like the SAT's (RFC in x500UniqueIdentifier, serial as digits).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from satcfdi.models import Signer

_serials = itertools.count(1)
_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_END = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
PASSWORD = "12345678a"


@dataclass(frozen=True)
class Credential:
    certificate: bytes  # DER, like a .cer
    key: bytes  # encrypted PKCS#8 DER, like a .key
    password: str

    def signer(self) -> Signer:
        return Signer.load(self.certificate, self.key, self.password)


@lru_cache(maxsize=1)
def _authority() -> tuple[rsa.RSAPrivateKey, x509.Name]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC de pruebas Cobra")])
    return key, name


def _serial() -> int:
    digits = f"3000100000050000{next(_serials):04d}"
    return int(digits.encode().hex(), 16)


def issue(
    rfc: str,
    name: str,
    *,
    kind: str = "csd",
    unit: str | None = None,
    not_after: dt.datetime = _END,
    password: str = PASSWORD,
) -> Credential:
    ca_key, ca_name = _authority()
    key = _key()
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, f"{rfc} / "),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(_START)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
    )
    if kind == "fiel":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            False,
        ).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return Credential(
        certificate=cert.public_bytes(serialization.Encoding.DER),
        key=key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        ),
        password=password,
    )


_keys: list[rsa.RSAPrivateKey] = []


def _key() -> rsa.RSAPrivateKey:
    # Key generation is the slow part; a small pool keeps the suite quick.
    if len(_keys) < 6:
        _keys.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _keys[-1]
    return _keys[next(_serials) % len(_keys)]


PAC_RFC = "FIN1203015JA"


@lru_cache(maxsize=1)
def pac_credential() -> Credential:
    return issue(PAC_RFC, "PAC DE PRUEBAS", unit=f"PAC{PAC_RFC}")
