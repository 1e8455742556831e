"""Input and output schemas of the breakfast feature."""
from __future__ import annotations

import datetime as dt
import json
import math
import re

import marshmallow as ma
from flask import Response
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from service.breakfast import qr
from service.common import clock
from service.common.schemas import (
    ID_RANGE,
    BodySchema,
    ComputedInteger,
    ComputedString,
    LocalDateTime,
    NotInUrl,
    OutSchema,
    PageArgs,
    PageBody,
    QuerySchema,
    page_schema,
)

_CONFIRM_DOC = "true：确认坐标无误，即使不在所属工会的服务区域内或不在中国境内（否则 422 outside_service_area）"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ClockTime(fields.Field):
    """A time of day as ``"HH:MM"`` (Asia/Shanghai), e.g. ``"05:30"``."""

    default_error_messages = {"invalid": "时间格式应为 HH:MM，例如 05:30"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": _HHMM.pattern,
                                                  "example": "05:30"})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value, attr, data, **kwargs):
        m = _HHMM.match(value) if isinstance(value, str) else None
        if m is None:
            raise self.make_error("invalid")
        return dt.time(int(m.group(1)), int(m.group(2)))


class Month(fields.Field):
    """A calendar month as ``"YYYY-MM"``; loads as the month's first day."""

    default_error_messages = {"invalid": "月份格式应为 YYYY-MM，例如 2026-03"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": _MONTH.pattern,
                                                  "example": "2026-03"})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m")

    def _deserialize(self, value, attr, data, **kwargs):
        m = _MONTH.match(value) if isinstance(value, str) else None
        if m is None or not 2000 <= int(m.group(1)) <= 2100:
            raise self.make_error("invalid")
        return dt.date(int(m.group(1)), int(m.group(2)), 1)


# --- points --------------------------------------------------------------------

def _window_order(data):
    start, end = data.get("serving_start"), data.get("serving_end")
    if start is not None and end is not None and end <= start:
        raise ma.ValidationError({"serving_end": ["结束时间应晚于开始时间"]})


class BreakfastPointCreateSchema(BodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(required=True, validate=validate.Length(min=1, max=255))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    serving_start = ClockTime(required=True)
    serving_end = ClockTime(required=True)
    daily_quota = fields.Integer(required=True, validate=validate.Range(min=1, max=100000))
    geofence_m = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1, max=100000),
                                metadata={"description": "签到位置须在早餐点多少米以内；不填则不校验位置"})
    active = fields.Boolean(load_default=True)
    organization_id = fields.Integer(allow_none=True, load_default=None, validate=ID_RANGE,
                                     metadata={"description": "所属工会组织；不填则为本人管辖的上级组织"})
    confirm_outside_area = fields.Boolean(metadata={"description": _CONFIRM_DOC})

    @ma.validates_schema
    def _check_window(self, data, **kwargs):
        _window_order(data)


class BreakfastPointUpdateSchema(BodySchema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    address = fields.String(validate=validate.Length(min=1, max=255))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lng = fields.Float(validate=validate.Range(min=-180, max=180))
    serving_start = ClockTime()
    serving_end = ClockTime()
    daily_quota = fields.Integer(validate=validate.Range(min=1, max=100000))
    geofence_m = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100000))
    active = fields.Boolean()
    organization_id = fields.Integer(validate=ID_RANGE)
    confirm_outside_area = fields.Boolean(metadata={"description": _CONFIRM_DOC})

    @ma.validates_schema
    def _check_window(self, data, **kwargs):
        _window_order(data)


class BreakfastPointSchema(OutSchema):
    id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    serving_start = ClockTime(required=True)
    serving_end = ClockTime(required=True)
    daily_quota = fields.Integer(required=True)
    geofence_m = fields.Integer(allow_none=True)
    active = fields.Boolean(required=True)
    qr_generation = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)


class BreakfastPointListArgs(PageArgs):
    active = fields.Boolean()
    organization_id = fields.Integer(validate=ID_RANGE)


def _qr_url(point, name: str) -> str:
    return f"/api/v1/admin/breakfast/points/{point.id}/qr/{name}"


class BreakfastQrSchema(OutSchema):
    """A point's QR code, read from the point: the scene its printed codes carry
    (its current generation, the current key) and where its images are served."""

    point_id = fields.Integer(required=True, attribute="id")
    scene = ComputedString(qr.point_scene, required=True,
                           metadata={"description": "二维码内容（≤32 个字符），也是小程序码的 scene"})
    image_url = ComputedString(lambda p: _qr_url(p, "image.png"), required=True,
                               metadata={"description": "可打印的二维码 PNG（需工作人员登录）"})
    poster_url = ComputedString(lambda p: _qr_url(p, "poster.svg"), required=True,
                                metadata={"description": "张贴海报（SVG，含早餐点名称）"})
    wxacode_url = ComputedString(lambda p: _qr_url(p, "wxacode.png"), required=True,
                                 metadata={"description": "小程序码 PNG（微信接口生成）"})
    page = ComputedString(lambda p: qr.WXACODE_PAGE, required=True)
    key_version = ComputedInteger(lambda p: qr.current_key_version(), required=True)
    qr_generation = fields.Integer(required=True)


class BreakfastTodaySchema(OutSchema):
    point_id = fields.Integer(required=True)
    name = fields.String(required=True)
    serving_date = fields.Date(required=True)
    served = fields.Integer(required=True)
    quota = fields.Integer(required=True)
    quota_left = fields.Integer(required=True)
    serving_start = ClockTime(required=True)
    serving_end = ClockTime(required=True)
    serving_now = fields.Boolean(required=True)
    active = fields.Boolean(required=True)


# --- roster --------------------------------------------------------------------

class BreakfastRosterUploadSchema(BodySchema):
    """multipart/form-data: the file and, optionally, the organization."""

    file = Upload(required=True,
                  metadata={"description": "xlsx 或 csv（UTF-8/GBK）；表头 姓名、手机号、单位、身份证号（可选）；"
                                           "表头之上的标题行会被跳过"})
    organization_id = fields.Integer(allow_none=True, load_default=None, validate=ID_RANGE,
                                     metadata={"description": "名册所属工会组织；不填则为本人管辖的上级组织"})


ROSTER_SEARCH_PATH = "/api/v1/admin/breakfast/roster/search"


class _RosterFilters:
    """The roster's filters, in a query string or in a search body."""

    active = fields.Boolean()
    linked = fields.Boolean()
    organization_id = fields.Integer(validate=ID_RANGE)


class BreakfastRosterArgs(_RosterFilters, PageArgs):
    q = fields.String(validate=[validate.Length(max=64), NotInUrl(ROSTER_SEARCH_PATH)],
                      metadata={"description": "姓名包含；按手机号查找请用 POST …/roster/search"})


class BreakfastRosterSearchSchema(_RosterFilters, PageBody):
    q = fields.String(validate=validate.Length(max=64),
                      metadata={"description": "姓名包含，或完整手机号（精确查找）"})


class BreakfastRosterEntrySchema(OutSchema):
    id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, attribute="phone_masked")
    id_number = fields.String(allow_none=True, attribute="id_number_masked")
    employer = fields.String(allow_none=True)
    active = fields.Boolean(required=True)
    linked = fields.Method("_linked", metadata={"type": "boolean"})
    linked_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)

    def _linked(self, obj):
        return obj.worker_id is not None


BreakfastRosterPageSchema = page_schema(BreakfastRosterEntrySchema, "BreakfastRosterPage")


class BreakfastRosterUpdateSchema(BodySchema):
    active = fields.Boolean(required=True)


# --- workers -------------------------------------------------------------------

class BreakfastClaimResultSchema(OutSchema):
    eligible = fields.Boolean(required=True)
    employer = fields.String(allow_none=True)


class BreakfastCheckinBodySchema(BodySchema):
    scene = fields.String(required=True, metadata={"description": "扫码得到的 scene",
                                                   "nul_ok": True})  # any bad scene is qr_invalid
    lat = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=-180, max=180))


class BreakfastPointRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class BreakfastCheckinSchema(OutSchema):
    id = fields.Integer(required=True)
    point = fields.Nested(BreakfastPointRefSchema, required=True)
    serving_date = fields.Date(required=True)
    checked_in_at = LocalDateTime(required=True)


_CHECKIN_FIELDS = frozenset(("scene", "lat", "lng"))


def _coordinate(value, bound: float):
    """A JSON number within [-bound, bound] as a float, None for null; anything else ``...``."""
    if value is None:
        return None
    if type(value) is float and math.isfinite(value) or type(value) is int:
        if -bound <= value <= bound:
            return float(value)
    return ...


def plain_checkin_body(request) -> tuple[str, float | None, float | None] | None:
    """``(scene, lat, lng)`` when the request's body is one ``BreakfastCheckinBodySchema`` would
    take exactly as sent (a JSON object of a text ``scene`` and in-range numbers or nulls), else
    None: the schema then judges it, with its 422 field messages.  The check-in's hot path; held
    to the schema by tests/breakfast/test_checkin.py."""
    if request.mimetype != "application/json":
        return None
    try:
        body = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if type(body) is not dict or not body.keys() <= _CHECKIN_FIELDS or type(body.get("scene")) is not str:
        return None
    lat, lng = _coordinate(body.get("lat"), 90), _coordinate(body.get("lng"), 180)
    if lat is ... or lng is ...:
        return None
    return body["scene"], lat, lng


def render_checkin(result: dict) -> Response:
    """The 201 answer as ``BreakfastCheckinSchema`` and ``jsonify`` render it, without either
    (byte for byte: tests/breakfast/test_checkin.py)."""
    body = json.dumps({"id": result["id"], "point": {"id": result["point"]["id"], "name": result["point"]["name"]},
                       "serving_date": result["serving_date"].isoformat(),
                       "checked_in_at": clock.isoformat(result["checked_in_at"])},
                      ensure_ascii=False, separators=(",", ":"))
    return Response(body + "\n", status=201, mimetype="application/json")


class BreakfastMineArgs(PageArgs):
    month = Month(metadata={"description": "YYYY-MM，默认本月"})
    per_page = fields.Integer(load_default=31, validate=validate.Range(min=1, max=100))


class BreakfastMinePageSchema(OutSchema):
    month = Month(required=True)
    items = fields.List(fields.Nested(BreakfastCheckinSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


# --- reports -------------------------------------------------------------------

class BreakfastReportArgs(QuerySchema):
    month = Month(metadata={"description": "YYYY-MM，默认本月"})
    point_id = fields.Integer(validate=ID_RANGE)


class BreakfastPerServingSchema(OutSchema):
    rice_g = fields.Float(required=True)
    flour_g = fields.Float(required=True)
    oil_ml = fields.Float(required=True)


class BreakfastPointEstimateSchema(OutSchema):
    point_id = fields.Integer(required=True)
    name = fields.String(required=True)
    servings = fields.Integer(required=True)
    serving_days = fields.Integer(required=True)
    estimated_servings = fields.Integer(required=True)


class BreakfastIngredientsSchema(OutSchema):
    month = Month(required=True)
    next_month = Month(required=True)
    servings = fields.Integer(required=True, metadata={"description": "本月已供应份数"})
    serving_days = fields.Integer(required=True, metadata={"description": "本月有供应的天数（各早餐点分别计）"})
    next_month_days = fields.Integer(required=True, metadata={"description": "下月供应天数（每天供应）"})
    estimated_servings = fields.Integer(required=True, metadata={"description": "下月预计份数"})
    per_serving = fields.Nested(BreakfastPerServingSchema, required=True)
    rice_kg = fields.Integer(required=True)
    flour_kg = fields.Integer(required=True)
    oil_l = fields.Integer(required=True)
    points = fields.List(fields.Nested(BreakfastPointEstimateSchema), required=True)


class BreakfastDayCountSchema(OutSchema):
    serving_date = fields.Date(required=True)
    count = fields.Integer(required=True)


class BreakfastPointReportSchema(OutSchema):
    point_id = fields.Integer(required=True)
    name = fields.String(required=True)
    organization_id = fields.Integer(required=True)
    servings = fields.Integer(required=True)
    distinct_workers = fields.Integer(required=True)
    days = fields.List(fields.Nested(BreakfastDayCountSchema), required=True)


class BreakfastWorkerCountSchema(OutSchema):
    roster_entry_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    employer = fields.String(allow_none=True)
    count = fields.Integer(required=True)


class BreakfastReportSchema(OutSchema):
    month = Month(required=True)
    point_id = fields.Integer(allow_none=True)
    total_servings = fields.Integer(required=True)
    distinct_workers = fields.Integer(required=True)
    points = fields.List(fields.Nested(BreakfastPointReportSchema), required=True)
    workers = fields.List(fields.Nested(BreakfastWorkerCountSchema), required=True)
    ingredients = fields.Nested(BreakfastIngredientsSchema, required=True)
