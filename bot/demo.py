"""The demo business that `cobra serve --demo` seeds once: a realistic distributor.

About 20 customers and 10 suppliers, 150 invoices spread over the aging buckets,
PUE and PPD, some partly paid, all made through Cobra's own flows.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from flows.business import create_business, get_or_create_contact, update_business
from flows.fmt import local_date, to_money
from flows.money import Allocation, due_date_for, record_payment
from storage import repo
from storage.models import Contact, Invoice, InvoiceSource, InvoiceStatus

DEMO_RFC = "DNO150301QKA"
DEMO_NAME = "Distribuidora El Nopal"
DEMO_OWNER_WHATSAPP = "+525500000001"

CUSTOMERS = (
    ("Abarrotes La Esperanza SA de CV", "ALE980312JK9", "La Esperanza"),
    ("Acme Industrial de México SA de CV", "AIM050610RTA", "Acme"),
    ("Grupo Norte Comercializadora SA de CV", "GNC101115PL8", "Grupo Norte"),
    (
        "Grupo Constructor del Sureste SA de CV",
        "GCS120420MNA",
        "Constructora del Sureste",
    ),
    ("Farmacias Santa Fe SA de CV", "FSF090901AB8", "Farmacias Santa Fe"),
    ("Restaurantes Peña y Asociados SC", "RPA140214HJ9", "Peña"),
    ("Hotel Quinta Real del Mar SA de CV", "HQR070707QW5", "Quinta Real"),
    ("Papelería y Oficinas Tolteca SA de CV", "POT111111ER2", "Tolteca"),
    ("Talleres Mecánicos Hermanos Ruiz SA de CV", "TMH160505TY9", "Hermanos Ruiz"),
    ("Comercial Frutera del Bajío SA de CV", "CFB130303UI8", "Frutera del Bajío"),
    ("Servicios Logísticos Águila SA de CV", "SLA150808OP3", "Águila"),
    ("Escuela Montessori Coyoacán AC", "EMC000101AS2", "Montessori Coyoacán"),
    ("Clínica Dental Sonrisas SC", "CDS170612DF2", "Sonrisas"),
    ("Panificadora La Espiga de Oro SA de CV", "PEO080808GH7", "La Espiga"),
    ("Ferretería El Martillo SA de CV", "FMA060606JK2", "El Martillo"),
    ("Cafetería Los Portales SA de CV", "CPO190909LZ7", "Los Portales"),
    ("Distribuidora de Carnes Selectas SA de CV", "DCS100210XCA", "Carnes Selectas"),
    ("Muebles y Decoración Casa Bella SA de CV", "MDC180101VB1", "Casa Bella"),
    ("Lavandería Express Polanco SA de CV", "LEP200315NMA", "Lavandería Express"),
    ("María Fernanda López Hernández", "LOHM850412QA2", None),
)
SUPPLIERS = (
    ("Papelera del Norte SA de CV", "PNO990101WS1"),
    ("Transportes Rápidos de Occidente SA de CV", "TRO030303ED8"),
    ("Empaques y Cartón Industrial SA de CV", "ECI040404RF8"),
    ("Servicios de Limpieza Brillo SA de CV", "SLB050505TG4"),
    ("Combustibles del Centro SA de CV", "CCE060606YH0"),
    ("Telecomunicaciones Enlace SA de CV", "TEN070707UJ3"),
    ("Arrendadora de Montacargas SA de CV", "AMO080808IK0"),
    ("Despacho Contable Ramírez y Asociados SC", "DCR090909OL3"),
    ("Seguridad Privada Centinela SA de CV", "SPC101010PZ2"),
    ("Importadora de Refacciones Asia SA de CV", "IRA111111AX1"),
)
CONCEPTS = (
    "Abarrotes surtidos",
    "Productos de limpieza",
    "Bebidas y refrescos",
    "Material de empaque",
    "Mercancía en consignación",
    "Servicio de distribución",
)
# Days before today that invoices are issued, by aging target.
ISSUE_AGES = (2, 5, 10, 20, 28, 35, 45, 60, 75, 95, 110, 130, 160)


def seed_demo(factory: sessionmaker[Session], *, now: dt.datetime) -> bool:
    """Create the demo business once; False when it already exists."""
    with factory() as session, session.begin():
        if repo.business_by_rfc(session, rfc=DEMO_RFC) is not None:
            return False
        _seed(session, now)
    return True


def _seed(session: Session, now: dt.datetime) -> None:
    rng = random.Random(20261203)
    business = create_business(
        session,
        name=DEMO_NAME,
        rfc=DEMO_RFC,
        owner_whatsapp=DEMO_OWNER_WHATSAPP,
        owner_email="direccion@elnopal.example",
        tax_regime="601",
        postal_code="06600",
        now=now,
    )
    update_business(
        session,
        business=business,
        clabe="012180001234567899",
        stp_account_prefix="1234",
        now=now,
    )
    today = local_date(now, business.timezone)

    customers: list[Contact] = []
    for index, (name, rfc, trade) in enumerate(CUSTOMERS):
        contact, _ = get_or_create_contact(
            session, business=business, kind="customer", rfc=rfc, name=name, now=now
        )
        contact.trade_name = trade
        slug = (trade or name).split()[0].lower().replace("á", "a").replace("í", "i")
        contact.emails = f"cuentasporpagar@{slug}.example"
        contact.whatsapp = f"+5255{10000000 + index * 7919:08d}"
        contact.terms_days = rng.choice((None, None, 15, 30, 45))
        customers.append(contact)
    suppliers: list[Contact] = []
    for name, rfc in SUPPLIERS:
        contact, _ = get_or_create_contact(
            session, business=business, kind="supplier", rfc=rfc, name=name, now=now
        )
        contact.emails = f"cobranza@{name.split()[0].lower()}.example"
        suppliers.append(contact)

    folio = 1000
    for _ in range(120):
        folio += 1
        customer = rng.choice(customers)
        invoice = _invoice(
            session, business.default_terms_days, customer, "A", folio, today, rng, now
        )
        _maybe_partly_paid(session, customer, invoice, rng, now)
    for number in range(30):
        supplier = rng.choice(suppliers)
        _invoice(
            session,
            business.default_terms_days,
            supplier,
            "F",
            70 + number,
            today,
            rng,
            now,
            future=True,
        )


def _invoice(
    session: Session,
    default_terms: int,
    contact: Contact,
    series: str,
    folio: int,
    today: dt.date,
    rng: random.Random,
    now: dt.datetime,
    *,
    future: bool = False,
) -> Invoice:
    ages = ISSUE_AGES[:7] if future else ISSUE_AGES
    issue_date = today - dt.timedelta(days=rng.choice(ages) + rng.randint(0, 3))
    method = "PUE" if rng.random() < 0.25 else "PPD"
    subtotal = to_money(
        Decimal(rng.randint(800, 90000)) + Decimal(rng.randint(0, 99)) / 100
    )
    total = to_money(subtotal * Decimal("1.16"))
    terms_text = rng.choice((None, "30 días", "Crédito 45 días", "NET 15"))
    due = due_date_for(
        issue_date=issue_date,
        payment_method=method,
        contact_terms=contact.terms_days,
        payment_terms_text=terms_text,
        default_terms=default_terms,
    )
    invoice = Invoice(
        business_id=contact.business_id,
        contact_id=contact.id,
        direction="receivable" if contact.kind == "customer" else "payable",
        cfdi_type="I",
        uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
        series=series,
        folio=str(folio),
        issued_at=dt.datetime.combine(issue_date, dt.time(17, 0), dt.UTC),
        issue_date=issue_date,
        due_date=due,
        currency="MXN",
        subtotal=subtotal,
        total=total,
        paid=Decimal("0.00"),
        balance=total,
        payment_method=method,
        payment_terms=terms_text,
        status=InvoiceStatus.PENDING,
        source=InvoiceSource.MANUAL,
        description=rng.choice(CONCEPTS),
        created_at=now,
    )
    session.add(invoice)
    session.flush()
    return invoice


def _maybe_partly_paid(
    session: Session,
    customer: Contact,
    invoice: Invoice,
    rng: random.Random,
    now: dt.datetime,
) -> None:
    roll = rng.random()
    if roll < 0.2:
        amount = invoice.total
    elif roll < 0.4:
        amount = to_money(invoice.total * Decimal(rng.choice((25, 40, 50, 60))) / 100)
    else:
        return
    paid_on = min(
        invoice.issue_date + dt.timedelta(days=rng.randint(1, 20)), now.date()
    )
    record_payment(
        session,
        contact=customer,
        amount=amount,
        currency=invoice.currency,
        paid_at=dt.datetime.combine(paid_on, dt.time(18, 0), dt.UTC),
        allocations=[Allocation(invoice, amount)],
        source="manual",
        method="03",
        reference=f"DEMO{invoice.folio}",
        actor="demo",
        channel="cli",
        now=now,
    )
