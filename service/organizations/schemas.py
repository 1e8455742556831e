"""Request and response schemas of the organization tree."""
from __future__ import annotations

from marshmallow import fields, validate

from service.common.schemas import ID_RANGE, BodySchema, OutSchema

OCCUPATIONS = ("courier", "food_delivery", "ride_hailing", "truck_driver", "other")


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


class OrganizationCreateSchema(BodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    occupations = fields.List(fields.String(validate=validate.OneOf(OCCUPATIONS)), load_default=list)
    accepts_members = fields.Boolean(load_default=True)


class OrganizationPatchSchema(BodySchema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    occupations = fields.List(fields.String(validate=validate.OneOf(OCCUPATIONS)))
    accepts_members = fields.Boolean()
