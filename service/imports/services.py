"""The imports list and the undo (docs/contract.md §5).

Rules:
- Station managers reach stations imports, breakfast managers roster imports,
  each within their organizations' subtrees (an import into the federation
  level: whole-federation staff only); admins both.  Outside: 404.
- An import is undone once, within ``IMPORT_UNDO_DAYS`` of its run: 409
  ``undo_window_closed`` after, 409 ``invalid_state`` when already undone.
  The undo claims the import by a conditional update of its status, so of two
  undos at once exactly one goes ahead; the other gets ``invalid_state``.
- The undo removes what the import created and restores what it updated, in
  one transaction, batch by batch.  A row changed since by anyone (its
  ``updated_at`` is no longer the import's) is skipped and reported, never
  overwritten: a later edit is a clerk's decision the undo does not know about.
"""
from __future__ import annotations

from sqlalchemy import and_, false, null, or_, select, update

from models import db
from models.breakfast import RosterEntry
from models.imports import Import, ImportItem
from service.auth.permissions import Scope, scope_for
from service.breakfast import roster
from service.common import clock
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.imports.errors import ImportAlreadyUndone, ImportNotFound, UndoWindowClosed
from service.imports.records import undo_deadline
from service.stations import importer as stations_importer

ROLES = {"stations": ("station_manager",), "roster": ("breakfast_manager",)}
UNDO = {"stations": stations_importer.undo_import, "roster": roster.undo_import}


def scopes_of(staff) -> dict[str, Scope | None]:
    """Per kind of import, the organizations ``staff`` reaches for it (None: none)."""
    return {kind: scope_for(staff, roles) for kind, roles in ROLES.items()}


def _visible(scopes: dict[str, Scope | None]):
    clauses = [and_(Import.kind == kind, scope.clause(Import.organization_id))
               for kind, scope in scopes.items() if scope is not None]
    return or_(*clauses) if clauses else false()


def list_imports(scopes: dict[str, Scope | None], args: dict) -> dict:
    """Imports the caller reaches, newest first; by ``kind`` and ``status``."""
    stmt = select(Import).where(_visible(scopes))
    for key in ("kind", "status"):
        if args.get(key):
            stmt = stmt.where(getattr(Import, key) == args[key])
    return paginate(stmt.order_by(Import.created_at.desc(), Import.id.desc()), args["page"], args["per_page"])


def undo_import(staff, scopes: dict[str, Scope | None], import_id: int) -> dict:
    """Undo an import → ``{import_id, removed, restored, skipped: [{row, message}]}``.

    404 outside the caller's reach; 409 ``invalid_state`` when undone already
    (or by another request at the same moment); 409 ``undo_window_closed``
    after ``IMPORT_UNDO_DAYS``.
    """
    entry = db.session.get(Import, import_id)
    scope = scopes.get(entry.kind) if entry is not None else None
    if entry is None or scope is None or not scope.allows(entry.organization_id):
        raise ImportNotFound()
    if entry.status != "done":
        raise ImportAlreadyUndone()
    now = clock.now()
    if now > undo_deadline(entry):
        raise UndoWindowClosed()
    claimed = db.session.execute(
        update(Import).where(Import.id == import_id, Import.status == "done")
        .values(status="undone", undone_at=now, undone_by_id=staff.id, undone_by_name=staff.username)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise ImportAlreadyUndone()
    outcome = UNDO[entry.kind](scope, entry, now)
    db.session.execute(update(Import).where(Import.id == import_id)
                       .values(removed=outcome.removed, restored=outcome.restored, skipped=len(outcome.skipped))
                       .execution_options(synchronize_session=False))
    audit("import.undo", "import", import_id, organization_id=entry.organization_id,
          details={"kind": entry.kind, "removed": outcome.removed, "restored": outcome.restored,
                   "skipped": len(outcome.skipped)})
    db.session.commit()
    return {"import_id": import_id, "removed": outcome.removed, "restored": outcome.restored,
            "skipped": outcome.skipped}


def erase_personal_data(worker_id: int) -> None:
    """What roster imports kept of the worker's entry (its previous name, employer and ID
    number, as ciphertext) is wiped; run before the roster's own eraser unlinks the entry.
    The entry changes with the erasure, so no undo will touch it again."""
    entries = select(RosterEntry.id).where(RosterEntry.worker_id == worker_id)
    db.session.execute(
        update(ImportItem)
        .where(ImportItem.record_id.in_(entries),
               ImportItem.import_id.in_(select(Import.id).where(Import.kind == "roster")))
        .values(before=null()).execution_options(synchronize_session=False))
