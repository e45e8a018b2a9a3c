"""The sales catalog by chat (owner only): "agrega el producto Caja de tornillos a
$350 más IVA" adds an item with the business's usual SAT keys."""

from __future__ import annotations

import logging
import re

from flows import catalog
from flows.errors import InvalidInput
from flows.fmt import money
from flows.messages import Reply
from handlers.context import Turn
from handlers.nlu import Intent, Understanding

log = logging.getLogger(__name__)

_NAME = re.compile(
    r"\b(?:producto|servicio|art[ií]culo)\s+(?:llamado\s+|que se llama\s+)?"
    r"[«\"“]?(?P<name>.+?)[»\"”]?\s*,?"
    r"(?:\s+(?:a|en|por|de|con precio de|que cuesta|cuesta)\s+\$?\s*\d|\s*\$|\s*:|$)",
    re.IGNORECASE,
)
_INCLUDED = re.compile(r"iva incluido|con iva|incluye iva|ya con iva", re.IGNORECASE)
_NO_TAX = re.compile(r"sin iva|exento|no lleva iva", re.IGNORECASE)


def add_item(turn: Turn, understanding: Understanding) -> Reply:
    text = turn.inbound.text
    match = _NAME.search(text)
    name = match.group("name").strip(" .,") if match else ""
    if not name:
        raise InvalidInput(
            "¿Cómo se llama? Escribe, por ejemplo, «agrega el producto Caja de "
            "tornillos a $350 más IVA»."
        )
    price = understanding.entities.amount
    if price is None:
        raise InvalidInput(f"¿A cuánto vendes «{name}»? Por ejemplo «a $350 más IVA».")
    exempt = bool(_NO_TAX.search(text))
    included = bool(_INCLUDED.search(text))
    item = catalog.add_item(
        turn.session,
        business=turn.business,
        description=name,
        unit_price=price,
        now=turn.now,
        source="chat",
        plus_iva=not included,
        vat=None if exempt else "16",
    )
    tax = "sin IVA" if exempt else "más IVA"
    return Reply().say(
        f"Listo ✅ Agregué «{item.description}» a {money(item.unit_price)} {tax} "
        f"(clave {item.product_key}, unidad {item.unit_key})."
    )


INTENTS = {Intent.ADD_SALES_ITEM: add_item}
OWNER_ONLY = frozenset({Intent.ADD_SALES_ITEM})
