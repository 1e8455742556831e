"""Response schemas of the notifications (docs/contract.md §8)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from config import NOTIFY_DEFAULTS

# {kind: template_id}, one field per kind of message
TemplateIdsSchema = ma.Schema.from_dict(
    {kind: fields.String(required=True, metadata={"description": "订阅消息模板 ID"}) for kind in NOTIFY_DEFAULTS},
    name="NotificationTemplateIds")
