"""Input and output schemas of the audit log (docs/contract.md §10)."""
from __future__ import annotations

from marshmallow import fields, validate

from service.audit import labels
from service.common.schemas import LocalDateTime, OutSchema, PageArgs, page_schema


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
    action_label = fields.Function(lambda e: labels.action_label(e.action), metadata={"description": "操作（中文）"})
    target_label = fields.Function(lambda e: labels.object_label(e.target_type, e.target_id),
                                   metadata={"description": "对象（中文），如“法律咨询预约 #2”"})
    details_text = fields.Function(lambda e: labels.details_text(e.details),
                                   metadata={"description": "详情（中文，个人信息已脱敏），如“状态：已预约 → 已完成”"})


AuditPageSchema = page_schema(AuditEntrySchema)
