"""The audit trail of staff writes.

``record()`` adds a row to the current transaction, so a write and its audit
entry commit or roll back together.  A change is recorded as
``details={"changed": changes(before, after)}``: ``{field: [old, new]}``, which
the audit log shows as 字段：旧值 → 新值 (``service/audit/labels.py``).
"""
from __future__ import annotations

import datetime as dt

from flask import g, has_request_context, request

from models import AuditLog, db
from service.common import clock


def record(action: str, target_type: str | None = None, target_id=None, *,
           organization_id: int | None = None, details: dict | None = None) -> AuditLog:
    actor = getattr(g, "identity", None) if has_request_context() else None
    entry = AuditLog(
        actor_id=actor.user_id if actor is not None and actor.kind == "staff" else None,
        actor_name=getattr(actor, "username", None) if actor is not None else "cli",
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        organization_id=organization_id,
        details=details or {},
        ip=(request.remote_addr if has_request_context() else None),
        request_id=(getattr(g, "request_id", None) if has_request_context() else None),
        created_at=clock.now(),
    )
    db.session.add(entry)
    return entry


def _json(value):
    if isinstance(value, dt.datetime):
        return clock.isoformat(value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def changes(before: dict, after: dict) -> dict[str, list]:
    """``{field: [old, new]}`` for each field of ``after`` whose value differs from ``before``'s,
    as JSON values (instants in ISO 8601 with +08:00, dates ISO, times HH:MM)."""
    return {field: [_json(before.get(field)), _json(value)] for field, value in after.items()
            if _json(before.get(field)) != _json(value)}
