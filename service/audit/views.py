"""The audit log (docs/contract.md §10), for admins: HTTP only."""
from __future__ import annotations

from flask import g

from service.audit import services
from service.audit.schemas import AuditPageSchema, AuditQuery
from service.auth.permissions import require_staff
from service.extensions import Blueprint

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="操作日志")


@blp.route("/admin/audit-log", methods=["GET"])
@require_staff("admin")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditPageSchema)
def audit_log(args):
    """操作日志：谁在何时从何处对哪条记录做了什么（管理员）"""
    return services.search(g.scope, args)
