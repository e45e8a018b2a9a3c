"""Accuracy and speed of language understanding over the labelled set.

Usage: python bench/nlu.py [--verbose]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.nlu import Intent, Role, Understanding, understand  # noqa: E402
from handlers.nlu.semantic import default_classifier  # noqa: E402
from handlers.nlu.types import allowed_intents  # noqa: E402
from handlers.nlu.understand import understand_by_rules  # noqa: E402

LABELLED = Path(__file__).resolve().parent.parent / "tests/handlers/nlu/labelled.jsonl"
TODAY = datetime.date(2026, 12, 3)

logger = logging.getLogger(__name__)


def load_labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    """The labelled messages, one JSON object a line."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def entity_errors(row: dict[str, Any], got: Understanding) -> list[str]:
    """What the understanding got wrong against a labelled row's entities."""
    entities = got.entities
    errors = []
    expected_amount = Decimal(row["amount"]) if "amount" in row else None
    if entities.amount != expected_amount:
        errors.append(f"amount {entities.amount} != {expected_amount}")
    refs = [str(ref) for ref in entities.invoice_refs]
    if refs != row.get("refs", []):
        errors.append(f"refs {refs} != {row.get('refs', [])}")
    checks = {
        "currency": entities.currency,
        "customer": entities.customer,
        "date": entities.date.isoformat() if entities.date else None,
        "period": entities.period,
        "phone": entities.phone,
        "email": entities.email,
        "reply": entities.text,
        "all": entities.all_contacts,
    }
    for key, value in checks.items():
        if key in row and row[key] != value:
            errors.append(f"{key} {value!r} != {row[key]!r}")
    return errors


def _measure(
    rows: list[dict[str, Any]], *, semantic: bool
) -> tuple[int, float, list[str]]:
    right = 0
    misses = []
    started = time.perf_counter()
    for row in rows:
        role = Role(row["role"])
        if semantic:
            got: Understanding | None = understand(row["text"], role=role, today=TODAY)
        else:
            got = understand_by_rules(row["text"], role=role, today=TODAY)
        intent = got.intent if got else Intent.UNKNOWN
        if intent == Intent(row["intent"]):
            right += 1
        else:
            misses.append(
                f"{row['role']:8} {row['text']!r}: {intent} != {row['intent']}"
            )
    per_message = (time.perf_counter() - started) / len(rows)
    return right, per_message, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    rows = load_labelled()

    right, per_message, misses = _measure(rows, semantic=False)
    print(
        f"rules:          {right}/{len(rows)} = {right / len(rows):.1%} intent, "
        f"{per_message * 1000:.2f} ms/message"
    )
    if args.verbose:
        print("\n".join("  " + miss for miss in misses))

    understand("calentando el índice", role=Role.OWNER, today=TODAY)
    right, per_message, misses = _measure(rows, semantic=True)
    print(
        f"rules+semantic: {right}/{len(rows)} = {right / len(rows):.1%} intent, "
        f"{per_message * 1000:.2f} ms/message"
    )
    if args.verbose:
        print("\n".join("  " + miss for miss in misses))

    classifier = default_classifier()
    right = 0
    started = time.perf_counter()
    for row in rows:
        role = Role(row["role"])
        intent, _ = classifier.classify(row["text"], allowed_intents(role))
        right += intent == Intent(row["intent"])
    per_message = (time.perf_counter() - started) / len(rows)
    print(
        f"semantic alone: {right}/{len(rows)} = {right / len(rows):.1%} intent, "
        f"{per_message * 1000:.2f} ms/message (no rules; unsure counts as wrong)"
    )

    wrong_entities = []
    for row in rows:
        got = understand(row["text"], role=Role(row["role"]), today=TODAY)
        errors = entity_errors(row, got)
        if errors:
            wrong_entities.append(f"{row['text']!r}: {'; '.join(errors)}")
    print(f"entities:       {len(rows) - len(wrong_entities)}/{len(rows)} rows exact")
    if args.verbose:
        print("\n".join("  " + wrong for wrong in wrong_entities))


if __name__ == "__main__":
    main()
