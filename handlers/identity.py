"""Who is speaking: owner, staff, customer or unknown, and for which business."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.errors import InvalidInput
from flows.fmt import normalize_phone
from flows.messages import Channel, Inbound
from handlers.context import Speaker
from handlers.nlu import Role
from storage import repo
from storage.models import Contact, ContactKind, User


def resolve(session: Session, inbound: Inbound) -> Speaker:
    """The speaker of a message; unknown when nothing ties the sender to a business."""
    if inbound.channel == Channel.CHAT:
        return _terminal(session, inbound)
    if inbound.channel == Channel.WHATSAPP:
        return _whatsapp(session, inbound.sender)
    if inbound.channel == Channel.TELEGRAM:
        return _telegram(session, inbound.sender)
    if inbound.channel == Channel.EMAIL:
        return _email(session, inbound.sender)
    return Speaker(Role.UNKNOWN)


def _from_user(user: User) -> Speaker:
    role = Role.OWNER if user.role == "owner" else Role.STAFF
    return Speaker(role, business=user.business, user=user)


def _from_contact(contact: Contact) -> Speaker:
    return Speaker(Role.CUSTOMER, business=contact.business, contact=contact)


def _terminal(session: Session, inbound: Inbound) -> Speaker:
    business = repo.business_by_rfc(session, rfc=inbound.business_rfc or "")
    if business is None:
        return Speaker(Role.UNKNOWN)
    if inbound.as_contact_rfc:
        contact = repo.contact_by_rfc(
            session,
            business_id=business.id,
            rfc=inbound.as_contact_rfc,
            kind=ContactKind.CUSTOMER,
        )
        return _from_contact(contact) if contact else Speaker(Role.UNKNOWN)
    owners = repo.users_of(session, business_id=business.id, role="owner")
    if owners:
        return _from_user(owners[0])
    return Speaker(Role.OWNER, business=business)


def _whatsapp(session: Session, sender: str) -> Speaker:
    try:
        phone = normalize_phone(sender)
    except InvalidInput:
        return Speaker(Role.UNKNOWN)
    # Limitation: a number registered with several businesses speaks for the
    # first one it was added to; choosing a business in chat is not offered yet.
    # Customers write most, so they are looked for first; the lookup passes over
    # a number that is also the team's, which the team lookup then finds.
    contact = repo.customer_by_whatsapp(session, phone=phone)
    if contact is not None:
        return _from_contact(contact)
    user = repo.team_by_whatsapp(session, phone=phone)
    if user is not None:
        return _from_user(user)
    return Speaker(Role.UNKNOWN)


def _telegram(session: Session, sender: str) -> Speaker:
    if not sender.lstrip("-").isdigit():
        return Speaker(Role.UNKNOWN)
    user = repo.team_by_telegram(session, telegram_user_id=int(sender))
    return _from_user(user) if user is not None else Speaker(Role.UNKNOWN)


def _email(session: Session, sender: str) -> Speaker:
    address = sender.strip().lower()
    user = session.scalars(
        select(User).where(User.email == address).order_by(User.id)
    ).first()
    if user is not None:
        return _from_user(user)
    pattern = f"%{address}%"
    for contact in session.scalars(
        select(Contact).where(Contact.emails.like(pattern)).order_by(Contact.id)
    ):
        if address in contact.email_list and contact.kind == ContactKind.CUSTOMER:
            return _from_contact(contact)
    return Speaker(Role.UNKNOWN)
