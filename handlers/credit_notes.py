"""Credit notes by chat (owner only): "hazle una nota de crédito a Acme por 2 mil de
la A-102" shows the draft Egreso, and on yes stamps it and lowers the balance."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from satcfdi.models import Signer

from flows import credit_notes
from flows.errors import InvalidInput, ProviderError
from flows.fmt import money
from flows.messages import Reply
from flows.sat.credentials import CredentialKind, credential_info, load_signer
from flows.sat.pac import Pac
from handlers import actions
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.entities import extract_customer
from handlers.resolve import find_contact, find_invoices
from handlers.sat import SatConfig
from storage import repo
from storage.models import Invoice

log = logging.getLogger(__name__)

ISSUE_ACTION = "credit_note.issue"
NOT_CONFIGURED = (
    "El timbrado no está configurado en este servidor (falta el PAC); pídele a "
    "quien administra Cobra que lo configure."
)


def ask_credit_note(turn: Turn, understanding: Understanding) -> Reply:
    """Find the invoice and the amount, draft the note and ask before stamping."""
    _require_csd(turn)
    entities = understanding.entities
    if entities.customer is None:
        named = extract_customer(turn.inbound.text, turn.today)
        if named:
            understanding = replace(
                understanding, entities=replace(entities, customer=named)
            )
            entities = understanding.entities

    invoice = _invoice(turn, understanding)
    if isinstance(invoice, Reply):
        return invoice
    if entities.amount is None:
        raise InvalidInput(
            f"¿De cuánto es la nota de crédito? Por ejemplo: «nota de crédito de 2 mil "
            f"a la {invoice.label}»."
        )
    draft = credit_notes.draft_credit_note(
        turn.session, business=turn.business, invoice=invoice, amount=entities.amount
    )
    question = f"{draft.summary()}\n\n¿La timbro?"
    return actions.propose(turn, ISSUE_ACTION, {"draft": draft.as_payload()}, question)


def do_issue_credit_note(turn: Turn, payload: dict[str, Any]) -> Reply:
    draft = credit_notes.CreditNoteDraft.from_payload(payload["draft"])
    signer, pac = _stamping_tools(turn)
    note = credit_notes.issue_credit_note(
        turn.session,
        business=turn.business,
        draft=draft,
        signer=signer,
        pac=pac,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
    )
    invoice = turn.session.get(Invoice, draft.invoice_id)
    assert invoice is not None
    return Reply().say(
        f"Listo ✅ Timbré la nota de crédito {note.label} por "
        f"{money(note.total, note.currency)} sobre la {invoice.label}.\n"
        f"Folio fiscal (UUID): {note.uuid}\n"
        f"La {invoice.label} ahora debe {money(invoice.balance, invoice.currency)}."
    )


def _invoice(turn: Turn, understanding: Understanding) -> Invoice | Reply:
    """The invoice named, or the customer's only open one."""
    refs = understanding.entities.invoice_refs
    if refs:
        found = find_invoices(turn, refs[:1], direction="receivable")
        invoice = found[0]
        if understanding.entities.customer:
            contact = find_contact(turn, understanding)
            if isinstance(contact, Reply):
                return contact
            if invoice.contact_id != contact.id:
                raise InvalidInput(
                    f"La {invoice.label} no es de {contact.display_name}; "
                    "revisa el folio."
                )
        return invoice
    if not understanding.entities.customer:
        raise InvalidInput(
            "¿Sobre qué factura? Escribe, por ejemplo, «nota de crédito a Acme por "
            "2 mil de la A-102»."
        )
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    open_ones = list(
        repo.open_invoices(
            turn.session,
            business_id=turn.business.id,
            direction="receivable",
            contact_id=contact.id,
        )
    )
    if len(open_ones) == 1:
        return open_ones[0]
    if not open_ones:
        raise InvalidInput(f"{contact.display_name} no tiene facturas con saldo.")
    labels = ", ".join(i.label for i in open_ones[:5])
    raise InvalidInput(
        f"{contact.display_name} tiene varias facturas abiertas ({labels}); dime a "
        "cuál va la nota de crédito."
    )


def _stamping_tools(turn: Turn) -> tuple[Signer, Pac]:
    config: SatConfig | None = getattr(turn.config, "sat", None)
    if config is None:
        raise ProviderError(NOT_CONFIGURED, temporary=False)
    signer = load_signer(
        turn.session,
        business_id=turn.business.id,
        kind=CredentialKind.CSD,
        secrets_key=config.secrets_key,
        now=turn.now,
    )
    return signer, config.pac()


def _require_csd(turn: Turn) -> None:
    info = credential_info(
        turn.session, business_id=turn.business.id, kind=CredentialKind.CSD
    )
    if info is None:
        raise InvalidInput(
            "Aún no tengo tu CSD (sello digital) para timbrar. Súbelo con "
            "`cobra sat credentials` y vuelve a pedírmelo."
        )


actions.register(ISSUE_ACTION, do_issue_credit_note)

INTENTS = {Intent.ISSUE_CREDIT_NOTE: ask_credit_note}
OWNER_ONLY = frozenset({Intent.ISSUE_CREDIT_NOTE})
