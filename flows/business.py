"""Businesses, their people and their contacts: creation and settings.

Also the customer's identifiers that other flows rely on: the portal token (kept
hashed) and the virtual CLABE for STP reconciliation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import Conflict, InvalidInput, NotFound
from flows.fmt import (
    GENERIC_RFCS,
    clabe_check_digit,
    match_key,
    normalize_phone,
    validate_clabe,
    validate_rfc,
    zone,
)
from storage import repo
from storage.models import (
    Business,
    Contact,
    ContactKind,
    ReminderRule,
    ReminderSet,
    User,
)
from storage.models import Role as UserRole

log = logging.getLogger(__name__)

STP_BANK = "646"
STP_PLAZA = "180"
DEFAULT_SET = "Estándar"
# The default reminder set: a notice on issue, 3 days before the due date, on it,
# and 3, 7, 15 and 30 days after.
DEFAULT_RULES = (
    ("issued", 0),
    ("due", -3),
    ("due", 0),
    ("due", 3),
    ("due", 7),
    ("due", 15),
    ("due", 30),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_business(
    session: Session,
    *,
    name: str,
    rfc: str,
    now: dt.datetime,
    owner_whatsapp: str | None = None,
    owner_telegram: int | None = None,
    owner_email: str | None = None,
    tax_regime: str | None = None,
    postal_code: str | None = None,
) -> Business:
    """A business with its owner and its default reminder set."""
    rfc = validate_rfc(rfc)
    if not name.strip():
        raise InvalidInput("El nombre del negocio no puede ir vacío.")
    if repo.business_by_rfc(session, rfc=rfc) is not None:
        raise Conflict(f"Ya existe un negocio con el RFC {rfc}.")
    business = Business(
        name=name.strip(),
        rfc=rfc,
        tax_regime=tax_regime,
        postal_code=postal_code,
        created_at=now,
    )
    session.add(business)
    session.flush()
    default_reminder_set(session, business=business)
    add_user(
        session,
        business=business,
        role=UserRole.OWNER,
        whatsapp=owner_whatsapp,
        telegram=owner_telegram,
        email=owner_email,
        now=now,
    )
    audit(
        session,
        business_id=business.id,
        actor="cli",
        channel="cli",
        action="business.created",
        subject=f"business:{business.id}",
        now=now,
    )
    return business


def owner_of(session: Session, *, business: Business) -> User | None:
    owners = repo.users_of(session, business_id=business.id, role=UserRole.OWNER)
    return owners[0] if owners else None


def default_reminder_set(session: Session, *, business: Business) -> ReminderSet:
    """The business's default set, created the first time it is asked for."""
    from sqlalchemy import select

    existing = session.scalar(
        select(ReminderSet).where(
            ReminderSet.business_id == business.id, ReminderSet.is_default.is_(True)
        )
    )
    if existing is not None:
        return existing
    reminder_set = ReminderSet(
        business_id=business.id,
        name=DEFAULT_SET,
        is_default=True,
        statement_every_days=14,
        rules=[
            ReminderRule(event=event, offset_days=days, email=True, whatsapp=True)
            for event, days in DEFAULT_RULES
        ],
    )
    session.add(reminder_set)
    session.flush()
    return reminder_set


@dataclass(frozen=True)
class NewUser:
    user: User
    telegram_code: str | None


def add_user(
    session: Session,
    *,
    business: Business,
    role: str,
    now: dt.datetime,
    whatsapp: str | None = None,
    telegram: int | None = None,
    email: str | None = None,
    name: str | None = None,
    telegram_code: bool = False,
    actor: str = "cli",
    channel: str = "cli",
) -> NewUser:
    """A person of the business; with Telegram, a one-time `/start` code to link it.

    `telegram` binds the code to that Telegram account; `telegram_code` alone
    issues one any account may redeem (the owner in chat does not know the id).
    """
    if role not in (UserRole.OWNER, UserRole.STAFF):
        raise InvalidInput("El rol debe ser owner o staff.")
    if not (whatsapp or telegram or email or telegram_code):
        raise InvalidInput("Indica al menos un WhatsApp, Telegram o correo.")
    phone = normalize_phone(whatsapp) if whatsapp else None
    user = User(
        business_id=business.id,
        role=role,
        name=name,
        whatsapp=phone,
        email=validate_email(email) if email else None,
        telegram_expected_id=telegram,
        created_at=now,
    )
    # The Telegram account is bound when the person sends `/start CODE` from it;
    # until then only the code's hash is kept.
    wants_code = telegram is not None or telegram_code
    code = issue_telegram_code(user) if wants_code else None
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("Esa persona ya está registrada en el negocio.") from exc
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="user.added",
        subject=f"user:{user.id}",
        data={"role": role},
        now=now,
    )
    return NewUser(user, code)


def remove_user(
    session: Session, *, user: User, actor: str, channel: str, now: dt.datetime
) -> None:
    """Take a staff member out of the business: their messages are a stranger's."""
    if user.role != UserRole.STAFF:
        raise InvalidInput("Sólo se puede quitar el acceso a alguien del equipo.")
    audit(
        session,
        business_id=user.business_id,
        actor=actor,
        channel=channel,
        action="user.removed",
        subject=f"user:{user.id}",
        now=now,
    )
    session.delete(user)
    session.flush()


def issue_telegram_code(user: User) -> str:
    """A new one-time code for `/start`; any earlier one stops working."""
    code = secrets.token_hex(4).upper()
    user.telegram_code_hash = token_hash(code)
    return code


def link_telegram(
    session: Session, *, code: str, telegram_user_id: int, now: dt.datetime
) -> User:
    """Bind a Telegram account to the person whose one-time code this is."""
    from sqlalchemy import select

    user = session.scalar(
        select(User).where(User.telegram_code_hash == token_hash(code.strip().upper()))
    )
    if user is None:
        raise NotFound("Ese código no es válido o ya se usó.")
    if user.telegram_expected_id not in (None, telegram_user_id):
        raise NotFound("Ese código no es válido o ya se usó.")
    user.telegram_user_id = telegram_user_id
    user.telegram_code_hash = None
    audit(
        session,
        business_id=user.business_id,
        actor=f"user:{user.id}",
        channel="telegram",
        action="user.telegram_linked",
        subject=f"user:{user.id}",
        now=now,
    )
    return user


def validate_email(raw: str) -> str:
    email = raw.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or domain.startswith("."):
        raise InvalidInput(f"«{raw}» no parece un correo electrónico.")
    return email


def update_business(
    session: Session,
    *,
    business: Business,
    now: dt.datetime,
    clabe: str | None = None,
    stp_account_prefix: str | None = None,
    default_terms_days: int | None = None,
    timezone: str | None = None,
    name: str | None = None,
    plans_on_request: bool | None = None,
    max_instalments: int | None = None,
) -> Business:
    changes: dict[str, object] = {}
    if clabe is not None:
        business.clabe = validate_clabe(clabe)
        changes["clabe"] = "****" + business.clabe[-4:]
    if stp_account_prefix is not None:
        if not stp_account_prefix.isdigit() or not 1 <= len(stp_account_prefix) <= 7:
            raise InvalidInput("El prefijo de cuenta STP debe ser de 1 a 7 dígitos.")
        business.stp_account_prefix = stp_account_prefix
        changes["stp_account_prefix"] = stp_account_prefix
        for contact in repo.contacts_of(
            session, business_id=business.id, kind=ContactKind.CUSTOMER
        ):
            assign_virtual_clabe(session, business=business, contact=contact)
    if default_terms_days is not None:
        if not 0 <= default_terms_days <= 365:
            raise InvalidInput("Los días de crédito deben estar entre 0 y 365.")
        business.default_terms_days = default_terms_days
        changes["default_terms_days"] = default_terms_days
    if timezone is not None:
        zone(timezone)
        business.timezone = timezone
        changes["timezone"] = timezone
    if plans_on_request is not None:
        business.plans_on_request = plans_on_request
        changes["plans_on_request"] = plans_on_request
    if max_instalments is not None:
        if not 2 <= max_instalments <= 24:
            raise InvalidInput("Un plan de pagos puede tener de 2 a 24 pagos.")
        business.plans_max_instalments = max_instalments
        changes["plans_max_instalments"] = max_instalments
    if name is not None and name.strip():
        business.name = name.strip()
        changes["name"] = business.name
    audit(
        session,
        business_id=business.id,
        actor="cli",
        channel="cli",
        action="business.updated",
        subject=f"business:{business.id}",
        data=changes,
        now=now,
    )
    return business


def virtual_clabe(prefix: str, sequence: int) -> str:
    """646 + plaza 180 + the account prefix + the customer's sequence + check digit."""
    width = 17 - len(STP_BANK) - len(STP_PLAZA) - len(prefix)
    if sequence >= 10**width:
        raise InvalidInput("No quedan CLABEs virtuales con este prefijo.")
    first17 = f"{STP_BANK}{STP_PLAZA}{prefix}{sequence:0{width}d}"
    return first17 + clabe_check_digit(first17)


def assign_virtual_clabe(
    session: Session, *, business: Business, contact: Contact
) -> None:
    if contact.kind != ContactKind.CUSTOMER:
        return
    if contact.sequence is None:
        contact.sequence = repo.next_contact_sequence(session, business_id=business.id)
    if business.stp_account_prefix:
        contact.virtual_clabe = virtual_clabe(
            business.stp_account_prefix, contact.sequence
        )


@dataclass(frozen=True)
class NewContact:
    kind: str
    rfc: str
    name: str
    tax_regime: str | None = None
    postal_code: str | None = None


def create_contacts(
    session: Session,
    *,
    business: Business,
    new: Sequence[NewContact],
    now: dt.datetime,
) -> list[Contact]:
    """Create several contacts in one flush: sequence, virtual CLABE, reminder set.

    The caller has checked that none of them exists yet (by `match_key`).
    """
    if not new:
        return []
    reminder_set_id = None
    if any(n.kind == ContactKind.CUSTOMER for n in new):
        reminder_set_id = default_reminder_set(session, business=business).id
    sequence = repo.next_contact_sequence(session, business_id=business.id)
    created = []
    for item in new:
        contact = Contact(
            business_id=business.id,
            kind=item.kind,
            rfc=item.rfc,
            match_key=match_key(item.rfc, item.name),
            name=item.name.strip() or item.rfc,
            tax_regime=item.tax_regime,
            postal_code=item.postal_code,
            created_at=now,
        )
        if item.kind == ContactKind.CUSTOMER:
            contact.reminder_set_id = reminder_set_id
            contact.sequence = sequence
            sequence += 1
            if business.stp_account_prefix:
                contact.virtual_clabe = virtual_clabe(
                    business.stp_account_prefix, contact.sequence
                )
        created.append(contact)
    session.add_all(created)
    session.flush()
    return created


def get_or_create_contact(
    session: Session,
    *,
    business: Business,
    kind: str,
    rfc: str,
    name: str,
    now: dt.datetime,
    tax_regime: str | None = None,
    postal_code: str | None = None,
) -> tuple[Contact, bool]:
    """The contact for an RFC (and name, for generic RFCs); created when new."""
    key = match_key(rfc, name)
    contact = repo.contact_by_key(session, business_id=business.id, kind=kind, key=key)
    if contact is not None:
        return contact, False
    item = NewContact(kind, rfc, name, tax_regime, postal_code)
    (contact,) = create_contacts(session, business=business, new=[item], now=now)
    return contact, True


def find_contact(
    session: Session, *, business: Business, rfc: str, kind: str | None = None
) -> Contact:
    contact = repo.contact_by_rfc(
        session, business_id=business.id, rfc=validate_rfc(rfc), kind=kind
    )
    if contact is None:
        raise NotFound(f"No encontré un contacto con RFC {rfc.upper()}.")
    return contact


def update_contact(
    session: Session,
    *,
    contact: Contact,
    actor: str,
    channel: str,
    now: dt.datetime,
    whatsapp: str | None = None,
    email: str | None = None,
    clabe: str | None = None,
    terms_days: int | None = None,
    whatsapp_reminders: bool | None = None,
) -> dict[str, object]:
    """Set a contact's channels, bank account and terms; returns what changed."""
    changes: dict[str, object] = {}
    if whatsapp is not None:
        contact.whatsapp = normalize_phone(whatsapp)
        changes["whatsapp"] = "set"
    if email is not None:
        address = validate_email(email)
        current = contact.email_list
        if address not in current:
            contact.emails = ", ".join([address, *current])
        changes["email"] = "set"
    if clabe is not None:
        contact.clabe = validate_clabe(clabe)
        changes["clabe"] = "****" + contact.clabe[-4:]
    if terms_days is not None:
        if not 0 <= terms_days <= 365:
            raise InvalidInput("Los días de crédito deben estar entre 0 y 365.")
        contact.terms_days = terms_days
        changes["terms_days"] = terms_days
    if whatsapp_reminders is not None:
        contact.whatsapp_reminders = whatsapp_reminders
        changes["whatsapp_reminders"] = whatsapp_reminders
    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="contact.updated",
        subject=f"contact:{contact.id}",
        data=changes,
        now=now,
    )
    return changes


def rfc_holder(session: Session, *, contact: Contact, rfc: str) -> Contact | None:
    """Another contact of the same kind already known by this RFC, if any."""
    other = repo.contact_by_key(
        session,
        business_id=contact.business_id,
        kind=contact.kind,
        key=match_key(rfc, contact.name),
    )
    return other if other is not None and other.id != contact.id else None


def change_contact_rfc(
    session: Session,
    *,
    contact: Contact,
    rfc: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """Correct a contact's RFC (and with it how CFDI find them).

    Refused when another contact of the same kind already has it: the two are one
    company, and merging them is not done here.
    """
    rfc = validate_rfc(rfc)
    other = rfc_holder(session, contact=contact, rfc=rfc)
    if other is not None:
        raise Conflict(f"Ese RFC ya es de {other.display_name}.")
    was_generic = contact.rfc in GENERIC_RFCS
    contact.rfc = rfc
    contact.match_key = match_key(rfc, contact.name)
    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="contact.rfc_changed",
        subject=f"contact:{contact.id}",
        data={"was_generic": was_generic, "generic": rfc in GENERIC_RFCS},
        now=now,
    )


def remove_contact(
    session: Session,
    *,
    contact: Contact,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """Delete a contact added by mistake. One with any history (an invoice, a
    payment, a message sent) stays: the books and the trail keep pointing at it."""
    contact_id, business_id = contact.id, contact.business_id
    try:
        with session.begin_nested():
            session.delete(contact)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"{contact.display_name} ya tiene historial (facturas, pagos o "
            "mensajes), así que no lo borro. Si ya no trabajas con él, «pausa los "
            f"recordatorios de {contact.display_name}»."
        ) from exc
    audit(
        session,
        business_id=business_id,
        actor=actor,
        channel=channel,
        action="contact.removed",
        subject=f"contact:{contact_id}",
        now=now,
    )


def _derive_token(key: bytes, contact: Contact) -> str:
    digest = hmac.new(
        key, f"{contact.id}:{contact.portal_token_nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def portal_token(
    session: Session, *, contact: Contact, key: bytes, now: dt.datetime
) -> str:
    """The customer's current portal token, issued the first time it is needed.

    Only a hash of the token is stored; the token itself is derived again from the
    server's secret key and a random nonce, so the database alone never reveals it.
    """
    if contact.portal_token_nonce is None:
        return issue_portal_token(session, contact=contact, key=key, now=now)
    return _derive_token(key, contact)


def issue_portal_token(
    session: Session,
    *,
    contact: Contact,
    key: bytes,
    now: dt.datetime,
    actor: str = "system",
    channel: str = "system",
) -> str:
    """A new portal token for the customer; any earlier one stops working."""
    contact.portal_token_nonce = secrets.token_hex(16)
    token = _derive_token(key, contact)
    contact.portal_token_hash = token_hash(token)
    contact.portal_token_created_at = now
    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="portal.token_issued",
        subject=f"contact:{contact.id}",
        now=now,
    )
    return token


def revoke_portal_token(
    session: Session, *, contact: Contact, actor: str, channel: str, now: dt.datetime
) -> None:
    contact.portal_token_nonce = None
    contact.portal_token_hash = None
    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="portal.token_revoked",
        subject=f"contact:{contact.id}",
        now=now,
    )


def portal_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/portal/{token}"


def contact_by_portal_token(session: Session, *, token: str) -> Contact | None:
    from sqlalchemy import select

    if not token or len(token) > 128:
        return None
    return session.scalar(
        select(Contact).where(Contact.portal_token_hash == token_hash(token))
    )


def set_flag(
    session: Session,
    *,
    target: Business | Contact,
    flag: str,
    value: bool,
    action: str,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    """Turn one of a business's or contact's switches on or off, and audit it.

    `action` names the event; its audit action is `<action>_on` or `<action>_off`.
    """
    setattr(target, flag, value)
    if isinstance(target, Business):
        business_id, subject = target.id, f"business:{target.id}"
    else:
        business_id, subject = target.business_id, f"contact:{target.id}"
    audit(
        session,
        business_id=business_id,
        actor=actor,
        channel=channel,
        action=f"{action}_{'on' if value else 'off'}",
        subject=subject,
        now=now,
    )


def set_reminders_paused(
    session: Session,
    *,
    business: Business,
    paused: bool,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    set_flag(
        session,
        target=business,
        flag="reminders_paused",
        value=paused,
        action="reminders.paused",
        actor=actor,
        channel=channel,
        now=now,
    )


def set_contact_reminders(
    session: Session,
    *,
    contact: Contact,
    enabled: bool,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    set_flag(
        session,
        target=contact,
        flag="reminders_enabled",
        value=enabled,
        action="contact.reminders",
        actor=actor,
        channel=channel,
        now=now,
    )


def set_invoices_hidden(
    session: Session,
    *,
    contact: Contact,
    hidden: bool,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> None:
    set_flag(
        session,
        target=contact,
        flag="invoices_hidden",
        value=hidden,
        action="contact.invoices_hidden",
        actor=actor,
        channel=channel,
        now=now,
    )


def set_whatsapp_opt_out(
    session: Session,
    *,
    contact: Contact,
    opted_out: bool,
    channel: str,
    now: dt.datetime,
) -> None:
    """The customer's own BAJA / ALTA; only they can undo it."""
    contact.whatsapp_opted_out = opted_out
    audit(
        session,
        business_id=contact.business_id,
        actor=f"contact:{contact.id}",
        channel=channel,
        action="contact.whatsapp_opt_out" if opted_out else "contact.whatsapp_opt_in",
        subject=f"contact:{contact.id}",
        now=now,
    )
