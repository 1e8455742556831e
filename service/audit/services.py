"""Reading the audit trail (writing it is ``service.common.audit.record``)."""
from __future__ import annotations

from sqlalchemy import select

from models import AuditLog, Organization, db
from models.legal_aid import LegalAidProvider
from models.station import Station
from service.auth.permissions import Scope
from service.common.pagination import paginate


def search(scope: Scope, args: dict, *, exact_action: bool = False) -> dict:
    """Audit entries newest first, within the caller's organizations.

    Entries without an organization (staff accounts, federation-wide actions)
    are seen only by whole-federation admins.  Filters: ``action`` (a prefix,
    or the whole action with ``exact_action``), ``actor`` (username),
    ``target_type``, ``target_id``, ``since``/``until``.
    """
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if scope.org_ids is not None:
        stmt = stmt.where(scope.clause(AuditLog.organization_id))
    if args.get("action") and exact_action:
        stmt = stmt.where(AuditLog.action == args["action"])
    elif args.get("action"):
        stmt = stmt.where(AuditLog.action.like(args["action"].replace("%", "").replace("_", r"\_") + "%",
                                               escape="\\"))
    if args.get("actor"):
        stmt = stmt.where(AuditLog.actor_name == args["actor"])
    if args.get("target_type"):
        stmt = stmt.where(AuditLog.target_type == args["target_type"])
    if args.get("target_id"):
        stmt = stmt.where(AuditLog.target_id == args["target_id"])
    if args.get("since"):
        stmt = stmt.where(AuditLog.created_at >= args["since"])
    if args.get("until"):
        stmt = stmt.where(AuditLog.created_at < args["until"])
    return paginate(stmt, args["page"], args["per_page"])


# Fields of the details that hold the id of a record with a name.
REFERENCES = {"provider_id": LegalAidProvider, "station_id": Station, "organization_id": Organization,
              "parent_id": Organization}


def referenced_names(entries) -> dict[str, dict[int, str]]:
    """The names of the records the entries' details refer to by id (a provider, a station, an
    organization, before and after a change), one query per kind: ``{field: {id: name}}``."""
    wanted: dict[type, set[int]] = {}
    for entry in entries:
        details = entry.details or {}
        changed = details.get("changed") if isinstance(details.get("changed"), dict) else {}
        for field, model in REFERENCES.items():
            values = [details.get(field), *(changed.get(field) or [])]
            wanted.setdefault(model, set()).update(v for v in values if isinstance(v, int) and not isinstance(v, bool))
    names = {model: dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())
             for model, ids in wanted.items() if ids}
    return {field: names.get(model, {}) for field, model in REFERENCES.items()}
