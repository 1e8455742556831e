"""Writing down what an import did, for the importers of each kind, inside their own transaction.

``record`` adds the import and one item per row written (batched inserts, so
that 100,000 rows cost a hundred statements); ``item_batches`` reads them back
in id order for the undo.  ``UndoOutcome`` is what each kind's undo answers.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app, g, has_request_context
from sqlalchemy import Row, insert, select

from models import db
from models.imports import Import, ImportItem
from service.common import clock

BATCH = 1000


def record(kind: str, organization_id: int | None, filename: str | None, stamp: dt.datetime, *,
           refused: int, created: list[tuple[int, int]], updated: list[tuple[int, int, dict]]) -> int:
    """Add the import of ``kind`` and its items to the session → the import's id.

    ``stamp`` is the ``updated_at`` the import wrote into every row;
    ``created`` is ``(row, record id)`` pairs, ``updated`` ``(row, record id,
    previous values of the changed fields)``.  Does not commit.
    """
    actor = getattr(g, "identity", None) if has_request_context() else None
    entry = Import(kind=kind, organization_id=organization_id, filename=(filename or "")[:255] or None,
                   actor_id=actor.user_id if actor is not None and actor.kind == "staff" else None,
                   actor_name=getattr(actor, "username", None), created=len(created), updated=len(updated),
                   refused=refused, status="done", created_at=stamp)
    db.session.add(entry)
    db.session.flush()
    rows = [{"import_id": entry.id, "row": row, "record_id": record_id, "action": "created", "before": None}
            for row, record_id in created]
    rows += [{"import_id": entry.id, "row": row, "record_id": record_id, "action": "updated", "before": before}
             for row, record_id, before in updated]
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(ImportItem.__table__), rows[start:start + BATCH])
    return entry.id


def item_batches(import_id: int, size: int = BATCH) -> Iterator[list[Row]]:
    """The import's items (rows ``id, row, record_id, action, before``) in id order, ``size`` at a
    time (keyset paging; plain rows, so that 100,000 items do not fill the session)."""
    last = 0
    columns = (ImportItem.id, ImportItem.row, ImportItem.record_id, ImportItem.action, ImportItem.before)
    while True:
        batch = list(db.session.execute(select(*columns).where(ImportItem.import_id == import_id,
                                                               ImportItem.id > last)
                                        .order_by(ImportItem.id).limit(size)))
        if not batch:
            return
        yield batch
        last = batch[-1].id


@dataclass
class UndoOutcome:
    """What one kind's undo did: records removed and restored, rows left as they are
    (``{row, message}``)."""

    removed: int = 0
    restored: int = 0
    skipped: list[dict] = field(default_factory=list)

    def skip(self, row: int, reason: str) -> None:
        self.skipped.append({"row": row, "message": f"第 {row} 行：{reason}，未撤销"})


def undo_deadline(entry: Import) -> dt.datetime:
    """The last moment the import can be undone: ``IMPORT_UNDO_DAYS`` after it ran."""
    return entry.created_at + dt.timedelta(days=current_app.config["IMPORT_UNDO_DAYS"])


def can_undo(entry: Import) -> bool:
    """Whether the import can be undone now: not undone yet, it wrote something, and within its window."""
    return entry.status == "done" and bool(entry.created or entry.updated) and clock.now() <= undo_deadline(entry)
