"""Request and response schemas of the organization tree."""
from __future__ import annotations

from marshmallow import fields, validate

from service.common.distance import CHINA_LAT, CHINA_LNG
from service.common.schemas import ID_RANGE, BodySchema, OutSchema

OCCUPATIONS = ("courier", "food_delivery", "ride_hailing", "truck_driver", "other")
_AREA_DOC = "服务区域：驿站和早餐点应在以 (lat, lng) 为中心、radius_m 米为半径的范围内；null 表示不限（沿用上级组织的）"


class ServiceAreaInSchema(BodySchema):
    lat = fields.Float(required=True, validate=validate.Range(
        min=CHINA_LAT[0], max=CHINA_LAT[1], error=f"中心纬度应在中国境内（{CHINA_LAT[0]} 到 {CHINA_LAT[1]}）"),
        metadata={"description": "中心纬度（GCJ-02）"})
    lng = fields.Float(required=True, validate=validate.Range(
        min=CHINA_LNG[0], max=CHINA_LNG[1], error=f"中心经度应在中国境内（{CHINA_LNG[0]} 到 {CHINA_LNG[1]}）"),
        metadata={"description": "中心经度（GCJ-02）"})
    radius_m = fields.Integer(required=True, validate=validate.Range(
        min=100, max=5_000_000, error="服务半径应在 100 米到 5000 公里之间"),
        metadata={"description": "服务半径（米）"})


class ServiceAreaSchema(OutSchema):
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    radius_m = fields.Integer(required=True)


class OrganizationNodeSchema(OutSchema):
    """One organization of the tree (a ``services.TreeNode``) and, nested, those under it."""

    id = fields.Integer(required=True, attribute="organization.id")
    name = fields.String(required=True, attribute="organization.name")
    parent_id = fields.Integer(allow_none=True, required=True, attribute="organization.parent_id")
    region = fields.String(allow_none=True, attribute="organization.region")
    occupations = fields.List(fields.String(), attribute="organization.occupations")
    accepts_members = fields.Boolean(attribute="organization.accepts_members")
    children = fields.List(fields.Nested(lambda: OrganizationNodeSchema()))


class OrganizationTreeSchema(OutSchema):
    items = fields.List(fields.Nested(OrganizationNodeSchema), required=True)


class OrganizationSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    parent_id = fields.Integer(allow_none=True)
    region = fields.String(allow_none=True)
    occupations = fields.List(fields.String())
    accepts_members = fields.Boolean()
    service_area = fields.Nested(ServiceAreaSchema, allow_none=True, metadata={"description": _AREA_DOC})


class OrganizationCreateSchema(BodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    occupations = fields.List(fields.String(validate=validate.OneOf(OCCUPATIONS)), load_default=list)
    accepts_members = fields.Boolean(load_default=True)
    service_area = fields.Nested(ServiceAreaInSchema, allow_none=True, metadata={"description": _AREA_DOC})


class OrganizationPatchSchema(BodySchema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    occupations = fields.List(fields.String(validate=validate.OneOf(OCCUPATIONS)))
    accepts_members = fields.Boolean()
    service_area = fields.Nested(ServiceAreaInSchema, allow_none=True, metadata={"description": _AREA_DOC})
