"""`cobra report movements` as CSV and XLSX, on both databases."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from click.testing import Result

from flows.money import Allocation, record_payment
from storage.db import transaction
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db


def seed(db: Db) -> None:
    with transaction(db.factory) as session:
        business = make_business(session)
        acme = make_contact(session, business)
        papelera = make_contact(
            session, business, name="Papelera del Norte", kind="supplier"
        )
        a102 = make_invoice(session, acme, total="3000.00", folio="102")
        f77 = make_invoice(session, papelera, total="5800.00", series="F", folio="77")
        for contact, invoice, amount, day in (
            (acme, a102, "3000.00", dt.datetime(2026, 12, 2, 18, tzinfo=dt.UTC)),
            (papelera, f77, "5800.00", dt.datetime(2026, 12, 3, 5, tzinfo=dt.UTC)),
        ):
            record_payment(
                session,
                contact=contact,
                amount=Decimal(amount),
                currency="MXN",
                paid_at=day,
                allocations=[Allocation(invoice, Decimal(amount))],
                source="stp",
                actor="test",
                channel="test",
                now=NOW,
                reference=f"RASTREO{invoice.folio}",
            )


def test_movements_as_csv(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    result = cobra(
        "report movements --business FTU010101AB1 --from 2026-12-01 --to 2026-12-03"
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:5] == ["fecha", "tipo", "contacto", "rfc", "monto"]
    # 05:00 UTC on the 3rd is still the 2nd in Mexico City.
    assert [r[:3] + [r[4], r[6]] for r in rows[1:]] == [
        ["2026-12-02", "entrada", "Acme Industrial SA de CV", "3000.00", "A-102"],
        ["2026-12-02", "salida", "Papelera del Norte", "5800.00", "F-77"],
    ]

    narrow = cobra(
        "report movements --business FTU010101AB1 --from 2026-12-03 --to 2026-12-03"
    )
    assert narrow.stdout.count("\n") == 1


def test_movements_as_xlsx(
    cobra: Callable[..., Result], db: Db, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    seed(db)
    target = tmp_path / "mov.xlsx"
    result = cobra(
        "report movements --business FTU010101AB1 --from 2026-12-01 --to 2026-12-31 "
        f"--format xlsx --output {target}"
    )
    assert result.exit_code == 0, result.stderr
    book = load_workbook(target)
    sheet = book["Movimientos"]
    assert sheet["C2"].value == "Acme Industrial SA de CV"
    assert sheet["E2"].value == 3000
    totals = [list(r) for r in book["Totales"].iter_rows(min_row=3, values_only=True)]
    assert totals == [["entrada", "MXN", 1, 3000], ["salida", "MXN", 1, 5800]]


def test_bad_input_is_one_line(cobra: Callable[..., Result], db: Db) -> None:
    seed(db)
    bad = cobra("report movements --business FTU010101AB1 --from ayer --to 2026-12-03")
    assert bad.exit_code == 1 and "--from" in bad.stderr
    backwards = cobra(
        "report movements --business FTU010101AB1 --from 2026-12-05 --to 2026-12-03"
    )
    assert backwards.exit_code == 1 and "anterior" in backwards.stderr
    unknown = cobra(
        "report movements --business XXX010101XX1 --from 2026-12-01 --to 2026-12-03"
    )
    assert unknown.exit_code == 1
