"""Figures for the annual report (admin, scoped to the caller's organizations)."""
from __future__ import annotations

from flask import g
from marshmallow import fields, validate

from service.auth.permissions import require_staff
from service.common.excel import xlsx_response
from service.common.schemas import OutSchema, QuerySchema
from service.extensions import Blueprint
from service.stats import services

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="年度统计")


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


@blp.route("/admin/stats/annual", methods=["GET"])
@require_staff("admin")
@blp.arguments(AnnualArgs, location="query")
@blp.response(200, AnnualSchema)
def annual(args):
    """年度工作报告数据（本级及下级工会）"""
    return services.annual(g.scope, args["year"])


@blp.route("/admin/stats/annual.xlsx", methods=["GET"])
@require_staff("admin")
@blp.arguments(AnnualArgs, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX, description="年度统计 Excel")
def annual_xlsx(args):
    """年度工作报告数据（Excel）"""
    figures = services.annual(g.scope, args["year"])
    rows = services.annual_rows(figures)
    return xlsx_response(f"年度统计-{args['year']}.xlsx", ascii_name=f"annual-stats-{args['year']}.xlsx", sheets=
                         {f"{args['year']}年度": (["类别", "项目", "数值"], rows)})
