"""The vocabulary of understanding: roles, intents and what a message names."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    STAFF = "staff"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class Intent(StrEnum):
    # owner / staff
    BALANCE_TOTAL = "balance_total"
    BALANCE_CUSTOMER = "balance_customer"
    TOP_DEBTORS = "top_debtors"
    OVERDUE = "overdue"
    INVOICE_STATUS = "invoice_status"
    PAYABLES_DUE = "payables_due"
    REGISTER_PAYMENT = "register_payment"
    SEND_LINK = "send_link"
    SEND_STATEMENT = "send_statement"
    ROTATE_LINK = "rotate_link"
    SET_CONTACT_WHATSAPP = "set_contact_whatsapp"
    SET_CONTACT_EMAIL = "set_contact_email"
    SET_CONTACT_TERMS = "set_contact_terms"
    WHATSAPP_REMINDERS_ON = "whatsapp_reminders_on"
    WHATSAPP_REMINDERS_OFF = "whatsapp_reminders_off"
    PAUSE_REMINDERS = "pause_reminders"
    RESUME_REMINDERS = "resume_reminders"
    HIDE_INVOICES = "hide_invoices"
    SHOW_INVOICES = "show_invoices"
    COLLECTION_CHART = "collection_chart"
    PAY_SUPPLIER = "pay_supplier"
    MOVEMENTS = "movements"
    FINANCING_START = "financing_start"
    FINANCING_STATUS = "financing_status"
    REPLY_TO_CUSTOMER = "reply_to_customer"
    MISSING_EMAILS = "missing_emails"
    CONTACT_INFO = "contact_info"
    ADD_CONTACT = "add_contact"
    SET_CONTACT_RFC = "set_contact_rfc"
    REMOVE_CONTACT = "remove_contact"
    ADD_STAFF = "add_staff"
    TEAM_LIST = "team_list"
    REMOVE_STAFF = "remove_staff"
    REMINDER_SETTINGS = "reminder_settings"
    PROMISES = "promises"
    DISPUTES = "disputes"
    UNDO = "undo"
    # customer
    CUSTOMER_BALANCE = "customer_balance"
    CUSTOMER_INVOICE = "customer_invoice"
    CUSTOMER_STATUS = "customer_status"
    CUSTOMER_LINK = "customer_link"
    CUSTOMER_PAID = "customer_paid"
    CUSTOMER_PROMISE = "customer_promise"
    CUSTOMER_DISPUTE = "customer_dispute"
    CUSTOMER_PLAN = "customer_plan"
    # any role
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CONFIRM_YES = "confirm_yes"
    CONFIRM_NO = "confirm_no"
    CANCEL = "cancel"
    HELP = "help"
    GREETING = "greeting"
    THANKS = "thanks"
    UNKNOWN = "unknown"
    # owner: the SAT side
    ISSUE_INVOICE = "issue_invoice"
    ISSUE_COMPLEMENT = "issue_complement"
    CANCEL_INVOICE = "cancel_invoice"
    # owner: changing what a customer owes (plans, credit notes, the catalog)
    OFFER_PLAN = "offer_plan"
    ISSUE_CREDIT_NOTE = "issue_credit_note"
    ADD_SALES_ITEM = "add_sales_item"
    # owner: the e.firma and the CSD, uploaded through a one-time web link
    UPLOAD_FIEL = "upload_fiel"
    UPLOAD_CSD = "upload_csd"


OWNER_INTENTS: frozenset[Intent] = frozenset(
    {
        Intent.BALANCE_TOTAL,
        Intent.BALANCE_CUSTOMER,
        Intent.TOP_DEBTORS,
        Intent.OVERDUE,
        Intent.INVOICE_STATUS,
        Intent.PAYABLES_DUE,
        Intent.REGISTER_PAYMENT,
        Intent.SEND_LINK,
        Intent.SEND_STATEMENT,
        Intent.ROTATE_LINK,
        Intent.SET_CONTACT_WHATSAPP,
        Intent.SET_CONTACT_EMAIL,
        Intent.SET_CONTACT_TERMS,
        Intent.WHATSAPP_REMINDERS_ON,
        Intent.WHATSAPP_REMINDERS_OFF,
        Intent.PAUSE_REMINDERS,
        Intent.RESUME_REMINDERS,
        Intent.HIDE_INVOICES,
        Intent.SHOW_INVOICES,
        Intent.COLLECTION_CHART,
        Intent.PAY_SUPPLIER,
        Intent.MOVEMENTS,
        Intent.FINANCING_START,
        Intent.FINANCING_STATUS,
        Intent.REPLY_TO_CUSTOMER,
        Intent.MISSING_EMAILS,
        Intent.CONTACT_INFO,
        Intent.ADD_CONTACT,
        Intent.SET_CONTACT_RFC,
        Intent.REMOVE_CONTACT,
        Intent.ADD_STAFF,
        Intent.TEAM_LIST,
        Intent.REMOVE_STAFF,
        Intent.REMINDER_SETTINGS,
        Intent.PROMISES,
        Intent.DISPUTES,
        Intent.UNDO,
        Intent.ISSUE_INVOICE,
        Intent.ISSUE_COMPLEMENT,
        Intent.CANCEL_INVOICE,
        Intent.OFFER_PLAN,
        Intent.ISSUE_CREDIT_NOTE,
        Intent.ADD_SALES_ITEM,
        Intent.UPLOAD_FIEL,
        Intent.UPLOAD_CSD,
    }
)
CUSTOMER_INTENTS: frozenset[Intent] = frozenset(
    {
        Intent.CUSTOMER_BALANCE,
        Intent.CUSTOMER_INVOICE,
        Intent.CUSTOMER_STATUS,
        Intent.CUSTOMER_LINK,
        Intent.CUSTOMER_PAID,
        Intent.CUSTOMER_PROMISE,
        Intent.CUSTOMER_DISPUTE,
        Intent.CUSTOMER_PLAN,
    }
)
COMMON_INTENTS: frozenset[Intent] = frozenset(
    {
        Intent.OPT_OUT,
        Intent.OPT_IN,
        Intent.CONFIRM_YES,
        Intent.CONFIRM_NO,
        Intent.CANCEL,
        Intent.HELP,
        Intent.GREETING,
        Intent.THANKS,
    }
)


def allowed_intents(role: Role) -> frozenset[Intent]:
    """The intents a speaker of this role can have (UNKNOWN always is).

    Staff get the owner's intents: refusing what only owners may do, with the
    reason, is the flows' decision, so understanding must still name it.
    """
    if role in (Role.OWNER, Role.STAFF):
        return OWNER_INTENTS | COMMON_INTENTS | {Intent.UNKNOWN}
    if role is Role.CUSTOMER:
        return CUSTOMER_INTENTS | COMMON_INTENTS | {Intent.UNKNOWN}
    return COMMON_INTENTS | {Intent.UNKNOWN}


@dataclass(frozen=True)
class InvoiceRef:
    """An invoice as the speaker named it: "A-102" is ("A", "102")."""

    series: str | None
    folio: str

    def __str__(self) -> str:
        return f"{self.series}-{self.folio}" if self.series else self.folio


@dataclass(frozen=True)
class Entities:
    """What a message names, each parsed from the speaker's own words."""

    amount: Decimal | None = None
    currency: str | None = None
    invoice_refs: tuple[InvoiceRef, ...] = ()
    customer: str | None = None
    date: datetime.date | None = None
    # The same words read as a day already gone, for what has happened
    # ("me pagó el lunes" is the Monday before today).
    past_date: datetime.date | None = None
    period: str | None = None
    phone: str | None = None
    email: str | None = None
    rfc: str | None = None
    all_contacts: bool = False
    text: str | None = None


@dataclass(frozen=True)
class Understanding:
    """A proposed reading of a message; flows validate and confirm it."""

    intent: Intent
    entities: Entities
    source: str
    confidence: float
