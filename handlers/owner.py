"""What owners and staff ask about their books, and how they manage contacts."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from flows import business as business_flows
from flows import customer_side, documents, reports
from flows.errors import InvalidInput
from flows.fmt import (
    as_utc,
    display_phone,
    local_date,
    mask_clabe,
    money,
    short_date,
)
from flows.messages import Document, Outbound, Reply
from handlers import commitments
from handlers.common import MAX_LINES, capped, contact_totals, update_contact
from handlers.context import Turn
from handlers.nlu import Intent, Understanding
from handlers.nlu.normalize import fold
from handlers.nlu.parsing import currency_named
from handlers.resolve import find_contact, find_invoices
from storage import repo
from storage.models import Contact, Invoice


def invoice_line(
    invoice: Invoice, today: dt.date, *, with_contact: bool = False
) -> str:
    """`A-102 · $3,000.00 · vencida hace 12 días`, short enough for WhatsApp."""
    parts = [invoice.label]
    if with_contact:
        parts.append(invoice.contact.display_name)
    parts.append(money(invoice.balance, invoice.currency))
    parts.append(due_phrase(invoice.due_date, today))
    return " · ".join(parts)


def owed_text(invoices: Sequence[Invoice]) -> str:
    """What invoices still owe, per currency: `$1,160.00, US$100.00`."""
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal(0)) + (
            invoice.balance
        )
    return ", ".join(money(totals[c], c) for c in sorted(totals))


def owed_in(invoices: Sequence[Invoice]) -> str:
    """`$1,160.00 en 2 facturas`: what a list of invoices owes and how many."""
    count = len(invoices)
    return f"{owed_text(invoices)} en {count} factura{'s' * (count != 1)}"


def due_phrase(due: dt.date, today: dt.date) -> str:
    days = (today - due).days
    if days > 0:
        return f"vencida hace {days} día{'s' if days != 1 else ''}"
    if days == 0:
        return "vence hoy"
    return f"vence {short_date(due, today=today)}"


def balance_total(turn: Turn, understanding: Understanding) -> Reply:
    totals = repo.balance_totals(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        today=turn.today,
    )
    if not totals:
        return Reply().say("No tienes facturas por cobrar. 🎉")
    asked = understanding.entities.currency or currency_named(turn.inbound.text)
    if asked is not None and asked in totals:
        # «¿cuánto me deben en dólares?»: that currency alone.
        totals = {asked: totals[asked]}
    elif asked is not None:
        named = {"USD": "dólares", "MXN": "pesos"}.get(asked, asked)
        return Reply().say(f"No tienes facturas por cobrar en {named}.")
    lines = ["Te deben:"]
    for currency, (total, overdue, count) in totals.items():
        lines.append(
            f"• {money(total, currency)} en {count} factura{'s' if count != 1 else ''}"
            f", de eso {money(overdue, currency)} vencido"
        )
    if re.search(r"\bcuantos clientes\b", fold(turn.inbound.text)):
        count = repo.debtor_count(
            turn.session, business_id=turn.business.id, direction="receivable"
        )
        lines.append(f"Son {count} cliente{'s' * (count != 1)} con saldo pendiente.")
    lines.append("Pregunta «¿quién me debe más?» o «vencidas» para ver el detalle.")
    return Reply().say("\n".join(lines))


def balance_customer(turn: Turn, understanding: Understanding) -> Reply:
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    totals = contact_totals(turn, contact)
    name = contact.display_name
    paid = (
        [_last_payment_line(turn, contact)]
        if _DID_PAY.search(fold(turn.inbound.text))
        else []
    )
    if not totals:
        return Reply().say("\n".join([*paid, f"{name} no te debe nada. ✅"]))
    head = [
        f"{name} te debe {money(t, c)}" + (f" ({money(o, c)} vencido)" if o else "")
        for c, (t, o, _) in totals.items()
    ]
    invoices = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        contact_id=contact.id,
    )
    lines = capped(
        [invoice_line(i, turn.today) for i in invoices],
        "Pídele su estado de cuenta con «mándale el link de pago».",
    )
    word = commitments.word_lines(turn, contact)
    if not word and _WHEN_PAYS.search(fold(turn.inbound.text)):
        word = [f"No me ha dicho cuándo paga. Si quieres, «recuérdale a {name}»."]
    text = "\n".join([*paid, *head, *lines, *word])
    if "estado de cuenta" not in fold(turn.inbound.text):
        return Reply().say(text)
    # «Mándame el estado de cuenta de Acme»: the same PDF the customer gets, for
    # the owner to keep or forward («recuérdale a Acme» sends it to Acme).
    slug = re.sub(r"[^a-z0-9]+", "-", fold(contact.display_name).lower()).strip("-")
    return with_statement(turn, contact, text, f"{slug}-{turn.today}")


def with_statement(turn: Turn, contact: Contact, text: str, name: str) -> Reply:
    """An answer carrying the contact's account statement as a PDF, named
    `estado-de-cuenta-<name>.pdf`."""
    # Limitation: like an invoice's files, a replayed request gets the text only.
    pdf = customer_side.statement_pdf(
        turn.session, contact=contact, today=turn.today, now=turn.now
    )
    document = Document(f"estado-de-cuenta-{name}.pdf", documents.PDF_TYPE, pdf)
    return Reply(messages=[Outbound(text=text, documents=(document,))])


def _last_payment_line(turn: Turn, contact: Contact) -> str:
    """What «¿ya me pagó Acme?» asks first: the newest payment and its day."""
    payment = repo.last_payment_from(turn.session, contact_id=contact.id)
    if payment is None:
        return f"No tengo pagos registrados de {contact.display_name}."
    day = local_date(as_utc(payment.paid_at), turn.business.timezone)
    when = "hoy" if day == turn.today else f"el {short_date(day, today=turn.today)}"
    amount = money(payment.amount, payment.currency)
    return f"Lo último que te pagó {contact.display_name}: {amount} {when}."


_WHEN_PAYS = re.compile(r"\bcuando (?:me |nos )?(?:paga|va a pagar|pagara|piensa)")
_DID_PAY = re.compile(
    r"\b(?:pago|pagaron|deposito|depositaron|transfirio|transfirieron|abono|"
    r"abonaron|liquido|liquidaron)\b"
)


def top_debtors(turn: Turn, understanding: Understanding) -> Reply:
    totals = repo.balance_totals(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        today=turn.today,
    )
    if not totals:
        return Reply().say("Nadie te debe nada. 🎉")
    lines: list[str] = []
    for currency in totals:
        rows = repo.top_debtors(
            turn.session,
            business_id=turn.business.id,
            today=turn.today,
            currency=currency,
            limit=MAX_LINES,
        )
        lines.append(f"Quién te debe más ({currency}):")
        for place, (contact, total, overdue) in enumerate(rows, start=1):
            late = f" ({money(overdue, currency)} vencido)" if overdue else ""
            lines.append(
                f"{place}. {contact.display_name} · {money(total, currency)}{late}"
            )
    return Reply().say("\n".join(lines))


def overdue(turn: Turn, understanding: Understanding) -> Reply:
    contact_id = None
    name = None
    if understanding.entities.customer or turn.notes.get("contact_id"):
        contact = find_contact(turn, understanding)
        if isinstance(contact, Reply):
            return contact
        contact_id, name = contact.id, contact.display_name
    days = _upcoming_days(turn, understanding)
    if days is not None:
        return _upcoming(turn, contact_id, name, days)
    invoices = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        contact_id=contact_id,
        include_hidden=False,
        overdue_on=turn.today,
    )
    late = _LATE_BY.search(fold(turn.inbound.text))
    aged = ""
    if late is not None:
        older_than = int(late.group(1))
        invoices = [i for i in invoices if (turn.today - i.due_date).days > older_than]
        aged = f" hace más de {older_than} días"
    if not invoices:
        who = f"{name} no tiene" if name else "No tienes"
        return Reply().say(f"{who} facturas vencidas{aged}. ✅")
    whose = f" de {name}" if name else ""
    title = f"Facturas vencidas{aged}{whose}: {owed_in(invoices)}"
    lines = capped(
        [invoice_line(i, turn.today, with_contact=name is None) for i in invoices],
        "Pregunta por un cliente: «vencidas de Acme».",
    )
    return Reply().say("\n".join([title, *lines]))


_LATE_BY = re.compile(r"\bmas de (\d{1,3}) dias\b")
_ASKS_AHEAD = re.compile(
    r"\b(?:vencen?|por vencer|van? a vencer|voy a cobrar|vamos a cobrar|toca cobrar|"
    r"cobrar (?:esta semana|este mes|hoy|manana))\b"
)


def _upcoming_days(
    turn: Turn, understanding: Understanding
) -> tuple[dt.date, dt.date] | None:
    """The first and last day of "¿qué vence esta semana?" ("mañana", "el 15":
    that day alone), when the question looks ahead rather than at what is
    already overdue."""
    text = fold(turn.inbound.text)
    if "vencid" in text or not _ASKS_AHEAD.search(text):
        return None
    today = turn.today
    entities = understanding.entities
    if entities.date is not None and entities.date >= today:
        return entities.date, entities.date
    if entities.period == "today":
        return today, today
    if entities.period == "week":
        return today, today + dt.timedelta(days=6 - today.weekday())
    if entities.period == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        return today, today.replace(day=last)
    return None


def _upcoming(
    turn: Turn, contact_id: int | None, name: str | None, days: tuple[dt.date, dt.date]
) -> Reply:
    first, last = days
    due = [
        i
        for i in repo.open_invoices(
            turn.session,
            business_id=turn.business.id,
            direction="receivable",
            contact_id=contact_id,
            include_hidden=False,
            due_until=last,
        )
        if i.due_date >= first
    ]
    if first != last:
        span = f"de hoy al {short_date(last)}"
    elif first == turn.today:
        span = "hoy"
    elif first == turn.today + dt.timedelta(days=1):
        span = "mañana"
    else:
        span = f"el {short_date(first, today=turn.today)}"
    # «¿qué me vence?» may mean the owner's own bills: say what falls due to
    # suppliers in the same days, and how to see it.
    own_bills = (
        _payables_between(turn, first, last)
        if name is None and _FIRST_PERSON_DUE.search(fold(turn.inbound.text))
        else []
    )
    ask = "hoy" if last == turn.today else "esta semana"
    if (last - first).days > 6:
        ask = "este mes"
    bills_line = (
        f"A proveedores vencen {span}: {owed_in(own_bills)}; escribe "
        f"«¿qué tengo que pagar {ask}?» para verlas."
        if own_bills
        else ""
    )
    if not due:
        who = f"{name} no tiene" if name else "No tienes"
        return Reply().say(
            "\n".join(filter(None, [f"{who} facturas que venzan {span}.", bills_line]))
        )
    whose = f" de {name}" if name else ""
    head = f"Vencen {span}{whose}: {owed_in(due)}"
    lines = capped(
        [invoice_line(i, turn.today, with_contact=name is None) for i in due],
        "Pregunta por un cliente: «qué vence esta semana de Acme».",
    )
    return Reply().say("\n".join(filter(None, [head, *lines, bills_line])))


_FIRST_PERSON_DUE = re.compile(r"\b(?:me|nos) (?:vencen?|van? a vencer)\b")


def _payables_between(turn: Turn, first: dt.date, last: dt.date) -> list[Invoice]:
    return [
        i
        for i in repo.open_invoices(
            turn.session,
            business_id=turn.business.id,
            direction="payable",
            due_until=last,
        )
        if i.due_date >= first
    ]


def invoice_status(turn: Turn, understanding: Understanding) -> Reply:
    refs = understanding.entities.invoice_refs
    if not refs:
        return Reply().say(
            "¿Qué factura? Escríbela con su serie y folio, como «A-102»."
        )
    found = find_invoices(turn, refs, direction=None)
    if _WANTS_FILES.search(fold(turn.inbound.text)):
        reply = Reply()
        reply.messages.extend(invoice_documents(turn, i) for i in found[:MAX_FILES])
        return reply
    lines = [describe_invoice(invoice, turn.today) for invoice in found]
    return Reply().say("\n\n".join(lines))


def invoice_documents(turn: Turn, invoice: Invoice) -> Outbound:
    """An invoice's PDF and XML with a line on where it stands."""
    # Limitation: the engine keeps only the text and buttons of a reply to answer a
    # retried provider id, so a replayed request gets the text without the files.
    xml = documents.invoice_xml(invoice)
    if xml is None and invoice.direction != "receivable":
        # A supplier's invoice is drawn from its XML; without it there is no copy.
        return Outbound(
            text=f"No tengo el XML de la {invoice.label} de "
            f"{invoice.contact.display_name}; pídeselo a tu proveedor."
        )
    pdf = documents.invoice_pdf(
        invoice, business=turn.business, contact=invoice.contact
    )
    files = [
        Document(documents.invoice_filename(invoice, "pdf"), documents.PDF_TYPE, pdf)
    ]
    if xml is not None:
        files.append(
            Document(
                documents.invoice_filename(invoice, "xml"), documents.XML_TYPE, xml
            )
        )
    state = (
        f"saldo {money(invoice.balance, invoice.currency)}, "
        f"{due_phrase(invoice.due_date, turn.today)}"
        if invoice.status == "pending" and invoice.balance > 0
        else ("pagada ✅" if invoice.status == "paid" else "cancelada")
    )
    text = (
        f"Factura {invoice.label} por {money(invoice.total, invoice.currency)} "
        f"({state})."
    )
    if xml is None:
        text += " Esta factura no tiene XML registrado; te mando el PDF."
    return Outbound(text=text, documents=tuple(files))


MAX_FILES = 3  # invoices sent as files in one answer
# "Mándame la A-102", "el PDF de la A-102", "pásame el XML": the files, not a line.
_WANTS_FILES = re.compile(
    r"\b(?:pdf|xml|archivo|archivos)\b|\b(?:manda|mandame|mandamela|envia|enviame|"
    r"enviamela|pasa|pasame|pasamela|dame|damela|comparte|compartime|reenvia|"
    r"reenviame)\b"
)


def describe_invoice(invoice: Invoice, today: dt.date) -> str:
    kind = "por cobrar a" if invoice.direction == "receivable" else "por pagar a"
    head = (
        f"Factura {invoice.label} {kind} {invoice.contact.display_name}, emitida el "
        f"{short_date(invoice.issue_date, today=today)} ({invoice.payment_method})."
    )
    total = money(invoice.total, invoice.currency)
    if invoice.status == "cancelled":
        return f"{head}\nEstá cancelada. Total {total}."
    if invoice.status == "paid":
        return f"{head}\nPagada ✅. Total {total}."
    paid = money(invoice.paid, invoice.currency)
    rest = money(invoice.balance, invoice.currency)
    return (
        f"{head}\nTotal {total}, pagado {paid}, saldo {rest}; "
        f"{due_phrase(invoice.due_date, today)}."
    )


def payables_due(turn: Turn, understanding: Understanding) -> Reply:
    """What the business has to pay its suppliers: in a period (this week by
    default), or everything owed to one supplier («¿cuánto le debo a Brillo?»)."""
    today = turn.today
    period = understanding.entities.period
    if period == "month":
        until = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        until -= dt.timedelta(days=1)
        label = "este mes"
    elif period == "today":
        until, label = today, "hoy"
    else:
        until = today + dt.timedelta(days=6 - today.weekday())
        label = "esta semana"
    if understanding.entities.customer:
        return _owed_to_supplier(
            turn, understanding, (until, label) if period else None
        )
    invoices = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="payable",
        due_until=until,
    )
    if not invoices:
        return Reply().say(f"No tienes pagos a proveedores que venzan {label}. ✅")
    head = f"Por pagar {label}: {owed_in(invoices)}{_late_note(invoices, today)}"
    lines = capped(
        [invoice_line(i, today, with_contact=True) for i in invoices],
        "Pregunta «¿qué tengo que pagar este mes?» para ver más adelante."
        if period != "month"
        else "Pregunta por un proveedor: "
        f"«¿qué le debo a {invoices[0].contact.display_name}?».",
    )
    return Reply().say("\n".join([head, *lines]))


def _owed_to_supplier(
    turn: Turn, understanding: Understanding, within: tuple[dt.date, str] | None
) -> Reply:
    found = find_contact(
        turn,
        understanding,
        kind="supplier",
        question="¿De qué proveedor? Escribe su nombre o RFC.",
    )
    if isinstance(found, Reply):
        return found
    invoices = repo.open_invoices(
        turn.session,
        business_id=turn.business.id,
        direction="payable",
        contact_id=found.id,
        due_until=within[0] if within else None,
    )
    name = found.display_name
    if not invoices:
        if within:
            return Reply().say(f"Nada de {name} vence {within[1]}. ✅")
        return Reply().say(f"No le debes nada a {name}. ✅")
    when = f" (lo que vence {within[1]})" if within else ""
    head = (
        f"Le debes a {name}{when}: {owed_in(invoices)}"
        f"{_late_note(invoices, turn.today)}"
    )
    lines = capped(
        [invoice_line(i, turn.today) for i in invoices],
        "Pregunta por una factura: «¿cómo va la " + invoices[-1].label + "?».",
    )
    # The name as the owner wrote it, unless it took a choice from a list.
    called = name if turn.notes.get("contact_id") else understanding.entities.customer
    return Reply().say(
        "\n".join([head, *lines, f"Para pagarle escribe «págale a {called}»."])
    )


def _late_note(invoices: Sequence[Invoice], today: dt.date) -> str:
    """` (3 ya vencidas)`, ` (todas ya vencidas)`, or nothing."""
    late = sum(1 for i in invoices if i.due_date < today)
    if not late:
        return ""
    if late == len(invoices):
        return " (ya vencida)" if late == 1 else " (todas ya vencidas)"
    return f" ({late} ya vencida{'s' * (late != 1)})"


def collection_chart(turn: Turn, understanding: Understanding) -> Reply:
    aging = repo.aging_totals(
        turn.session,
        business_id=turn.business.id,
        direction="receivable",
        today=turn.today,
    )
    if not aging:
        return Reply().say("No tienes nada por cobrar, así que no hay gráfica. 🎉")
    summary = reports.aging_summary(aging)
    png = reports.aging_chart_png(aging, title=f"Cobranza de {turn.business.name}")
    image = Document("cobranza.png", "image/png", png, caption="Antigüedad de saldos")
    reply = Reply()
    reply.messages.append(Outbound(text=summary, images=(image,)))
    return reply


def missing_emails(turn: Turn, understanding: Understanding) -> Reply:
    contacts = [
        c
        for c in repo.contacts_of(
            turn.session, business_id=turn.business.id, kind="customer"
        )
        if not c.email_list
    ]
    if not contacts:
        return Reply().say("Todos tus clientes tienen correo. ✅")
    lines = capped(
        [f"• {c.name} ({c.rfc})" for c in contacts],
        "Agrégalos con «el correo de <cliente> es …».",
    )
    return Reply().say("\n".join([f"{len(contacts)} clientes sin correo:", *lines]))


def contact_card(turn: Turn, understanding: Understanding) -> Reply:
    """ "¿Cuál es el teléfono de Acme?", "datos de Papelera": one contact's card."""
    contact = find_contact(turn, understanding, kind=None)
    if isinstance(contact, Reply):
        return contact
    customer = contact.kind == "customer"
    head = contact.name
    if contact.trade_name and contact.trade_name != contact.name:
        head += f" ({contact.trade_name})"
    lines = [
        head + ("" if customer else " · proveedor"),
        f"RFC: {contact.rfc}",
        "WhatsApp: "
        + (
            display_phone(contact.whatsapp)
            if contact.whatsapp
            else f"sin registrar («el whatsapp de {contact.display_name} es …»)"
        ),
        "Correo: "
        + (
            ", ".join(contact.email_list)
            or f"sin registrar («el correo de {contact.display_name} es …»)"
        ),
    ]
    lines.append(_terms_line(contact, turn.business.default_terms_days))
    if customer:
        if contact.virtual_clabe:
            lines.append(f"Su CLABE para pagarte: {contact.virtual_clabe}")
        lines.append(f"Recordatorios: {_reminders_state(contact)}")
    elif contact.clabe:
        lines.append(f"Su cuenta: CLABE {mask_clabe(contact.clabe)}")
    totals = contact_totals(turn, contact, "receivable" if customer else "payable")
    label = "Te debe" if customer else "Le debes"
    for currency, (total, late, _) in totals.items():
        overdue = f" ({money(late, currency)} vencido)" if late else ""
        lines.append(f"{label}: {money(total, currency)}{overdue}")
    if customer:
        lines += commitments.word_lines(turn, contact)
    return Reply().say("\n".join(lines))


def _reminders_state(contact: Contact) -> str:
    if not contact.reminders_enabled:
        return "en pausa"
    ways = []
    if contact.email_reminders and contact.email_list:
        ways.append("por correo")
    if contact.whatsapp_opted_out:
        ways.append("WhatsApp no: se dio de baja")
    elif contact.whatsapp_reminders and contact.whatsapp:
        ways.append("por WhatsApp")
    else:
        ways.append("WhatsApp apagado")
    return " · ".join(ways)


def set_whatsapp(turn: Turn, understanding: Understanding) -> Reply:
    phone = understanding.entities.phone
    if not phone:
        raise InvalidInput("¿Cuál es el número? Escríbelo con 10 dígitos.")
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    update_contact(
        turn,
        contact,
        whatsapp=phone,
    )
    hint = ""
    if not contact.whatsapp_reminders:
        hint = (
            " Los recordatorios por WhatsApp siguen apagados; escribe «activa "
            f"WhatsApp a {contact.display_name}» para prenderlos."
        )
    return Reply().say(f"Listo, guardé el WhatsApp de {contact.display_name}.{hint}")


def set_email(turn: Turn, understanding: Understanding) -> Reply:
    email = understanding.entities.email
    if not email:
        raise InvalidInput("¿Cuál es el correo? Escríbelo completo, con @.")
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    update_contact(
        turn,
        contact,
        email=email,
    )
    return Reply().say(f"Listo, agregué {email} a {contact.display_name}.")


def _terms_line(contact: Contact, default_days: int) -> str:
    days = contact.terms_days
    if days is None:
        return f"Crédito: {_days(default_days)} (el general de tu negocio)"
    return f"Crédito: {_days(days)}"


def _days(days: int) -> str:
    return "de contado" if days == 0 else f"{days} día{'s' if days != 1 else ''}"


_TERMS = re.compile(r"\b(\d{1,3})\s*dias?\b")
_CASH = re.compile(r"\bde contado\b|\bsin credito\b|\bquitale el credito\b")


def set_terms(turn: Turn, understanding: Understanding) -> Reply:
    """«Ponle 45 días de crédito a Acme», «Acme de contado»: the contact's terms."""
    text = fold(turn.inbound.text)
    found = _TERMS.search(text)
    if found is None and not _CASH.search(text):
        raise InvalidInput(
            "¿Cuántos días de crédito? Escríbelo así: «ponle 30 días de crédito a "
            "Acme», o «Acme de contado»."
        )
    days = int(found.group(1)) if found else 0
    kind = "supplier" if re.search(r"\bproveedor", text) else None
    contact = find_contact(turn, understanding, kind=kind)
    if isinstance(contact, Reply):
        return contact
    update_contact(
        turn,
        contact,
        terms_days=days,
    )
    terms = "de contado" if days == 0 else f"con {_days(days)} de crédito"
    return Reply().say(
        f"Listo, {contact.display_name} queda {terms}. Cuenta para sus facturas "
        "nuevas; las que ya tiene conservan su vencimiento."
    )


def whatsapp_reminders(turn: Turn, understanding: Understanding) -> Reply:
    turn_on = understanding.intent == Intent.WHATSAPP_REMINDERS_ON
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    name = contact.display_name
    if turn_on and contact.whatsapp_opted_out:
        return Reply().say(
            f"{name} pidió no recibir mensajes por WhatsApp (BAJA). Sólo lo puede "
            "reactivar escribiendo «ALTA»."
        )
    if turn_on and not contact.whatsapp:
        return Reply().say(
            f"{name} no tiene WhatsApp registrado. Escribe «el whatsapp de {name} es "
            "…» y luego vuelve a activarlo."
        )
    update_contact(
        turn,
        contact,
        whatsapp_reminders=turn_on,
    )
    state = "activados" if turn_on else "apagados"
    return Reply().say(f"Recordatorios por WhatsApp {state} para {name}.")


def pause_reminders(turn: Turn, understanding: Understanding) -> Reply:
    pause = understanding.intent == Intent.PAUSE_REMINDERS
    entities = understanding.entities
    if entities.all_contacts or not (entities.customer or turn.notes.get("contact_id")):
        business_flows.set_reminders_paused(
            turn.session,
            business=turn.business,
            paused=pause,
            actor=turn.speaker.actor,
            channel=turn.channel,
            now=turn.now,
        )
        if pause:
            return Reply().say(
                "Pausé todos los recordatorios. Escribe «reanuda los recordatorios» "
                "cuando quieras que vuelvan."
            )
        return Reply().say("Listo, los recordatorios vuelven a salir. ✅")
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    business_flows.set_contact_reminders(
        turn.session,
        contact=contact,
        enabled=not pause,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    name = contact.display_name
    if pause:
        return Reply().say(f"Pausé los recordatorios de {name}.")
    return Reply().say(f"Los recordatorios de {name} vuelven a salir. ✅")


def hide_invoices(turn: Turn, understanding: Understanding) -> Reply:
    hide = understanding.intent == Intent.HIDE_INVOICES
    contact = find_contact(turn, understanding)
    if isinstance(contact, Reply):
        return contact
    business_flows.set_invoices_hidden(
        turn.session,
        contact=contact,
        hidden=hide,
        actor=turn.speaker.actor,
        channel=turn.channel,
        now=turn.now,
    )
    name = contact.display_name
    if hide:
        return Reply().say(
            f"Oculté las facturas de {name} de las listas; siguen contando en los "
            "totales y reportes."
        )
    return Reply().say(f"Las facturas de {name} vuelven a aparecer en las listas.")


INTENTS = {
    Intent.BALANCE_TOTAL: balance_total,
    Intent.BALANCE_CUSTOMER: balance_customer,
    Intent.TOP_DEBTORS: top_debtors,
    Intent.OVERDUE: overdue,
    Intent.INVOICE_STATUS: invoice_status,
    Intent.PAYABLES_DUE: payables_due,
    Intent.COLLECTION_CHART: collection_chart,
    Intent.MISSING_EMAILS: missing_emails,
    Intent.CONTACT_INFO: contact_card,
    Intent.SET_CONTACT_WHATSAPP: set_whatsapp,
    Intent.SET_CONTACT_EMAIL: set_email,
    Intent.SET_CONTACT_TERMS: set_terms,
    Intent.WHATSAPP_REMINDERS_ON: whatsapp_reminders,
    Intent.WHATSAPP_REMINDERS_OFF: whatsapp_reminders,
    Intent.PAUSE_REMINDERS: pause_reminders,
    Intent.RESUME_REMINDERS: pause_reminders,
    Intent.HIDE_INVOICES: hide_invoices,
    Intent.SHOW_INVOICES: hide_invoices,
}
STEPS: dict = {}
# What staff may not do, whatever channel they use.
OWNER_ONLY: frozenset[Intent] = frozenset(
    {Intent.PAY_SUPPLIER, Intent.FINANCING_START, Intent.FINANCING_STATUS}
)
