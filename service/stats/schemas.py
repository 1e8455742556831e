"""Input and output schemas of the annual report's figures (docs/contract.md §7)."""
from __future__ import annotations

from marshmallow import fields, validate

from service.common.schemas import OutSchema, QuerySchema


class AnnualArgs(QuerySchema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class EnrollmentFigures(OutSchema):
    applications = fields.Integer(required=True)
    new_members = fields.Integer(required=True)
    by_occupation = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class StationFigures(OutSchema):
    total = fields.Integer(required=True)
    new = fields.Integer(required=True)
    with_nursing_room = fields.Integer(required=True)


class BreakfastFigures(OutSchema):
    points = fields.Integer(required=True)
    servings = fields.Integer(required=True)
    distinct_workers = fields.Integer(required=True)


class LegalAidFigures(OutSchema):
    bookings = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    no_show = fields.Integer()
    cancelled = fields.Integer()
    by_topic = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class AnnualSchema(OutSchema):
    year = fields.Integer(required=True)
    enrollment = fields.Nested(EnrollmentFigures, required=True)
    stations = fields.Nested(StationFigures, required=True)
    breakfast = fields.Nested(BreakfastFigures, required=True)
    legal_aid = fields.Nested(LegalAidFigures, required=True)
