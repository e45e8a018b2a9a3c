"""Understanding what owners, staff and customers write: intents and entities.

Rules first, then an offline semantic classifier, then an optional LLM.
"""

from handlers.nlu.contacts import ContactCandidate, ContactMatch, match_contacts
from handlers.nlu.normalize import normalize
from handlers.nlu.parsing import parse_amount, parse_date, parse_invoice_refs
from handlers.nlu.types import Entities, Intent, InvoiceRef, Role, Understanding
from handlers.nlu.understand import understand

__all__ = [
    "ContactCandidate",
    "ContactMatch",
    "Entities",
    "Intent",
    "InvoiceRef",
    "Role",
    "Understanding",
    "match_contacts",
    "normalize",
    "parse_amount",
    "parse_date",
    "parse_invoice_refs",
    "understand",
]
