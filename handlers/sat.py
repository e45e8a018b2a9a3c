"""The SAT side in conversation, owner only: issue an invoice (from an amount and a
concept, or from catalog items by name), stamp a payment complement and cancel an
issued CFDI. Each is shown first and runs on the owner's yes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import SecretStr
from satcfdi.models import Signer

from flows import catalog
from flows.errors import Ambiguous, CobraError, InvalidInput, NotFound, ProviderError
from flows.fmt import as_utc, money, zone
from flows.messages import Reply
from flows.sat import notices
from flows.sat.cancel import (
    MOTIVES,
    CancelStatus,
    check_cancellable,
    motive_menu,
    request_cancellation,
)
from flows.sat.complements import draft_complement, issue_complement, pending_payments
from flows.sat.credentials import CredentialKind, credential_info, load_signer
from flows.sat.issue import InvoiceDraft, draft_invoice, issue_invoice
from flows.sat.pac import Pac, make_pac
from flows.sat.pdf import forget_pdf
from handlers import actions
from handlers.context import EngineConfig, Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.entities import extract_customer
from handlers.nlu.normalize import fold
from handlers.resolve import (
    ASK_AMOUNT_FLOW,
    find_contact,
    find_invoices,
    park,
    resumed,
)
from storage.models import ComplementStatus, Contact, Invoice, Payment, SalesItem

log = logging.getLogger(__name__)

CANCEL_FLOW = "sat_cancel"
PICK_ITEM_FLOW = "sat_pick_item"
ISSUE_ACTION = "sat_issue_invoice"
COMPLEMENT_ACTION = "sat_issue_complement"
CANCEL_ACTION = "sat_cancel_invoice"
COMPLEMENT_QUESTION = "¿Timbro el complemento de pago?"
NOT_CONFIGURED = (
    "La facturación no está configurada en este servidor (falta el PAC o "
    "SECRETS_KEY). Pídele a quien administra Cobra que la active."
)


class CancelStep(StrEnum):
    MOTIVE = "motive"
    SUBSTITUTE = "substitute"


@dataclass(frozen=True)
class SatConfig:
    """What stamping needs from the settings: the key that opens the CSD and the
    PAC, built only when something is stamped."""

    secrets_key: SecretStr | str | None
    pac: Callable[[], Pac]


@dataclass(frozen=True)
class SatEngineConfig(EngineConfig):
    """The engine's settings with the SAT side switched on."""

    sat: SatConfig | None = None


def sat_config(
    *,
    secrets_key: SecretStr | str | None,
    pac_provider: str | None,
    pac_base_url: str | None,
    pac_user: str | None,
    pac_password: SecretStr | str | None,
) -> SatConfig:
    """A SatConfig from the PAC_* settings and SECRETS_KEY."""
    password = (
        pac_password.get_secret_value()
        if isinstance(pac_password, SecretStr)
        else pac_password
    )
    return SatConfig(
        secrets_key=secrets_key,
        pac=lambda: make_pac(
            provider=pac_provider,
            base_url=pac_base_url,
            username=pac_user,
            password=password,
        ),
    )


# ---- reading the request -------------------------------------------------------

_VERBS = re.compile(
    r"^\W*(?:oye |por favor |ahora )?(?:quiero |necesito |hay que )?"
    r"(?:facturales?|facturarle|facturar|factura|hazle|hazme|haz|emitele|emite|"
    r"emitir|generale|genera|timbrale|timbra)\b(?:\s+(?:una|la)\s+factura\b)?",
    re.IGNORECASE,
)
_PLUS_IVA = re.compile(
    r"\b(?:m[aá]s|\+)\s*(?:el\s+)?i\.?v\.?a\.?\b|\+\s*iva\b", re.IGNORECASE
)
_IVA_WORDS = re.compile(
    r"\b(?:con\s+)?i\.?v\.?a\.?(?:\s+incluido)?\b|\bneto\b|\+", re.IGNORECASE
)
_CONCEPT = re.compile(
    r"\s(?:por\s+concepto\s+de|concepto:?|de\s+concepto|por)\s+(?!favor\b)"
    r"(?![$\d])(.+)$",
    re.IGNORECASE | re.DOTALL,
)
# "... por 3,500 de reparación": the concept right after the amount.
_CONCEPT_AFTER_AMOUNT = re.compile(
    r"[\d.,]+\s*(?:mil|k)?\s*(?:pesos\s+)?(?:(?:m[aá]s|\+)\s*iva\s+|"
    r"iva\s+incluido\s+)?(?:de|por)\s+(?![$\d])(.+)$",
    re.IGNORECASE | re.DOTALL,
)
_COMPLEMENT_WORDS = re.compile(
    r"\b(?:timbrale|timbra|timbrar|emitele|emite|emitir|hazle|haz|hacer|generale|"
    r"genera|generar|sacale|saca|el|los|complementos?|de pago|pagos)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class InvoiceRequest:
    """An invoice as the owner asked for it, in their own words."""

    customer: str | None
    concept: str
    plus_iva: bool


def read_invoice_request(text: str) -> InvoiceRequest:
    """ "Factúrale a Acme 10 mil más IVA por consultoría de noviembre" read apart:
    the customer's name, the concept and whether IVA goes on top of the amount.

    # Limitation: the concept is what follows the amount ("por ...", "de ...");
    # "factúrale a Acme por consultoría 10 mil más IVA" reads the amount and "más
    # IVA" into the concept. The draft shows the concept before anything is
    # stamped, so the owner sees it and can say no.
    """
    concept = ""
    head = text
    found = _CONCEPT.search(text) or _CONCEPT_AFTER_AMOUNT.search(text)
    if found:
        concept = found.group(1).strip(" .")
        head = text[: found.start()]
    plus_iva = bool(_PLUS_IVA.search(fold(text[: found.start(1)] if found else text)))
    head = _VERBS.sub(" ", head)
    head = _PLUS_IVA.sub(" ", head)
    head = _IVA_WORDS.sub(" ", head)
    customer = extract_customer(head, dt.date(2000, 1, 1))
    concept = concept[:1].upper() + concept[1:]
    return InvoiceRequest(customer=customer, concept=concept, plus_iva=plus_iva)


# ---- issue an invoice ----------------------------------------------------------


def ask_issue_invoice(turn: Turn, understanding: Understanding) -> Reply:
    """Draft the invoice and show it; nothing is sealed until the owner says yes.

    "Factúrale a Acme 3 cajas de tornillos" drafts from catalog items when every
    piece names one; otherwise the request is an amount and a concept.
    """
    entities = understanding.entities
    # The whole request rides along in `text` so a question about the customer, the
    # amount or the item can resume it.
    original = entities.text or turn.inbound.text
    request = read_invoice_request(original)
    pieces = read_item_pieces(original, entities.customer or request.customer)
    understanding = replace(
        understanding,
        entities=replace(
            entities, text=original, customer=entities.customer or request.customer
        ),
    )
    if not request.concept and not pieces:
        return _ask_concept()
    _require_csd(turn)

    contact = find_contact(
        turn, understanding, question="¿A qué cliente le facturo? Escribe su nombre."
    )
    if isinstance(contact, Reply):
        return contact
    if pieces:
        lines = catalog_lines(turn, understanding, contact, pieces)
        if isinstance(lines, Reply):
            return lines
        if lines is not None:
            draft = catalog.draft_from_items(
                turn.session, business=turn.business, contact=contact, lines=lines
            )
            return _propose_issue(turn, draft, contact)
        if not request.concept:
            return _ask_concept()
    if entities.amount is None:
        return park(
            turn,
            ASK_AMOUNT_FLOW,
            understanding,
            f"¿De cuánto es la factura para {contact.display_name}?",
            contact_id=contact.id,
        )
    if entities.currency not in (None, "MXN"):
        return Reply().say("Por ahora sólo facturo en pesos (MXN).")

    draft = draft_invoice(
        turn.session,
        business=turn.business,
        contact=contact,
        amount=entities.amount,
        concept=request.concept,
        plus_iva=request.plus_iva,
    )
    return _propose_issue(turn, draft, contact)


def _propose_issue(turn: Turn, draft: InvoiceDraft, contact: Contact) -> Reply:
    question = (
        f"{draft.summary()}\n\n¿La timbro y se la mando a {contact.display_name}?"
    )
    return actions.propose(turn, ISSUE_ACTION, {"draft": draft.as_payload()}, question)


def _ask_concept() -> Reply:
    return Reply().say(
        "¿Por qué concepto es la factura? Escríbelo así: «Factúrale a Acme 10 mil "
        "más IVA por consultoría de noviembre»."
    )


def do_issue_invoice(turn: Turn, payload: dict[str, Any]) -> Reply:
    draft = InvoiceDraft.from_payload(payload["draft"])
    signer, pac = _stamping_tools(turn)
    invoice = issue_invoice(
        turn.session,
        business=turn.business,
        draft=draft,
        signer=signer,
        pac=pac,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
    )
    sent = notices.send_invoice(turn.session, invoice=invoice, now=turn.now)
    told = (
        f"Se la mando a {invoice.contact.display_name} por correo con su PDF y XML."
        if sent is not None
        else f"{invoice.contact.display_name} no tiene correo registrado; mándale tú "
        "el PDF y el XML (están en su portal)."
    )
    return Reply().say(
        f"Listo ✅ Timbré la factura {invoice.label} por "
        f"{money(invoice.total, invoice.currency)} para "
        f"{invoice.contact.display_name}.\n"
        f"Folio fiscal (UUID): {invoice.uuid}\n{told}"
    )


# ---- invoice from catalog items ------------------------------------------------

_NUMBER_WORDS = {
    "un": 1,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
}
_QTY = r"(?:\d+(?:[.,]\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
# Words that make the request an amount and a concept rather than items.
_MONEY_WORDS = re.compile(
    r"\$|\b(?:mil|pesos|mxn|usd|d[oó]lares|concepto)\b|\d\s*k\b", re.IGNORECASE
)
_PIECE_SPLIT = re.compile(
    rf"\s*(?:,|;|\by\b|\be\b|\bm[aá]s\b)\s*(?={_QTY}\s)", re.IGNORECASE
)
_PIECE = re.compile(
    rf"^(?:(?P<qty>{_QTY})\s+)?(?:(?:el|la|los|las)\s+)?(?P<name>.+)$", re.IGNORECASE
)
_LEAD = re.compile(rf"^\W*(?:a\s+)?(?:(?:por|con)\s+(?={_QTY}\s))?", re.IGNORECASE)


@dataclass(frozen=True)
class ItemPiece:
    """One "3 cajas de tornillos" of a request: how many, and the name as written."""

    quantity: Decimal
    name: str


def read_item_pieces(text: str, customer: str | None) -> list[ItemPiece]:
    """ "Factúrale a Acme 2 cajas de tornillos y 1 instalación": the pieces after the
    customer's name, or none when the request reads as an amount and a concept.

    A piece without a number counts one. Separators ("y", commas, "más") split only
    before a quantity, so an item called "Tornillos y tuercas" stays whole.

    # Limitation: the customer is read by `extract_customer`, which takes the item
    # for the customer in "factúrale 3 cajas de tornillos" (no "a Acme"); the owner
    # then hears that no customer has that name and names one.
    """
    if _MONEY_WORDS.search(text):
        return []
    # The verbs are matched without accents ("factúrale"); folding keeps the length
    # of Spanish text, so the cut applies to the text as written.
    folded = fold(text)
    verb = _VERBS.match(folded if len(folded) == len(text) else text)
    rest = text[verb.end() :] if verb else text
    # The customer may have come in an earlier answer, not in this text.
    named = re.search(re.escape(customer), rest, re.IGNORECASE) if customer else None
    if named is not None:
        rest = rest[named.end() :]
    rest = _PLUS_IVA.sub(" ", rest)
    rest = _LEAD.sub("", rest.strip()).strip(" .¿?¡!")
    pieces: list[ItemPiece] = []
    for part in _PIECE_SPLIT.split(rest):
        found = _PIECE.match(part.strip(" .,;"))
        if found is None:
            return []
        name = found.group("name").strip(" .,;")
        quantity = _quantity(found.group("qty"))
        if (
            quantity is None
            or not re.search(r"[^\W\d_]", name)
            or re.search(r"\d", name)
            or re.match(r"(?:por|de|del)\b", name, re.IGNORECASE)
        ):
            return []
        pieces.append(ItemPiece(quantity, name))
    return pieces


def _quantity(raw: str | None) -> Decimal | None:
    if raw is None:
        return Decimal(1)
    word = _NUMBER_WORDS.get(fold(raw))
    if word is not None:
        return Decimal(word)
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value > 0 else None


def catalog_lines(
    turn: Turn,
    understanding: Understanding,
    contact: Contact,
    pieces: list[ItemPiece],
) -> list[tuple[SalesItem, Decimal]] | Reply | None:
    """The catalog item of every piece; None when no piece names one (the request
    is then an amount and a concept), or the question "¿cuál?" when two fit.

    A piece that names nothing while others do is refused by name, so an item
    is never silently left out of the invoice.
    """
    picks: dict[str, int] = turn.notes.get("item_picks") or {}
    found: list[tuple[SalesItem, Decimal]] = []
    missing: list[str] = []
    unsure: tuple[int, Ambiguous] | None = None
    for index, piece in enumerate(pieces):
        chosen = picks.get(str(index))
        item = turn.session.get(SalesItem, chosen) if chosen is not None else None
        if item is not None and item.business_id == turn.business.id:
            found.append((item, piece.quantity))
            continue
        try:
            item = catalog.find_item(
                turn.session, business_id=turn.business.id, name=piece.name
            )
        except NotFound:
            missing.append(piece.name)
            continue
        except Ambiguous as exc:
            unsure = unsure or (index, exc)
            continue
        found.append((item, piece.quantity))

    if missing and not found and unsure is None:
        return None
    if missing:
        raise NotFound(
            f"No tengo «{missing[0]}» en tu catálogo. Agrégalo («agrega el producto "
            f"{missing[0]} a $350 más IVA») o pídeme la factura con monto y concepto."
        )
    if unsure is not None:
        index, ambiguous = unsure
        options = [[item_id, text] for item_id, text in ambiguous.options]
        listed = "\n".join(f"{n}. {text}" for n, (_, text) in enumerate(options, 1))
        question = (
            f"¿Cuál de estos es «{pieces[index].name}»?\n{listed}\n"
            f"Contesta con el número (1 a {len(options)})."
        )
        return park(
            turn,
            PICK_ITEM_FLOW,
            understanding,
            question,
            options=options,
            piece=index,
            picks=picks,
            contact_id=contact.id,
        )
    return found


def pick_item_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answer to "¿Cuál de estos?": a number from the list, or the item's name."""
    from handlers import router

    data = turn.conversation.data
    options: list[list[Any]] = data.get("options", [])
    picked = _picked(turn.inbound.text, options)
    if picked is None:
        if understanding.intent not in (Intent.UNKNOWN, Intent.CONFIRM_NO):
            return None
        return Reply().say(
            f"Contesta con el número (1 a {len(options)}) o escribe «cancelar»."
        )
    request = resumed(turn)
    picks = {**data.get("picks", {}), str(data["piece"]): picked}
    turn.finish()
    turn.notes["contact_id"] = data.get("contact_id")
    turn.notes["item_picks"] = picks
    return router.dispatch(turn, request)


def _picked(text: str, options: list[list[Any]]) -> int | None:
    number = re.fullmatch(r"\D{0,12}?(\d{1,2})\D{0,3}", text.strip())
    if number:
        chosen = int(number.group(1))
        return int(options[chosen - 1][0]) if 1 <= chosen <= len(options) else None
    said = fold(text).strip(" .¿?¡!")
    named = [o for o in options if said and said in fold(str(o[1]))]
    return int(named[0][0]) if len(named) == 1 else None


# ---- payment complements -------------------------------------------------------


def ask_issue_complement(turn: Turn, understanding: Understanding) -> Reply:
    """ "Timbra el complemento de Acme": the customer's pending payments of a month."""
    _require_csd(turn)
    entities = understanding.entities
    phrase = entities.customer
    if phrase is None:
        head = _COMPLEMENT_WORDS.sub(" ", entities.text or turn.inbound.text)
        phrase = extract_customer(head, turn.today)
    contact: Contact | Reply
    if phrase or turn.notes.get("contact_id") is not None:
        understanding = replace(
            understanding, entities=replace(entities, customer=phrase)
        )
        contact = find_contact(turn, understanding)
    else:
        contact = _only_customer_pending(turn, understanding)
    if isinstance(contact, Reply):
        return contact

    draft = draft_complement(turn.session, business=turn.business, contact=contact)
    question = f"{draft.summary}\n\n¿Lo timbro y se lo mando a {contact.display_name}?"
    payload = {"contact_id": contact.id, "payment_ids": draft.payment_ids}
    return actions.propose(turn, COMPLEMENT_ACTION, payload, question)


def complement_prompt(turn: Turn, payment: Payment) -> str | None:
    """After a payment recorded in chat: the question that offers its complement.

    Asked only of the owner, when the payment needs a complement and the business
    has its CSD; a yes to it stamps the complement of that customer's month.
    """
    if not turn.speaker.is_owner or payment.reversed_at is not None:
        return None
    if payment.complement_status != ComplementStatus.PENDING:
        return None
    if (
        credential_info(
            turn.session, business_id=payment.business_id, kind=CredentialKind.CSD
        )
        is None
    ):
        return None
    local = as_utc(payment.paid_at).astimezone(zone(turn.business.timezone))
    try:
        draft = draft_complement(
            turn.session,
            business=turn.business,
            contact=payment.contact,
            month=(local.year, local.month),
        )
    except CobraError:
        return None
    turn.start(
        actions.CONFIRM_FLOW,
        "awaiting",
        {
            "action": COMPLEMENT_ACTION,
            "payload": {
                "contact_id": payment.contact_id,
                "payment_ids": draft.payment_ids,
            },
        },
    )
    return COMPLEMENT_QUESTION


def do_issue_complement(turn: Turn, payload: dict[str, Any]) -> Reply:
    signer, pac = _stamping_tools(turn)
    row = issue_complement(
        turn.session,
        business=turn.business,
        payment_ids=[int(p) for p in payload["payment_ids"]],
        signer=signer,
        pac=pac,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
    )
    contact = turn.session.get(Contact, row.contact_id)
    assert contact is not None
    sent = notices.send_complement(
        turn.session,
        complement=row,
        payment_ids=[int(p) for p in payload["payment_ids"]],
        now=turn.now,
    )
    label = f"P-{_complement_folio(row.xml)}"
    told = (
        f"Se lo mando a {contact.display_name} con su recibo (PDF y XML)."
        if sent is not None
        else f"{contact.display_name} no tiene correo registrado; mándale tú el XML."
    )
    return Reply().say(
        f"Listo ✅ Timbré el complemento de pago {label} de {contact.display_name}.\n"
        f"Folio fiscal (UUID): {row.uuid}\n{told}"
    )


def _only_customer_pending(turn: Turn, understanding: Understanding) -> Contact | Reply:
    """Without a name: the one customer with payments waiting, or a question."""
    payments = pending_payments(turn.session, business_id=turn.business.id)
    contacts = {p.contact_id: p.contact for p in payments}
    if not contacts:
        raise NotFound("No tienes pagos pendientes de complemento.")
    if len(contacts) == 1:
        return next(iter(contacts.values()))
    names = ", ".join(sorted(c.display_name for c in contacts.values()))
    return find_contact(
        turn,
        understanding,
        question=f"¿De qué cliente? Tienen pagos sin complemento: {names}.",
    )


# ---- cancel an issued CFDI -----------------------------------------------------


def ask_cancel_invoice(turn: Turn, understanding: Understanding) -> Reply:
    """ "Cancela la A-102": which one, then the SAT's motive (numbered)."""
    refs = understanding.entities.invoice_refs
    if not refs:
        return Reply().say(
            "¿Qué factura cancelo? Escribe su serie y folio, «cancela la A-102»."
        )
    if len(refs) > 1:
        return Reply().say("Cancelo una factura a la vez; ¿cuál primero?")
    [invoice] = find_invoices(turn, refs)
    # What the SAT would refuse whatever the motive, said before asking anything.
    check_cancellable(
        turn.session, business=turn.business, invoice=invoice, motive="02"
    )
    _require_csd(turn)
    turn.start(CANCEL_FLOW, CancelStep.MOTIVE, {"invoice_id": invoice.id})
    return Reply().say(
        f"¿Por qué motivo cancelo la {invoice.label} ({_describe(invoice)})?\n"
        f"{motive_menu()}\nContesta con el número (1 a 4)."
    )


def cancel_step(turn: Turn, understanding: Understanding) -> Reply | None:
    """The answers of a cancellation: the motive, then the substitute for 01."""
    data = turn.conversation.data
    invoice = turn.session.get(Invoice, data.get("invoice_id"))
    if invoice is None or invoice.business_id != turn.business.id:
        turn.finish()
        raise NotFound("Ya no encuentro esa factura.")
    if turn.conversation.step == CancelStep.MOTIVE:
        return _take_motive(turn, understanding, invoice)
    return _take_substitute(turn, understanding, invoice)


def _take_motive(
    turn: Turn, understanding: Understanding, invoice: Invoice
) -> Reply | None:
    motive = _motive(turn.inbound.text)
    if motive is None:
        if understanding.intent not in (Intent.UNKNOWN, Intent.CONFIRM_NO):
            return None
        return Reply().say(
            f"Contesta con el número del motivo (1 a 4):\n{motive_menu()}"
        )
    if motive == "01":
        turn.start(
            CANCEL_FLOW,
            CancelStep.SUBSTITUTE,
            {"invoice_id": invoice.id, "motive": motive},
        )
        return Reply().say(
            f"Con el motivo 01 la {invoice.label} se sustituye por otra ya timbrada. "
            "¿Cuál es la nueva? Escribe su serie y folio (A-103) o su folio fiscal."
        )
    return _propose_cancel(turn, invoice, motive, None)


_UUID = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
)


def _take_substitute(
    turn: Turn, understanding: Understanding, invoice: Invoice
) -> Reply | None:
    written = _UUID.search(turn.inbound.text)
    substitute_uuid: str | None = None
    if written:
        substitute_uuid = written.group(0).upper()
    elif understanding.entities.invoice_refs:
        [substitute] = find_invoices(turn, understanding.entities.invoice_refs[:1])
        substitute_uuid = substitute.uuid
    elif understanding.intent not in (Intent.UNKNOWN, Intent.CONFIRM_NO):
        return None
    else:
        return Reply().say(
            "Escribe la serie y folio de la factura que sustituye, por ejemplo "
            "«A-103», o «cancelar» para dejarlo."
        )
    return _propose_cancel(turn, invoice, "01", substitute_uuid)


def _propose_cancel(
    turn: Turn, invoice: Invoice, motive: str, substitute_uuid: str | None
) -> Reply:
    check_cancellable(
        turn.session,
        business=turn.business,
        invoice=invoice,
        motive=motive,
        substitute_uuid=substitute_uuid,
    )
    lines = [
        f"Cancelo ante el SAT la {invoice.label} ({_describe(invoice)}).",
        f"Motivo {motive}: {MOTIVES[motive]}.",
    ]
    if substitute_uuid:
        lines.append(f"La sustituye el folio fiscal {substitute_uuid}.")
    lines.append("¿La cancelo?")
    payload = {
        "invoice_id": invoice.id,
        "motive": motive,
        "substitute_uuid": substitute_uuid,
    }
    return actions.propose(turn, CANCEL_ACTION, payload, "\n".join(lines))


def do_cancel_invoice(turn: Turn, payload: dict[str, Any]) -> Reply:
    invoice = turn.session.get(Invoice, payload["invoice_id"], with_for_update=True)
    if invoice is None or invoice.business_id != turn.business.id:
        raise NotFound("Ya no encuentro esa factura.")
    signer, pac = _stamping_tools(turn)
    row = request_cancellation(
        turn.session,
        business=turn.business,
        invoice=invoice,
        motive=payload["motive"],
        signer=signer,
        pac=pac,
        now=turn.now,
        actor=turn.speaker.actor,
        channel=turn.channel,
        substitute_uuid=payload.get("substitute_uuid"),
    )
    forget_pdf(turn.session, business_id=turn.business.id, uuid=invoice.uuid or "")
    if row.status == CancelStatus.CANCELLED:
        return Reply().say(
            f"Listo ✅ El SAT canceló la {invoice.label}; ya no cuenta en lo que te "
            f"debe {invoice.contact.display_name}."
        )
    return Reply().say(
        f"Pedí la cancelación de la {invoice.label}. El SAT le pide a "
        f"{invoice.contact.display_name} que la acepte (tiene 3 días hábiles); "
        "mientras, la factura sigue vigente. Te aviso cuando responda."
    )


# ---- shared pieces -------------------------------------------------------------


def _stamping_tools(turn: Turn) -> tuple[Signer, Pac]:
    """The CSD opened as a signer and the PAC, or a Spanish reason why not."""
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
    if (
        credential_info(
            turn.session, business_id=turn.business.id, kind=CredentialKind.CSD
        )
        is None
    ):
        raise InvalidInput(
            "Aún no tengo tu CSD (sello digital) para timbrar. Escribe «sube mi "
            "CSD» y te mando un enlace para subirlo (o usa `cobra sat credentials`); "
            "luego vuelve a pedírmelo."
        )


_MOTIVE_WORDS = {"uno": "01", "dos": "02", "tres": "03", "cuatro": "04"}


def _motive(text: str) -> str | None:
    folded = fold(text).strip(" .¿?¡!")
    found = re.fullmatch(r"(?:motivo\s*|el\s*|opcion\s*)?0?([1-4])\b.*", folded)
    if found:
        return f"0{found.group(1)}"
    word = re.fullmatch(r"(?:motivo\s*|el\s*)?(uno|dos|tres|cuatro)\b.*", folded)
    return _MOTIVE_WORDS[word.group(1)] if word else None


def _describe(invoice: Invoice) -> str:
    return f"{money(invoice.total, invoice.currency)} de {invoice.contact.display_name}"


def _complement_folio(xml: str | None) -> str:
    found = re.search(r'\sFolio="([^"]+)"', xml or "")
    return found.group(1) if found else "?"


actions.register(ISSUE_ACTION, do_issue_invoice)
actions.register(COMPLEMENT_ACTION, do_issue_complement)
actions.register(CANCEL_ACTION, do_cancel_invoice)

INTENTS = {
    Intent.ISSUE_INVOICE: ask_issue_invoice,
    Intent.ISSUE_COMPLEMENT: ask_issue_complement,
    Intent.CANCEL_INVOICE: ask_cancel_invoice,
}
STEPS = {CANCEL_FLOW: cancel_step, PICK_ITEM_FLOW: pick_item_step}
OWNER_ONLY = frozenset(INTENTS)
