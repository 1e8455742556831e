"""Schema building blocks shared by every feature.

Importing this module sets Chinese default messages on marshmallow's fields,
so that every 422 ``details.fields`` message reads in Chinese.
"""
from __future__ import annotations

import re

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
    fields.DateTime: {"invalid": "日期时间格式无效（ISO 8601）", "invalid_awareness": "日期时间需带时区",
                      "format": "日期时间格式无效"},
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


NUL_MESSAGE = "不能包含控制字符"
SURROGATE_MESSAGE = "包含无效的字符"
DEPTH_MESSAGE = "嵌套层级过深"
MAX_DEPTH = 16


def _text_problems(value, path: str) -> dict[str, str]:
    """``{path: message}`` for each string in ``value`` (nested dicts and lists, walked
    without recursion) that no database column can store, and for nesting too deep."""
    problems: dict[str, str] = {}
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                problems[where] = NUL_MESSAGE
            elif not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate, e.g. "\ud800" in JSON
                    problems[where] = SURROGATE_MESSAGE
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                problems[where] = DEPTH_MESSAGE
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, sub in pairs:
                stack.append((sub, f"{where}.{key}", depth + 1))
                if isinstance(key, str):
                    stack.append((key, f"{where}.{key}", depth + 1))
    return problems


class _InputSchema(ma.Schema):
    """Input of any location: text no database column can hold is refused with a 422.

    NUL characters (PostgreSQL text cannot store them) and lone UTF-16
    surrogates (not encodable as UTF-8) are refused field by field, as is
    nesting deeper than ``MAX_DEPTH``; otherwise the database would fail the
    request with a 500.  A field that is never stored and judges its own
    input says so with ``metadata={"nul_ok": True}``.
    """

    @ma.pre_load
    def _refuse_unstorable_text(self, data, **kwargs):
        if not hasattr(data, "keys"):
            return data
        names = {field.data_key or name for name, field in self.load_fields.items()
                 if not field.metadata.get("nul_ok")}
        problems: dict[str, str] = {}
        for key in data.keys():
            if key in names:
                problems.update(_text_problems(data[key], key))
        if problems:
            raise ma.ValidationError({path: [message] for path, message in sorted(problems.items())})
        return data


MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns: a larger number is a 422 (or a 404 in a path), never a 500
ID_RANGE = validate.Range(min=1, max=MAX_ID)


class BodySchema(_InputSchema):
    """Request bodies: unknown fields are refused (mass assignment)."""

    class Meta:
        unknown = ma.RAISE


class QuerySchema(_InputSchema):
    """Query strings: unknown parameters are ignored (cache busters, tracking)."""

    class Meta:
        unknown = ma.EXCLUDE


class OutSchema(ma.Schema):
    class Meta:
        ordered = True


class LocalDateTime(fields.DateTime):
    """Serialises aware datetimes as ISO 8601 with +08:00 (Asia/Shanghai).

    On input, a value without an offset is read as Asia/Shanghai time, and
    years outside 1900–2999 are refused (422): the calendar's ends
    (``0001-01-01T00:00:00``, ``9999-12-31T23:59:59-12:00``) would overflow
    when moved to UTC or to the end of their day.
    """

    FIRST_YEAR, LAST_YEAR = 1900, 2999
    default_error_messages = {"range": f"日期应在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间"}

    def _serialize(self, value, attr, obj, **kwargs):
        return clock.isoformat(value)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=clock.SHANGHAI)
        return self.check_range(result)

    def check_range(self, value):
        """``value`` (a date or datetime) if its year is within range, else a 422."""
        if not self.FIRST_YEAR <= value.year <= self.LAST_YEAR:
            raise self.make_error("range")
        return value


class PageArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageBody(BodySchema):
    """``page`` and ``per_page`` in a request body: a search sent by POST."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


_LONG_NUMBER = re.compile(r"\d{6}")


class NotInUrl(validate.Validator):
    """A query-string search term that holds no ID number or phone: those never travel
    in a URL (access logs keep URLs), so six digits in a row are refused with a 422
    pointing at the POST search ``post_path`` that takes them in its body."""

    def __init__(self, post_path: str):
        self.post_path = post_path

    def __call__(self, value: str) -> str:
        if _LONG_NUMBER.search(re.sub(r"[\s-]", "", value or "")):
            raise ma.ValidationError(f"身份证号、手机号不能放在网址中，请改用 POST {self.post_path} 查询")
        return value


def page_schema(item_schema, name: str | None = None) -> type[ma.Schema]:
    """``{"items": [...], "total", "page", "per_page"}`` around ``item_schema``."""
    return ma.Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    }, name=name or f"{getattr(item_schema, '__name__', 'Item').replace('Schema', '')}Page")


class _Computed:
    """A field whose value is ``compute(obj)`` of the object dumped rather than one of
    its attributes, typed and documented as the field class it is mixed into (a
    ``fields.Function`` would be untyped and marked read-only in the OpenAPI document)."""

    def __init__(self, compute, **kwargs):
        super().__init__(**kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return self.compute(obj)


class ComputedString(_Computed, fields.String):
    pass


class ComputedInteger(_Computed, fields.Integer):
    pass


class ComputedBoolean(_Computed, fields.Boolean):
    pass


class ComputedTime(_Computed, LocalDateTime):
    pass
