"""Member numbers: ``<organization id, 4 digits>-<year>-<sequence, 6 digits>``.

One ``member_no_counters`` row per (organization, year), bumped with
``UPDATE … SET last_value = last_value + 1 … RETURNING last_value`` inside
the approving transaction.  On PostgreSQL the UPDATE holds the row lock until
commit, so concurrent approvals for one organization take turns; on SQLite the
transaction already holds the write lock (BEGIN IMMEDIATE).  A rolled-back
approval rolls its increment back with it, a committed number is never handed
out again, and the unique index on ``memberships.member_no`` is the last word.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import db
from models.enrollment import MemberNoCounter

_counters = MemberNoCounter.__table__


def format_member_no(organization_id: int, year: int, sequence: int) -> str:
    return f"{organization_id:04d}-{year:04d}-{sequence:06d}"


def _bump(organization_id: int, year: int) -> int | None:
    stmt = (update(_counters)
            .where(_counters.c.organization_id == organization_id, _counters.c.year == year)
            .values(last_value=_counters.c.last_value + 1)
            .returning(_counters.c.last_value))
    return db.session.execute(stmt).scalar_one_or_none()


def next_member_no(organization_id: int, year: int) -> str:
    """The next member number of ``organization_id`` for ``year`` (in the caller's transaction)."""
    value = _bump(organization_id, year)
    if value is None:
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(_counters)
                           .values(organization_id=organization_id, year=year, last_value=0)
                           .on_conflict_do_nothing(index_elements=["organization_id", "year"]))
        value = _bump(organization_id, year)
    return format_member_no(organization_id, year, value)
