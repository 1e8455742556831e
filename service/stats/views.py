"""Figures for the annual report (docs/contract.md §7), admin, scoped to the caller's organizations: HTTP only."""
from __future__ import annotations

from flask import g

from service.auth.permissions import require_staff
from service.common.excel import xlsx_response
from service.extensions import Blueprint
from service.stats import services
from service.stats.schemas import AnnualArgs, AnnualSchema

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="年度统计")


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
    year = args["year"]
    return xlsx_response(f"年度统计-{year}.xlsx", services.annual_sheets(g.scope, year),
                         ascii_name=f"annual-stats-{year}.xlsx")
