"""Every example the help texts give is understood by the rules alone: what Cobra
tells people to write must work, with or without the semantic classifier."""

from __future__ import annotations

import datetime
import re

import pytest

from handlers.nlu import Intent, Role
from handlers.nlu.understand import understand_by_rules
from prompts.texts import HELP_CUSTOMER, HELP_OWNER

EXAMPLES = [
    (example, role)
    for text, role in ((HELP_OWNER, Role.OWNER), (HELP_CUSTOMER, Role.CUSTOMER))
    for example in re.findall(r"«([^»]+)»", text)
]

SELF_NAMING = {Intent.ISSUE_INVOICE, Intent.ISSUE_COMPLEMENT}


def test_the_help_texts_give_examples() -> None:
    assert len(EXAMPLES) > 30


@pytest.mark.parametrize(("example", "role"), EXAMPLES, ids=[e for e, _ in EXAMPLES])
def test_a_help_example_is_understood(example: str, role: Role) -> None:
    found = understand_by_rules(example, role=role, today=datetime.date(2026, 12, 3))

    assert found is not None and found.intent is not Intent.UNKNOWN
    # Invoices and complements read the customer out of their own wording.
    if "Acme" in example and found.intent not in SELF_NAMING:
        assert found.entities.customer == "Acme"
