"""Input and output schemas of the stations feature (docs/contract.md §5).

The output schemas read the models (or the staff's rows, see ``services``)
directly; what is computed per answer — ``open_now``, a sync item's
``deleted`` — is computed here, once, by ``Computed`` fields.
"""
from __future__ import annotations

import re

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, post_dump, post_load, pre_load, validate, validates

from models.station import AMENITIES, LAT_MAX, REPORT_KINDS, REPORT_STATUSES
from service.common import clock
from service.common.schemas import (
    ID_RANGE,
    BodySchema,
    ComputedBoolean,
    LocalDateTime,
    OutSchema,
    PageArgs,
    QuerySchema,
    page_schema,
)
from service.stations import hours

AMENITY_LABELS = {
    "water": "饮水", "hot_meal": "热饭", "charging": "充电", "toilet": "卫生间", "rest": "休息",
    "nursing_room": "母婴室", "air_conditioning": "空调", "first_aid": "药箱", "wifi": "无线网络",
    "repair_kit": "维修工具", "umbrella": "雨具",
}
CODE_RE = re.compile(r"^[\w.\-/#]{1,64}$")
PHONE_RE = re.compile(r"^[0-9+\-()（） ]{3,32}$")
REPORT_KIND_LABELS = {"closed": "驿站未开放", "wrong_location": "位置不准确", "facility_broken": "设施损坏",
                      "other": "其他问题"}

_IMPORT_ORGANIZATION_DOC = "导入的驿站所属工会组织；不填则为本人所在组织（仅一个时）"
_AMENITIES_DOC = "设施代码：" + "、".join(f"{k}（{v}）" for k, v in AMENITY_LABELS.items())
_HOURS_DOC = ("开放时间：\"24h\"；或每天相同的时间段，多个用逗号、顿号或分号分隔（\"08:00-11:30, 13:30-21:00\"）；"
              "或按星期的时间段对象 {mon: [\"08:00-12:00\", \"14:00-18:00\"], …, sun: []}；"
              "缺少或为空的日子不开放；时间段可跨午夜（\"22:00-06:00\"，开放至次日 06:00）")
_CONFIRM_DOC = "true：确认坐标无误，即使不在所属工会的服务区域内或不在中国境内（否则 422 outside_service_area）"


def unknown_amenities(codes) -> list[str]:
    return [c for c in codes if c not in AMENITY_LABELS]


def canonical_amenities(codes) -> list[str]:
    wanted = set(codes)
    return [code for code in AMENITIES if code in wanted]


class OpeningHoursField(fields.Field):
    """``"24h"`` or ``{mon … sun: ["HH:MM-HH:MM", …]}``; normalised on input."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("description", _HOURS_DOC)
        kwargs["metadata"].setdefault("oneOf", [
            {"type": "string", "example": "08:00-11:30, 13:30-21:00"},
            {"type": "object", "properties": {d: {"type": "array", "items": {"type": "string",
                                                                            "example": "08:00-20:00"}}
                                              for d in hours.DAYS}},
        ])
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return hours.normalise(value)
        except hours.HoursError as err:
            raise ValidationError(str(err)) from None

    def _serialize(self, value, attr, obj, **kwargs):
        return hours.canonical(value)


# --- closure -------------------------------------------------------------------------

class ClosureInSchema(BodySchema):
    from_ = fields.Date(data_key="from", attribute="from", required=True,
                        metadata={"description": "暂停开放的第一天（含）"})
    until = fields.Date(allow_none=True, load_default=None,
                        metadata={"description": "暂停开放的最后一天（含）；为空表示另行通知"})
    reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))

    @post_load
    def _normalise(self, data, **kwargs):
        try:
            return hours.normalise_closure(data)
        except hours.HoursError as err:
            raise ValidationError(str(err), "until") from None


class ClosureSchema(OutSchema):
    from_ = fields.String(data_key="from", attribute="from", required=True, metadata={"format": "date"})
    until = fields.String(allow_none=True, metadata={"format": "date"})
    reason = fields.String(allow_none=True)


# --- station bodies --------------------------------------------------------------------

def _code(**kw):
    return fields.String(validate=[validate.Length(min=1, max=64),
                                   validate.Regexp(CODE_RE, error="编码只能包含字母、数字、汉字及 - _ . / #")],
                         metadata={"description": "驿站编码，全局唯一，如 YZ-GL-001"}, **kw)


def _lat(**kw):
    return fields.Float(validate=validate.Range(min=-LAT_MAX, max=LAT_MAX,
                                                error="纬度应在 -85.05 到 85.05 之间"),
                        metadata={"description": "纬度（GCJ-02）"}, **kw)


def _lng(**kw):
    return fields.Float(validate=validate.Range(min=-180, max=180, error="经度应在 -180 到 180 之间"),
                        metadata={"description": "经度（GCJ-02）"}, **kw)


def _photos(**kw):
    return fields.List(fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500)),
                       validate=validate.Length(max=9, error="最多 9 张照片"),
                       metadata={"description": "照片网址（http/https），最多 9 张"}, **kw)


class _StationBody(BodySchema):
    code = _code()
    name = fields.String(validate=validate.Length(min=1, max=100))
    address = fields.String(validate=validate.Length(min=1, max=255))
    lat = _lat()
    lng = _lng()
    phone = fields.String(allow_none=True, validate=validate.Regexp(PHONE_RE, error="电话号码格式不正确"))
    amenities = fields.List(fields.String(), metadata={"description": _AMENITIES_DOC})
    opening_hours = OpeningHoursField()
    closure = fields.Nested(ClosureInSchema, allow_none=True,
                            metadata={"description": "临时暂停开放 {from, until, reason}；null 取消"})
    photos = _photos()
    organization_id = fields.Integer(allow_none=True, validate=ID_RANGE,
                                     metadata={"description": "所属工会组织；不填则为本人所在组织（仅一个时）"})
    confirm_outside_area = fields.Boolean(metadata={"description": _CONFIRM_DOC})

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            for key in ("code", "name", "address", "phone"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip()
            if data.get("phone") == "":
                data["phone"] = None
        return data

    @validates("amenities")
    def _known_amenities(self, value, **kwargs):
        unknown = unknown_amenities(value)
        if unknown:
            raise ValidationError("未知的设施：" + "、".join(unknown))

    @post_load
    def _canonical(self, data, **kwargs):
        if "amenities" in data:
            data["amenities"] = canonical_amenities(data["amenities"])
        return data


class StationCreateSchema(_StationBody):
    code = _code(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(required=True, validate=validate.Length(min=1, max=255))
    lat = _lat(required=True)
    lng = _lng(required=True)
    amenities = fields.List(fields.String(), load_default=list, metadata={"description": _AMENITIES_DOC})
    opening_hours = OpeningHoursField(required=True)
    photos = _photos(load_default=list)


class StationPatchSchema(_StationBody):
    pass


# --- queries ---------------------------------------------------------------------------

class NearbyArgs(QuerySchema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90, error="纬度应在 -90 到 90 之间"),
                       metadata={"description": "当前位置纬度（GCJ-02，wx.getLocation type=gcj02）"})
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180, error="经度应在 -180 到 180 之间"),
                       metadata={"description": "当前位置经度（GCJ-02）"})
    radius_m = fields.Integer(load_default=3000, validate=validate.Range(
        min=1, max=50000, error="搜索半径应在 1 到 50000 米之间"),
        metadata={"description": "搜索半径（米），最大 50 公里"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50, error="数量应在 1 到 50 之间"))
    amenities = fields.String(load_default="", metadata={"description": "需要的设施，逗号分隔，如 water,charging；" +
                                                           _AMENITIES_DOC})
    open_now = fields.Boolean(load_default=False, metadata={"description": "true：只要现在开放的驿站"})

    @post_load
    def _split(self, data, **kwargs):
        wanted = [c.strip() for c in re.split(r"[,，、|]", data.get("amenities") or "") if c.strip()]
        unknown = unknown_amenities(wanted)
        if unknown:
            raise ValidationError({"amenities": ["未知的设施：" + "、".join(unknown)]})
        data["amenities"] = canonical_amenities(wanted)
        return data


class SyncArgs(PageArgs):
    updated_since = LocalDateTime(metadata={"description": "只要此时间之后（含）变化的驿站，包括已删除的"})
    cursor = fields.String(validate=validate.Length(max=200),
                           metadata={"description": "上一页返回的 next_cursor；给出时按游标翻页，忽略 page"})


class BBox(fields.String):
    """A map's view, ``west,south,east,north`` in degrees (GCJ-02), as a map gives it
    (Leaflet's ``toBBoxString``) → ``(west, south, east, north)``."""

    default_error_messages = {
        "bbox": "地图范围应为“西,南,东,北”四个数字（经度,纬度,经度,纬度）",
        "lng": "经度应在 -180 到 180 之间（地图范围的顺序为 西,南,东,北）",
        "lat": "纬度应在 -90 到 90 之间（地图范围的顺序为 西,南,东,北）",
        "order": "西边的经度不能大于东边，南边的纬度不能大于北边",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        parts = [p for p in re.split(r"[,，\s]+", super()._deserialize(value, attr, data, **kwargs).strip()) if p]
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:  # not four parts, or not numbers
            raise self.make_error("bbox") from None
        if not all(-180 <= v <= 180 for v in (west, east)):
            raise self.make_error("lng")
        if not all(-90 <= v <= 90 for v in (south, north)):
            raise self.make_error("lat")
        if west > east or south > north:
            raise self.make_error("order")
        return west, south, east, north


class AdminStationArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=100), metadata={"description": "名称、编码或地址包含"})
    organization_id = fields.Integer(validate=ID_RANGE)
    bbox = BBox(metadata={
        "description": "只要地图范围内的驿站：西,南,东,北（经度,纬度,经度,纬度，GCJ-02），"
                       "如 119.38,32.37,119.45,32.42"})


class ReportArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))
    kind = fields.String(validate=validate.OneOf(REPORT_KINDS))
    station_id = fields.Integer(validate=ID_RANGE)


# --- outputs ---------------------------------------------------------------------------

def is_open_now(station) -> bool:
    """Is ``station`` (anything with ``opening_hours`` and ``closure``) open at this minute, in Asia/Shanghai?"""
    return hours.is_open(station.opening_hours, station.closure, clock.local_now())


def _deleted(station) -> bool:
    return station.deleted_at is not None


class NearbyItemSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    distance_m = fields.Integer(required=True, metadata={"description": "距离（米）"})
    amenities = fields.List(fields.String(), required=True)
    open_now = fields.Boolean(required=True)
    opening_hours = OpeningHoursField(required=True)
    phone = fields.String(allow_none=True, required=True)
    closure = fields.Nested(ClosureSchema, allow_none=True)


class NearbyResultSchema(OutSchema):
    items = fields.List(fields.Nested(NearbyItemSchema), required=True)


class StationSchema(OutSchema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    phone = fields.String(allow_none=True)
    amenities = fields.List(fields.String(), required=True)
    opening_hours = OpeningHoursField(required=True)
    closure = fields.Nested(ClosureSchema, allow_none=True)
    photos = fields.List(fields.String())
    open_now = ComputedBoolean(is_open_now, required=True)
    organization_id = fields.Integer(allow_none=True)
    updated_at = LocalDateTime()


class StationAdminSchema(StationSchema):
    created_at = LocalDateTime()
    open_reports = fields.Integer(metadata={"description": "待处理的问题反馈数"})


StationAdminPageSchema = page_schema(StationAdminSchema, "StationAdminPage")


class StationSyncItemSchema(OutSchema):
    id = fields.Integer(required=True)
    deleted = ComputedBoolean(_deleted, required=True, metadata={"description": "true：已删除，客户端应移除"})
    code = fields.String()
    name = fields.String()
    address = fields.String()
    lat = fields.Float()
    lng = fields.Float()
    phone = fields.String(allow_none=True)
    amenities = fields.List(fields.String())
    opening_hours = OpeningHoursField()
    closure = fields.Nested(ClosureSchema, allow_none=True)
    photos = fields.List(fields.String())
    updated_at = LocalDateTime()

    @post_dump
    def _tombstone(self, data, **kwargs):
        """A deleted station is only its tombstone: ``{id, deleted: true, updated_at}``."""
        if data["deleted"]:
            return {key: data[key] for key in ("id", "deleted", "updated_at")}
        return data


class StationSyncPageSchema(OutSchema):
    items = fields.List(fields.Nested(StationSyncItemSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    next_cursor = fields.String(
        allow_none=True, required=True,
        metadata={"description": "下一页的游标（按 updated_at、id 稳定排序）；null 表示没有更多"})
    server_time = LocalDateTime(required=True, metadata={"description": "服务器当前时间，可作为下次同步的起点"})


class ReportCreateSchema(BodySchema):
    kind = fields.String(
        required=True, validate=validate.OneOf(REPORT_KINDS),
        metadata={"description": "closed 未开放、wrong_location 位置不准、facility_broken 设施损坏、other 其他"})
    comment = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))


class ReportSchema(OutSchema):
    id = fields.Integer(required=True)
    station_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    comment = fields.String(allow_none=True)
    status = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    resolved_at = LocalDateTime(allow_none=True)


class ReportAdminSchema(ReportSchema):
    station_code = fields.String(required=True)
    station_name = fields.String(required=True)
    organization_id = fields.Integer(allow_none=True)
    resolution_note = fields.String(allow_none=True)


ReportAdminPageSchema = page_schema(ReportAdminSchema, "StationReportPage")


class ReportResolveSchema(BodySchema):
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))


class ImportFormSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    organization_id = fields.Integer(allow_none=True, load_default=None, validate=ID_RANGE,
                                     metadata={"description": _IMPORT_ORGANIZATION_DOC})

    @pre_load
    def _blank_is_none(self, data, **kwargs):
        if hasattr(data, "get") and data.get("organization_id") in ("", None):
            data = {k: v for k, v in dict(data).items() if k != "organization_id"}
        return data


class ImportFileSchema(ma.Schema):
    """The multipart body: the file, and the optional organization (read from the form part)."""

    class Meta:
        unknown = ma.EXCLUDE

    file = Upload(required=True, metadata={"description": (
        "xlsx 或 csv（UTF-8/GBK）；表头（中英文均可）：编码 code、名称 name、地址 address、纬度 lat、经度 lng、"
        "开放时间 opening_hours，可选 电话 phone、设施 amenities（代码或中文名，用 , 、 ， | 分隔）；"
        "开放时间可写 24h、每天相同的时间段（多个用逗号、顿号或分号分隔，如 08:00-11:30, 13:30-21:00）"
        "或按星期的 JSON 对象；表头之上的标题行会被跳过")})
    organization_id = fields.Integer(allow_none=True, validate=ID_RANGE,
                                     metadata={"description": _IMPORT_ORGANIZATION_DOC})
