"""Tables of the imports: every real spreadsheet import, and what it did to each row, so it can be undone.

- ``Import``: one import of a file — who, when, which file, which kind
  (``stations`` or ``roster``), into which organization, its counts — and, once
  undone, when, by whom and with what outcome.  ``created_at`` is also the
  ``updated_at`` the import wrote into every row it touched: a row whose
  ``updated_at`` differs has been changed since.  ``status`` moves from
  ``done`` to ``undone`` once, by a conditional update.
- ``ImportItem``: one row of the file that was written — the record's id,
  ``created`` or ``updated``, and for an update ``before``: the previous value
  of every field the import changed (personal data only as the ciphertexts
  and masked forms the record itself held).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db

IMPORT_KINDS = ("stations", "roster")
IMPORT_STATUSES = ("done", "undone")
ITEM_ACTIONS = ("created", "updated")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Import(db.Model):
    __tablename__ = "imports"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
        Index("ix_imports_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="done")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    undone_by_name: Mapped[str | None] = mapped_column(String(64))
    removed: Mapped[int | None] = mapped_column(Integer)
    restored: Mapped[int | None] = mapped_column(Integer)
    skipped: Mapped[int | None] = mapped_column(Integer)


class ImportItem(db.Model):
    __tablename__ = "import_items"
    __table_args__ = (
        CheckConstraint(_in("action", ITEM_ACTIONS), name="action"),
        Index("ix_import_items_import_id_id", "import_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    row: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict | None] = mapped_column(JSONType)
