"""Bring CFDIs into the books: invoices, credit notes and payment complements.

`import_sources` streams documents in batches (one transaction each), sorts each
CFDI into receivable, payable or rejected, and applies what complements and credit
notes pay through the money rules, now or when the invoice they name arrives.
`import_in_session` does the same inside a transaction already open (a file sent
in a chat turn): each batch is a savepoint, and all of it commits with the turn.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.business import NewContact, create_contacts
from flows.cfdi.bulk import Row
from flows.cfdi.extract import read_cfdi
from flows.cfdi.prepare import Foreign, Inserts, Owner, PaymentLine, Prepared, prepare
from flows.cfdi.sources import (
    Source,
    can_read_in_child,
    iter_documents,
    read_in_child,
)
from flows.errors import InvalidInput, MoneyRuleViolation, NotFound
from flows.fmt import money, to_money
from flows.money import OpenInvoice, Payer, PaymentBatch
from storage.db import transaction
from storage.models import (
    Business,
    CfdiComplement,
    CfdiPendingPayment,
    Contact,
    Direction,
    Invoice,
    InvoiceStatus,
    invoice_label,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
ZERO = Decimal("0.00")

Progress = Callable[[int], None]
# Opens the unit of work a batch is stored in: a transaction, or a savepoint.
Unit = Callable[[], AbstractContextManager[Session]]
INVOICE_TABLE: Table = Invoice.__table__  # type: ignore[assignment]
COMPLEMENT_TABLE: Table = CfdiComplement.__table__  # type: ignore[assignment]
CONTACT_TABLE: Table = Contact.__table__  # type: ignore[assignment]
PENDING_TABLE: Table = CfdiPendingPayment.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A file (or a payment inside one) that was not taken, and why, in Spanish."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did. `warnings` are payments of imported CFDIs not applied."""

    imported: int = 0
    receivables: int = 0
    payables: int = 0
    credit_notes: int = 0
    complements: int = 0
    duplicates: int = 0
    rejected: int = 0
    payments_applied: int = 0
    pending: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "receivables": self.receivables,
            "payables": self.payables,
            "credit_notes": self.credit_notes,
            "complements": self.complements,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "payments_applied": self.payments_applied,
            "pending": self.pending,
            "rejections": [
                {"path": r.name, "reason": r.reason} for r in self.rejections
            ],
            "warnings": [{"path": w.name, "reason": w.reason} for w in self.warnings],
        }


@dataclass(frozen=True, slots=True)
class _Target:
    """An invoice a complement or credit note names, as the payments see it."""

    state: OpenInvoice
    payer: Payer
    direction: str
    cfdi_type: str


@dataclass
class _Tally:
    """One batch's effect, merged into the report only once its transaction commits."""

    report: ImportReport = field(default_factory=ImportReport)
    pending_added: dict[str, str] = field(default_factory=dict)
    pending_settled: set[str] = field(default_factory=set)


_Read = Prepared | Foreign | Rejection


def import_sources(
    session_factory: sessionmaker[Session],
    *,
    business_id: int,
    sources: Iterable[Source],
    now: dt.datetime,
    progress: Progress | None = None,
    actor: str = "import",
    channel: str = "cli",
    batch_size: int = BATCH_SIZE,
    read_ahead: bool = True,
) -> ImportReport:
    """Import every CFDI in the sources for the business; idempotent by UUID.

    Sources are paths (files, folders, zips) or `(name, bytes)` pairs (an XML or a
    zip package). Each batch of documents commits on its own, so a failure late in a
    long import keeps what came before it.

    With `read_ahead` (and a process that may fork, see `can_read_in_child`), a
    child process reads, parses and prepares the next documents while this one
    stores a batch; they still arrive in their order, so the result is the same
    either way.
    """
    with session_factory() as session:
        owner, inserts = _owner(session, business_id)
    return _run(
        lambda: transaction(session_factory),
        owner,
        inserts,
        sources,
        now=now,
        progress=progress,
        actor=actor,
        channel=channel,
        batch_size=batch_size,
        read_ahead=read_ahead,
    )


def import_in_session(
    session: Session,
    *,
    business_id: int,
    sources: Iterable[Source],
    now: dt.datetime,
    actor: str,
    channel: str,
) -> ImportReport:
    """Import the sources within the caller's transaction (read here, no child)."""
    owner, inserts = _owner(session, business_id)

    @contextmanager
    def savepoint() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    return _run(
        savepoint,
        owner,
        inserts,
        sources,
        now=now,
        progress=None,
        actor=actor,
        channel=channel,
        batch_size=BATCH_SIZE,
        read_ahead=False,
    )


def _run(
    unit: Unit,
    owner: Owner,
    inserts: Inserts,
    sources: Iterable[Source],
    *,
    now: dt.datetime,
    progress: Progress | None,
    actor: str,
    channel: str,
    batch_size: int,
    read_ahead: bool,
) -> ImportReport:
    importer = _Importer(unit, owner, inserts, now, actor, channel)

    def read() -> Generator[_Read]:
        return _read_documents(sources, owner=owner, inserts=inserts, now=now)

    documents = read_in_child(read) if read_ahead and can_read_in_child() else read()
    batch: list[Prepared | Foreign] = []
    try:
        for item in documents:
            if isinstance(item, Rejection):
                importer.reject(item.name, item.reason)
                _tick(progress, 1)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                importer.store(batch)
                _tick(progress, len(batch))
                batch = []
    finally:
        documents.close()  # ends the reader process if storing failed
    if batch:
        importer.store(batch)
        _tick(progress, len(batch))
    return importer.finish()


def _owner(session: Session, business_id: int) -> tuple[Owner, Inserts]:
    """The business as preparing its documents needs it, and the INSERTs compiled
    for its database."""
    business = session.get(Business, business_id)
    if business is None:
        raise NotFound("No existe ese negocio.")
    # Limitation: contacts' own terms are read once, here, so that due dates
    # are final when the reader prepares rows; a contact whose terms change
    # while an import runs keeps the old terms for that import.
    terms = session.execute(
        select(Contact.kind, Contact.match_key, Contact.terms_days).where(
            Contact.business_id == business.id, Contact.terms_days.is_not(None)
        )
    )
    owner = Owner(
        business.id,
        business.rfc,
        business.timezone,
        business.default_terms_days,
        {(kind, key): days for kind, key, days in terms if days is not None},
    )
    return owner, Inserts.for_dialect(session.get_bind().dialect)


def _read_documents(
    sources: Iterable[Source], *, owner: Owner, inserts: Inserts, now: dt.datetime
) -> Generator[_Read]:
    """Each document read, parsed and prepared, or why it could not be."""
    for document in iter_documents(sources):
        if document.error is not None:
            yield Rejection(document.name, document.error)
            continue
        try:
            cfdi = read_cfdi(document.data)
        except InvalidInput as exc:
            yield Rejection(document.name, exc.message)
            continue
        yield prepare(
            document.name, cfdi, document.data, owner=owner, inserts=inserts, now=now
        )


def _tick(progress: Progress | None, count: int) -> None:
    if progress is not None:
        progress(count)


class _Importer:
    """The state of one import run: the report, known contacts, pending payments."""

    def __init__(
        self,
        unit: Unit,
        owner: Owner,
        inserts: Inserts,
        now: dt.datetime,
        actor: str,
        channel: str,
    ) -> None:
        self.unit = unit
        self.owner = owner
        self.inserts = inserts
        self.now = now
        self.actor = actor
        self.channel = channel
        self.report = ImportReport()
        # (kind, match key) -> contact id: contacts seen this run.
        self.contacts: dict[tuple[str, str], int] = {}
        # Payments named this run still waiting for their invoice: key -> file name.
        self.pending: dict[str, str] = {}

    def reject(self, name: str, reason: str) -> None:
        self.report.rejected += 1
        self.report.rejections.append(Rejection(name, reason))

    def store(self, batch: list[Prepared | Foreign]) -> None:
        """Store a batch in one transaction; on a conflict, one document at a time."""
        tally = _Tally()
        try:
            with self.unit() as session:
                self._store(session, batch, tally)
        except IntegrityError:
            # Someone else (a SAT sync running alongside) stored one of these first.
            self.contacts.clear()
            if len(batch) == 1:
                self.reject(batch[0].name, "otro proceso lo guardó al mismo tiempo")
                return
            for prepared in batch:
                self.store([prepared])
            return
        except Exception:
            self.contacts.clear()
            raise
        self._merge(tally)

    def finish(self) -> ImportReport:
        report = self.report
        report.pending = len(self.pending)
        for key, name in self.pending.items():
            uuid = key.split(":")[1]
            report.warnings.append(
                Rejection(
                    name,
                    f"pago del CFDI {uuid} pendiente: la factura que paga aún no se "
                    "ha importado; se aplicará cuando llegue",
                )
            )
        if report.imported or report.payments_applied:
            with self.unit() as session:
                audit(
                    session,
                    business_id=self.owner.id,
                    actor=self.actor,
                    channel=self.channel,
                    action="cfdi.imported",
                    subject=f"business:{self.owner.id}",
                    data={
                        k: v for k, v in report.as_dict().items() if isinstance(v, int)
                    },
                    now=self.now,
                )
        log.info(
            "cfdi import finished",
            extra={
                "business_id": self.owner.id,
                "imported": report.imported,
                "duplicates": report.duplicates,
                "rejected": report.rejected,
                "payments_applied": report.payments_applied,
                "pending": report.pending,
            },
        )
        return report

    def _merge(self, tally: _Tally) -> None:
        mine, batch = self.report, tally.report
        for name in (
            "imported",
            "receivables",
            "payables",
            "credit_notes",
            "complements",
            "duplicates",
            "rejected",
            "payments_applied",
        ):
            setattr(mine, name, getattr(mine, name) + getattr(batch, name))
        mine.rejections.extend(batch.rejections)
        mine.warnings.extend(batch.warnings)
        self.pending.update(tally.pending_added)
        for key in tally.pending_settled:
            self.pending.pop(key, None)

    # One batch, in one transaction.

    def _store(
        self, session: Session, batch: list[Prepared | Foreign], tally: _Tally
    ) -> None:
        report = tally.report
        accepted = self._sort(session, batch, tally)
        if not accepted:
            return

        contacts = self._contacts(session, accepted)
        invoices, complements = self.inserts.invoices, self.inserts.complements
        invoice_rows: list[Row] = []
        complement_rows: list[Row] = []
        new_invoices: list[str] = []
        lines: list[PaymentLine] = []
        for prepared in accepted:
            contact_id = contacts[prepared.party_key]
            row = prepared.row
            if prepared.cfdi_type == "P":
                complements.put(row, "contact_id", contact_id)
                complement_rows.append(row)
                report.complements += 1
            else:
                invoices.put(row, "contact_id", contact_id)
                invoice_rows.append(row)
                new_invoices.append(prepared.uuid)
                if prepared.cfdi_type == "E":
                    report.credit_notes += 1
                elif prepared.direction == Direction.RECEIVABLE:
                    report.receivables += 1
                else:
                    report.payables += 1
            lines.extend(prepared.lines)
            report.imported += 1
        # The driver's executemany with rows rendered where they were read: no ORM,
        # and no work per row here.
        connection = session.connection()
        invoices.execute(connection, invoice_rows)
        complements.execute(connection, complement_rows)

        lines.extend(self._waiting_for(session, new_invoices))
        if lines:
            self._apply(session, lines, tally)

    def _sort(
        self, session: Session, batch: list[Prepared | Foreign], tally: _Tally
    ) -> list[Prepared]:
        """The new documents of the business; duplicates and strangers out."""
        report = tally.report
        invoice_uuids = [p.uuid for p in batch if p.cfdi_type != "P"]
        complement_uuids = [p.uuid for p in batch if p.cfdi_type == "P"]
        connection = session.connection()
        known: set[str] = set()
        for table, uuids in (
            (INVOICE_TABLE, invoice_uuids),
            (COMPLEMENT_TABLE, complement_uuids),
        ):
            if uuids:
                known.update(
                    connection.scalars(
                        select(table.c.uuid).where(
                            table.c.business_id == self.owner.id,
                            table.c.uuid.in_(uuids),
                        )
                    )
                )

        accepted: list[Prepared] = []
        for item in batch:
            if item.uuid in known:
                report.duplicates += 1
                continue
            if isinstance(item, Foreign):
                report.rejected += 1
                report.rejections.append(Rejection(item.name, item.reason))
                continue
            known.add(item.uuid)
            accepted.append(item)
        return accepted

    def _contacts(
        self, session: Session, accepted: list[Prepared]
    ) -> dict[tuple[str, str], int]:
        """Each counterparty's contact: remembered, found by its key, or created."""
        wanted: dict[tuple[str, str], NewContact] = {}
        for prepared in accepted:
            key = prepared.party_key
            if key not in self.contacts and key not in wanted:
                wanted[key] = prepared.party
        if wanted:
            found = session.scalars(
                select(Contact).where(
                    Contact.business_id == self.owner.id,
                    Contact.match_key.in_({key for _, key in wanted}),
                )
            )
            by_key = {(c.kind, c.match_key): c for c in found}
            business = session.get(Business, self.owner.id)
            assert business is not None
            missing: list[tuple[tuple[str, str], NewContact]] = []
            for key, party in wanted.items():
                contact = by_key.get(key)
                if contact is None:
                    missing.append((key, party))
                    continue
                contact.tax_regime = contact.tax_regime or party.tax_regime
                contact.postal_code = contact.postal_code or party.postal_code
                self.contacts[key] = contact.id
            created = create_contacts(
                session,
                business=business,
                new=[party for _, party in missing],
                now=self.now,
            )
            for (key, _), contact in zip(missing, created, strict=True):
                self.contacts[key] = contact.id
        return self.contacts

    def _waiting_for(self, session: Session, uuids: list[str]) -> list[PaymentLine]:
        """Stored payments naming any of these invoices, with credit-note siblings."""
        if not uuids:
            return []
        table = PENDING_TABLE
        connection = session.connection()
        rows = list(
            connection.execute(
                select(table).where(
                    table.c.business_id == self.owner.id,
                    table.c.related_uuid.in_(uuids),
                )
            )
        )
        notes = {r.source_uuid for r in rows if r.kind == "E"}
        if notes:
            seen = {r.id for r in rows}
            rows.extend(
                r
                for r in connection.execute(
                    select(table).where(
                        table.c.business_id == self.owner.id,
                        table.c.source_uuid.in_(notes),
                    )
                )
                if r.id not in seen
            )
        return [
            PaymentLine(
                kind=row.kind,
                source_uuid=row.source_uuid,
                line=row.line,
                related_uuid=row.related_uuid,
                direction=row.direction,
                amount=row.amount,
                currency=row.currency,
                paid_at=row.paid_at,
                method=row.method,
                name=row.source_name or row.source_uuid,
                stored_id=row.id,
            )
            for row in rows
        ]

    def _apply(self, session: Session, lines: list[PaymentLine], tally: _Tally) -> None:
        """Apply each payment whose invoice is here, through the money rules in one
        batch: complements first, then credit notes, each in its order. The others
        keep waiting for their invoice."""
        targets = self._targets(session, {line.related_uuid for line in lines})
        batch = PaymentBatch(
            session,
            now=self.now,
            keys=[(self.owner.id, x.key) for x in lines if x.related_uuid in targets],
        )
        waiting: list[PaymentLine] = []
        notes: dict[str, list[PaymentLine]] = {}
        for line in sorted(lines, key=lambda x: (x.source_uuid, x.line)):
            if line.kind == "E":
                notes.setdefault(line.source_uuid, []).append(line)
            elif line.related_uuid in targets:
                self._pay(batch, line, targets[line.related_uuid], line.amount, tally)
                tally.pending_settled.add(line.key)
            else:
                waiting.append(line)
        for group in notes.values():
            if all(line.related_uuid in targets for line in group):
                self._credit(batch, group, targets, tally)
            else:
                waiting.extend(group)
        batch.write()

        self._keep_waiting(session, waiting, tally)
        settled = [
            line.stored_id
            for line in lines
            if line.stored_id is not None and line.key in tally.pending_settled
        ]
        if settled:
            session.connection().execute(
                delete(PENDING_TABLE).where(PENDING_TABLE.c.id.in_(settled))
            )

    def _targets(self, session: Session, uuids: set[str]) -> dict[str, _Target]:
        """The business's invoices with these UUIDs, as the money rules read them."""
        invoice, contact = INVOICE_TABLE.c, CONTACT_TABLE.c
        rows = session.connection().execute(
            select(
                invoice.id,
                invoice.uuid,
                invoice.series,
                invoice.folio,
                invoice.contact_id,
                invoice.direction,
                invoice.cfdi_type,
                invoice.currency,
                invoice.status,
                invoice.payment_method,
                invoice.total,
                invoice.paid,
                invoice.balance,
                contact.kind,
                contact.name,
            )
            .join(CONTACT_TABLE, contact.id == invoice.contact_id)
            .where(invoice.business_id == self.owner.id, invoice.uuid.in_(uuids))
        )
        payers: dict[int, Payer] = {}
        targets: dict[str, _Target] = {}
        for row in rows:
            payer = payers.get(row.contact_id)
            if payer is None:
                payer = Payer(row.contact_id, self.owner.id, row.kind, row.name)
                payers[row.contact_id] = payer
            state = OpenInvoice(
                id=row.id,
                business_id=self.owner.id,
                contact_id=row.contact_id,
                label=invoice_label(row.series, row.folio, row.uuid, row.id),
                currency=row.currency,
                status=row.status,
                payment_method=row.payment_method,
                total=row.total,
                paid=row.paid,
                balance=row.balance,
            )
            targets[row.uuid] = _Target(state, payer, row.direction, row.cfdi_type)
        return targets

    def _credit(
        self,
        batch: PaymentBatch,
        group: list[PaymentLine],
        targets: dict[str, _Target],
        tally: _Tally,
    ) -> None:
        """A credit note's total, shared among its invoices in order, each up to its
        balance as the payments before it leave it; the XML does not say how much
        goes to each."""
        remaining = group[0].amount
        for line in group:
            target = targets[line.related_uuid]
            share = min(remaining, target.state.balance)
            if share > 0:
                remaining -= self._pay(batch, line, target, share, tally)
            tally.pending_settled.add(line.key)
        if remaining > 0:
            tally.report.warnings.append(
                Rejection(
                    group[0].name,
                    f"de la nota de crédito quedan "
                    f"{money(remaining, group[0].currency)} sin aplicar: las "
                    "facturas relacionadas no tienen saldo suficiente",
                )
            )

    def _pay(
        self,
        batch: PaymentBatch,
        line: PaymentLine,
        target: _Target,
        amount: Decimal,
        tally: _Tally,
    ) -> Decimal:
        """Add one payment to the batch; a refusal becomes a warning. Returns what
        applied."""
        problem = self._mismatch(line, target)
        if problem is None:
            planned = len(batch)
            result = batch.add(
                payer=target.payer,
                amount=amount,
                currency=line.currency,
                paid_at=line.paid_at,
                allocations=[(target.state, to_money(amount))],
                source="sat",
                actor=self.actor,
                channel=self.channel,
                method=line.method,
                idempotency_key=line.key,
                complement_uuid=line.source_uuid,
            )
            if not isinstance(result, MoneyRuleViolation):
                # A key used before means the payment applied then: it takes
                # its share again here, but is not counted as applied twice.
                if len(batch) > planned:
                    tally.report.payments_applied += 1
                return amount
            problem = result.message
        tally.report.warnings.append(
            Rejection(
                line.name,
                f"el pago de {money(amount, line.currency)} a la factura "
                f"{target.state.label} no se aplicó: {problem}",
            )
        )
        return ZERO

    def _mismatch(self, line: PaymentLine, target: _Target) -> str | None:
        if target.direction != line.direction:
            return "la factura es de la otra parte (por cobrar contra por pagar)"
        if target.cfdi_type != "I":
            return "el documento relacionado no es una factura de ingreso"
        if target.state.status == InvoiceStatus.CANCELLED:
            return "la factura está cancelada"
        return None

    def _keep_waiting(
        self, session: Session, lines: list[PaymentLine], tally: _Tally
    ) -> None:
        """Store the payments not stored yet, to apply when their invoice comes."""
        rows = [
            {
                "business_id": self.owner.id,
                "kind": line.kind,
                "source_uuid": line.source_uuid,
                "line": line.line,
                "related_uuid": line.related_uuid,
                "direction": line.direction,
                "amount": line.amount,
                "currency": line.currency,
                "paid_at": line.paid_at,
                "method": line.method,
                "source_name": line.name[-500:],
                "created_at": self.now,
            }
            for line in lines
            if line.stored_id is None
        ]
        if rows:
            session.connection().execute(insert(PENDING_TABLE), rows)
        for line in lines:
            if line.stored_id is None:
                tally.pending_added[line.key] = line.name
