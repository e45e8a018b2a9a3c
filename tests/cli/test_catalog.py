"""`cobra catalog fill|list|add|update` against the test database."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import Result

from storage.db import transaction
from tests.builders import make_business
from tests.conftest import Db


def test_add_list_update(db: Db, cobra: Callable[..., Result]) -> None:
    with transaction(db.factory) as session:
        make_business(session, rfc="FTU010101AB1")

    added = cobra(
        "catalog add --business FTU010101AB1 --description 'Caja de tornillos' "
        "--price 350 --product-key 31161500 --unit-key H87"
    )
    assert added.exit_code == 0, added.output
    updated = cobra(
        "catalog update --business FTU010101AB1 --item tornillos --price 375.50"
    )
    assert updated.exit_code == 0, updated.output
    listed = cobra("catalog list --business FTU010101AB1 --json")
    [item] = json.loads(listed.output)["items"]
    assert item["unit_price"] == "375.5" and item["product_key"] == "31161500"

    filled = cobra("catalog fill --business FTU010101AB1 --json")
    assert json.loads(filled.output) == {"added": 0}
    missing = cobra("catalog update --business FTU010101AB1 --item cemento --price 1")
    assert missing.exit_code == 1
