"""How long Cobra takes to draw a stamped invoice's PDF next to satcfdi's renderer.

    python bench/cfdi_pdf.py [--runs 20] [--satcfdi-runs 3]

Builds a CFDI 4.0 invoice with the tests' own CSD, seals it, stamps it with the
tests' PAC certificate (no network), then times `flows.sat.pdf.cfdi_pdf` and
`satcfdi.render.pdf_bytes` on the same XML.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satcfdi import render  # noqa: E402
from satcfdi.cfdi import CFDI  # noqa: E402

from flows.sat.issue import InvoiceDraft, build_comprobante  # noqa: E402
from flows.sat.pdf import cfdi_pdf  # noqa: E402
from storage.models import Business  # noqa: E402
from tests.fakes.pac import FakePac  # noqa: E402
from tests.flows.sat.certs import issue, pac_credential  # noqa: E402

RFC = "FTU010101AB1"


def stamped_invoice() -> bytes:
    """A sealed and stamped PPD invoice, as the PAC would hand it back."""
    business = Business(
        rfc=RFC, name="Ferretería La Tuerca", tax_regime="601", postal_code="06600"
    )
    draft = InvoiceDraft(
        business_id=1,
        contact_id=1,
        customer_rfc="AIM050610RT2",
        customer_name="Acme Industrial",
        customer_regime="601",
        customer_postal_code="64000",
        use="G03",
        concept="Consultoría de noviembre",
        product_key="84111506",
        unit_key="E48",
        subtotal="10000.00",
        iva="1600.00",
        total="11600.00",
        currency="MXN",
        payment_method="PPD",
        payment_form="99",
        terms_days=30,
    )
    comprobante = build_comprobante(
        business, draft, series="A", folio="1", at=dt.datetime(2026, 12, 3, 11, 0)
    )
    comprobante.sign(issue(RFC, "FERRETERIA LA TUERCA").signer())
    fake = FakePac(signer=pac_credential().signer())
    fake.answer("stamp.wsdl", _stamp_request(comprobante.xml_bytes()))
    [xml] = fake.stamped.values()
    return xml


def _stamp_request(xml: bytes) -> bytes:
    import base64

    return (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        '<s:stamp xmlns:s="http://facturacion.finkok.com/stamp"><s:xml>'
        f"{base64.b64encode(xml).decode()}</s:xml></s:stamp></e:Body></e:Envelope>"
    ).encode()


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--satcfdi-runs", type=int, default=3)
    args = parser.parse_args()

    xml = stamped_invoice()
    first = timed(lambda: cfdi_pdf(xml), 1)[0]
    cobra = timed(lambda: cfdi_pdf(xml), args.runs)
    document = CFDI.from_string(xml)
    theirs = timed(lambda: render.pdf_bytes(document), args.satcfdi_runs)

    cobra_ms = statistics.median(cobra) * 1000
    theirs_ms = statistics.median(theirs) * 1000
    print(f"stamped invoice: {len(xml):,} bytes of XML")
    print(f"cobra   first draw {first * 1000:8.1f} ms")
    print(f"cobra   median     {cobra_ms:8.1f} ms over {args.runs} runs")
    print(f"satcfdi median     {theirs_ms:8.1f} ms over {args.satcfdi_runs} runs")
    print(f"cobra is {theirs_ms / cobra_ms:.0f}x faster; target: under 2,000 ms")


if __name__ == "__main__":
    main()
