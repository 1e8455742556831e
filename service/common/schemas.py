"""Schema building blocks shared by every feature.

Importing this module sets Chinese default messages on marshmallow's fields,
so that every 422 ``details.fields`` message reads in Chinese.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from service.common import clock

_ZH = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.String: {"invalid": "应为文本", "invalid_utf8": "不是有效的 UTF-8 文本"},
    fields.Integer: {"invalid": "应为整数", "too_large": "数值过大"},
    fields.Float: {"invalid": "应为数字", "special": "应为有限数字"},
    fields.Number: {"invalid": "应为数字", "too_large": "数值过大"},
    fields.Decimal: {"invalid": "应为数字", "special": "应为有限数字"},
    fields.Boolean: {"invalid": "应为 true 或 false"},
    fields.DateTime: {"invalid": "日期时间格式无效（ISO 8601）", "invalid_awareness": "日期时间需带时区", "format": "日期时间格式无效"},
    fields.Date: {"invalid": "日期格式无效（YYYY-MM-DD）", "format": "日期格式无效"},
    fields.List: {"invalid": "应为列表"},
    fields.Dict: {"invalid": "应为对象"},
    fields.Mapping: {"invalid": "应为对象"},
    fields.Nested: {"type": "应为对象"},
    fields.Email: {"invalid": "邮箱格式无效"},
    fields.Url: {"invalid": "网址格式无效"},
}
for _cls, _msgs in _ZH.items():
    _cls.default_error_messages = {**getattr(_cls, "default_error_messages", {}), **_msgs}
ma.Schema._default_error_messages = {  # type: ignore[attr-defined]
    **getattr(ma.Schema, "_default_error_messages", {}),
    "type": "请求体应为 JSON 对象",
    "unknown": "不支持的字段",
}

# Chinese messages for the validators used across the features.
validate.Length.message_min = "长度至少为 {min}"
validate.Length.message_max = "长度不能超过 {max}"
validate.Length.message_all = "长度应在 {min} 到 {max} 之间"
validate.Length.message_equal = "长度应为 {equal}"
validate.Range.message_min = "应{min_op} {{min}}"
validate.Range.message_max = "应{max_op} {{max}}"
validate.Range.message_all = "应{min_op} {{min}} 且{max_op} {{max}}"
validate.Range.message_gte = "大于或等于"
validate.Range.message_lte = "小于或等于"
validate.Range.message_gt = "大于"
validate.Range.message_lt = "小于"
validate.ContainsOnly.default_message = "包含无效的取值，可选：{choices}"
validate.OneOf.default_message = "取值应为：{choices}"
validate.Regexp.default_message = "格式不正确"


class BodySchema(ma.Schema):
    """Request bodies: unknown fields are refused (mass assignment)."""

    class Meta:
        unknown = ma.RAISE


class QuerySchema(ma.Schema):
    """Query strings: unknown parameters are ignored (cache busters, tracking)."""

    class Meta:
        unknown = ma.EXCLUDE


class OutSchema(ma.Schema):
    class Meta:
        ordered = True


class LocalDateTime(fields.DateTime):
    """Serialises aware datetimes as ISO 8601 with +08:00 (Asia/Shanghai).

    On input, a value without an offset is read as Asia/Shanghai time.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        return clock.isoformat(value)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=clock.SHANGHAI)
        return result


class PageArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item_schema, name: str | None = None) -> type[ma.Schema]:
    """``{"items": [...], "total", "page", "per_page"}`` around ``item_schema``."""
    return ma.Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    }, name=name or f"{getattr(item_schema, '__name__', 'Item').replace('Schema', '')}Page")
