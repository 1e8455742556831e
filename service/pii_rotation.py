"""``flask --app wsgi pii rotate``: every sealed column and blind index rewritten under the current key.

After ``PII_KEY`` is rotated (the new key as ``PII_KEY`` with ``PII_KEY_VERSION``
raised, the old one in ``PII_OLD_KEYS``), rows written earlier stay readable
and findable (``service/common/pii.py`` matches a blind index under every
configured key).  This pass rewrites them under the current key, so that the
old key can then be dropped:

- Each encrypted column in ``SEALED`` is decrypted with its row's key version
  and encrypted again; each blind index in ``INDEXES`` is computed again from
  its source value.
- Rows are picked by key version (a value not starting with the current
  ``v<n>:``), in batches in id order; each batch is its own short
  transaction, and each row is written by a conditional ``UPDATE … WHERE
  column = <the value read>``, so a row the service changed meanwhile is left
  to the service (it wrote under the current key already).  No lock is held
  beyond the rows being updated: the service keeps running throughout, and a
  rerun resumes where a stopped one ended.
- A value that cannot be rewritten (its key is no longer configured, or its
  index has no source left) is counted and reported; the command then exits
  with status 1, and the old key must stay until that is resolved.

A new table with personal data is one line in ``SEALED`` per encrypted column
and one in ``INDEXES`` per blind index.  The photos of wage-arrears reports are
binary and record their key version in a column of their own
(``arrears_evidence.key_version``): ``rotate_evidence`` seals them again the
same way, batch by batch, each row updated only while it still holds the
version read.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import click
from flask.cli import AppGroup
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from models import Worker, db
from models.arrears import ArrearsEvidence, ArrearsReport
from models.breakfast import RosterEntry
from models.enrollment import EnrollmentApplication, Membership
from models.legal_aid import LegalAidBooking
from service.arrears import evidence
from service.arrears import reports as arrears_reports
from service.auth.services import WORKER_PHONE_CONTEXT
from service.breakfast import roster
from service.common import pii
from service.enrollment import sensitive
from service.legal_aid import display

log = logging.getLogger(__name__)

pii_cli = AppGroup("pii", help="个人信息密钥 / personal-data keys")


@dataclass(frozen=True)
class Sealed:
    """An encrypted column and its encryption context; ``version_column``, when the
    table records the key version of this column, is kept in step."""

    column: InstrumentedAttribute
    context: str
    version_column: InstrumentedAttribute | None = None


@dataclass(frozen=True)
class Index:
    """A blind-index column, the purpose it is keyed for, and the sealed column holding
    its value (``source``, with its context) — on the same row, or reached through the
    relationship ``via``."""

    column: InstrumentedAttribute
    purpose: str
    source: InstrumentedAttribute
    context: str
    via: InstrumentedAttribute | None = None


SEALED = (
    Sealed(Worker.phone_enc, WORKER_PHONE_CONTEXT),
    Sealed(EnrollmentApplication.id_number_enc, sensitive.ID_CONTEXT, EnrollmentApplication.pii_key_version),
    Sealed(EnrollmentApplication.phone_enc, sensitive.PHONE_CONTEXT),
    Sealed(RosterEntry.phone_enc, roster.PHONE_CONTEXT),
    Sealed(RosterEntry.id_number_enc, roster.ID_CONTEXT),
    Sealed(LegalAidBooking.description_enc, display.DESCRIPTION),
    Sealed(LegalAidBooking.contact_phone_enc, display.CONTACT_PHONE),
    Sealed(ArrearsReport.work_address_enc, arrears_reports.ADDRESS_CONTEXT),
    Sealed(ArrearsReport.description_enc, arrears_reports.DESCRIPTION_CONTEXT),
)

INDEXES = (
    Index(Worker.phone_hash, "phone", Worker.phone_enc, WORKER_PHONE_CONTEXT),
    Index(EnrollmentApplication.id_number_hash, sensitive.ID_INDEX, EnrollmentApplication.id_number_enc,
          sensitive.ID_CONTEXT),
    Index(EnrollmentApplication.phone_hash, sensitive.PHONE_INDEX, EnrollmentApplication.phone_enc,
          sensitive.PHONE_CONTEXT),
    Index(Membership.id_number_hash, sensitive.ID_INDEX, EnrollmentApplication.id_number_enc, sensitive.ID_CONTEXT,
          via=Membership.application),
    Index(RosterEntry.phone_hash, "phone", RosterEntry.phone_enc, roster.PHONE_CONTEXT),
    Index(RosterEntry.id_number_hash, "id_number", RosterEntry.id_number_enc, roster.ID_CONTEXT),
)


REWRITTEN, CHANGED, FAILED = "rewritten", "changed", "failed"


@dataclass
class Progress:
    """What one column's pass did: values rewritten, values the service itself rewrote
    between the read and the update (left as they are), values that could not be."""

    name: str
    rewritten: int = 0
    changed: int = 0
    failed: int = 0
    batches: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        changed = f", {self.changed} rewritten by the service meanwhile" if self.changed else ""
        return f"{self.rewritten} rewritten, {self.failed} failed{changed}"


def _name(column: InstrumentedAttribute) -> str:
    return f"{column.class_.__tablename__}.{column.key}"


def _stale(column: InstrumentedAttribute, prefix: str):
    """Rows whose value in ``column`` is not under the current key."""
    return column.is_not(None) & ~column.startswith(prefix, autoescape=True)


def _sealed_rows(spec: Sealed, prefix: str, after: int, size: int) -> list:
    model = spec.column.class_
    return db.session.execute(
        select(model.id, spec.column).where(_stale(spec.column, prefix), model.id > after)
        .order_by(model.id).limit(size)).all()


def _index_rows(spec: Index, prefix: str, after: int, size: int) -> list:
    model = spec.column.class_
    stmt = select(model.id, spec.column, spec.source)
    stmt = stmt.join(spec.via) if spec.via is not None else stmt
    return db.session.execute(
        stmt.where(_stale(spec.column, prefix), model.id > after).order_by(model.id).limit(size)).all()


def _update(column: InstrumentedAttribute, row_id: int, old: str, values: dict) -> str:
    """One row's values written where ``column`` still holds ``old``."""
    model = column.class_
    result = db.session.execute(update(model).where(model.id == row_id, column == old).values(**values)
                                .execution_options(synchronize_session=False))
    return REWRITTEN if result.rowcount == 1 else CHANGED


def _reseal(spec: Sealed, row_id: int, old: str) -> str:
    """One row's value encrypted again under the current key."""
    try:
        plain = pii.decrypt(old, spec.context)
    except Exception:
        log.warning("pii rotate: %s of row %s does not decrypt (key version %s)", _name(spec.column), row_id,
                    pii.key_version(old))
        return FAILED
    new = pii.encrypt(plain, spec.context)
    values = {spec.column.key: new}
    if spec.version_column is not None:
        values[spec.version_column.key] = pii.key_version(new)
    return _update(spec.column, row_id, old, values)


def _reindex(spec: Index, row_id: int, old: str, source: str | None) -> str:
    """One row's blind index computed again under the current key, from its source value."""
    plain = pii.decrypt_optional(source, spec.context)
    if plain is None:
        log.warning("pii rotate: %s of row %s has no readable source value", _name(spec.column), row_id)
        return FAILED
    return _update(spec.column, row_id, old, {spec.column.key: pii.blind_index(plain, spec.purpose)})


def _apply_batch(rows: list, rewrite: Callable[..., str], progress: Progress) -> None:
    """Rewrite one batch in one transaction; should a unique index refuse it (a value
    that is in the table twice), each row is tried alone and the refused ones reported."""
    try:
        outcomes = [rewrite(*row) for row in rows]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        outcomes = []
        for row in rows:
            try:
                with db.session.begin_nested():
                    outcomes.append(rewrite(*row))
            except IntegrityError:
                log.warning("pii rotate: %s of row %s collides with another row", progress.name, row[0])
                outcomes.append(FAILED)
        db.session.commit()
    for outcome in outcomes:
        progress.add(outcome)
    progress.batches += 1


def rotate_column(spec: Sealed | Index, batch_size: int, max_batches: int | None = None,
                  echo: Callable[[str], None] = log.info) -> Progress:
    """Rewrite one column's stale values under the current key, ``batch_size`` rows per
    transaction, at most ``max_batches`` batches (all of them without)."""
    prefix = pii.current_prefix()
    progress = Progress(_name(spec.column))
    read, rewrite = (_sealed_rows, _reseal) if isinstance(spec, Sealed) else (_index_rows, _reindex)
    after = 0
    while max_batches is None or progress.batches < max_batches:
        rows = read(spec, prefix, after, batch_size)
        db.session.rollback()  # the read's transaction ends here; the batch writes in its own
        if not rows:
            break
        _apply_batch(rows, functools.partial(rewrite, spec), progress)
        after = rows[-1][0]
        echo(f"{progress.name}: {progress}")
    return progress


def _reseal_photo(row_id: int, report_id: int, old_version: int) -> str:
    """One photo decrypted with its key version and sealed again under the current key."""
    blob = db.session.scalar(select(ArrearsEvidence.content).where(ArrearsEvidence.id == row_id))
    if blob is None:
        return CHANGED  # erased meanwhile
    try:
        data = evidence.open_sealed(blob, old_version, report_id)
    except Exception:
        log.warning("pii rotate: arrears_evidence.content of row %s does not decrypt (key version %s)",
                    row_id, old_version)
        return FAILED
    version, sealed = evidence.seal(data, report_id)
    result = db.session.execute(
        update(ArrearsEvidence).where(ArrearsEvidence.id == row_id, ArrearsEvidence.key_version == old_version)
        .values(content=sealed, key_version=version).execution_options(synchronize_session=False))
    return REWRITTEN if result.rowcount == 1 else CHANGED


def rotate_evidence(batch_size: int, max_batches: int | None = None,
                    echo: Callable[[str], None] = log.info) -> Progress:
    """Seal the arrears photos not under the current key again, ``batch_size`` photos per transaction."""
    current = evidence.current_key_version()
    progress = Progress("arrears_evidence.content")
    after = 0
    while max_batches is None or progress.batches < max_batches:
        rows = db.session.execute(
            select(ArrearsEvidence.id, ArrearsEvidence.report_id, ArrearsEvidence.key_version)
            .where(ArrearsEvidence.key_version != current, ArrearsEvidence.id > after)
            .order_by(ArrearsEvidence.id).limit(batch_size)).all()
        db.session.rollback()
        if not rows:
            break
        _apply_batch(rows, _reseal_photo, progress)
        after = rows[-1][0]
        echo(f"{progress.name}: {progress}")
    return progress


@pii_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="rows per transaction")
@click.option("--max-batches", type=click.IntRange(1), default=None,
              help="stop each column after this many batches (spread the work over several runs)")
def rotate_command(batch_size, max_batches):
    """Re-encrypt personal data and recompute its blind indexes under the current PII_KEY."""
    click.echo(f"rotating personal data to key version {pii.keyring().version}")
    failed = 0
    passes = [functools.partial(rotate_column, spec) for spec in (*SEALED, *INDEXES)] + [rotate_evidence]
    for rotate_pass in passes:
        progress = rotate_pass(batch_size, max_batches, echo=click.echo)
        click.echo(f"{progress.name}: done, {progress}")
        failed += progress.failed
    if failed:
        click.echo(f"{failed} value(s) could not be rewritten: keep the old key in PII_OLD_KEYS", err=True)
        raise SystemExit(1)
