"""Input and output schemas of the audit log (docs/contract.md §10)."""
from __future__ import annotations

from marshmallow import fields, validate

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


AuditPageSchema = page_schema(AuditEntrySchema)
