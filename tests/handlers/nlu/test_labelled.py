"""The labelled set: intent accuracy and exact amounts and invoice references."""

import datetime
from decimal import Decimal

import pytest

from bench.nlu import entity_errors, load_labelled
from handlers.nlu import Intent, Role, understand
from handlers.nlu.understand import understand_by_rules

TODAY = datetime.date(2026, 12, 3)  # a Thursday
ROWS = load_labelled()


def test_set_is_large_enough() -> None:
    owner_staff = [row for row in ROWS if row["role"] in ("owner", "staff")]
    customer = [row for row in ROWS if row["role"] == "customer"]
    assert len(owner_staff) >= 250
    assert len(customer) >= 80


def test_rules_and_semantic_intent_accuracy() -> None:
    right = sum(
        understand(row["text"], role=Role(row["role"]), today=TODAY).intent
        == Intent(row["intent"])
        for row in ROWS
    )
    assert right / len(ROWS) >= 0.95


def test_rules_alone_intent_accuracy() -> None:
    right = 0
    for row in ROWS:
        got = understand_by_rules(row["text"], role=Role(row["role"]), today=TODAY)
        right += got is not None and got.intent == Intent(row["intent"])
    assert right / len(ROWS) >= 0.90


@pytest.mark.parametrize("row", ROWS, ids=[row["text"][:40] for row in ROWS])
def test_amounts_and_invoice_refs_exact(row: dict) -> None:
    got = understand(row["text"], role=Role(row["role"]), today=TODAY)
    expected = Decimal(row["amount"]) if "amount" in row else None
    assert got.entities.amount == expected
    assert [str(ref) for ref in got.entities.invoice_refs] == row.get("refs", [])


def test_other_entities_mostly_exact() -> None:
    wrong = [
        row["text"]
        for row in ROWS
        if entity_errors(
            row, understand(row["text"], role=Role(row["role"]), today=TODAY)
        )
    ]
    assert len(wrong) <= len(ROWS) * 0.03, wrong
