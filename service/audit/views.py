from __future__ import annotations

from flask import g
from marshmallow import fields, validate

from service.audit import services
from service.auth.permissions import require_staff
from service.common.schemas import LocalDateTime, OutSchema, PageArgs, page_schema
from service.extensions import Blueprint

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="操作日志")


class AuditQuery(PageArgs):
    action = fields.String(validate=validate.Length(max=64))
    actor = fields.String(validate=validate.Length(max=64))
    target_type = fields.String(validate=validate.Length(max=64))
    target_id = fields.String(validate=validate.Length(max=64))
    since = LocalDateTime()
    until = LocalDateTime()


class AuditEntrySchema(OutSchema):
    id = fields.Integer()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    organization_id = fields.Integer(allow_none=True)
    details = fields.Dict()
    ip = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    created_at = LocalDateTime()


@blp.route("/admin/audit-log", methods=["GET"])
@require_staff("admin")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, page_schema(AuditEntrySchema))
def audit_log(args):
    """操作日志：谁在何时从何处对哪条记录做了什么（管理员）"""
    return services.search(g.scope, args)
