"""Free breakfast for sanitation workers (docs/contract.md §6): HTTP only."""
from __future__ import annotations

import functools

from flask import Response, g, request
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from service.auth.permissions import require_staff, require_worker, require_worker_session
from service.breakfast import checkin, points, reports, roster
from service.breakfast import schemas as s
from service.common.excel import xlsx_response
from service.common.http import large_upload
from service.common.schemas import page_schema
from service.extensions import Blueprint
from service.imports.schemas import DryRunArgs, ImportResultSchema


class _Parser(FlaskParser):
    """webargs' parser where the ``form`` location holds the files too, so that one
    schema describes a multipart upload (the file and its form fields)."""

    def load_form(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


blp = _Blueprint("breakfast", __name__, url_prefix="/api/v1", description="环卫工人免费早餐")

MANAGER = "breakfast_manager"
_BINARY = {"type": "string", "format": "binary"}


def _binary(body, content_type: str, filename: str | None = None) -> Response:
    resp = Response(body, mimetype=content_type)
    resp.headers["Cache-Control"] = "private, no-store"
    if filename:
        resp.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return resp


# --- workers -------------------------------------------------------------------

@blp.route("/breakfast/eligibility/claim", methods=["POST"])
@require_worker
@blp.response(200, s.BreakfastClaimResultSchema)
def claim_eligibility():
    """用微信绑定的手机号认领早餐名册资格"""
    return roster.claim_eligibility(g.worker)


def _plain_body_first(view):
    """The check-in's common body read straight from JSON; any other body goes through the schema."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        plain = s.plain_checkin_body(request)
        if plain is None:
            return view(*args, **kwargs)
        return s.render_checkin(checkin.check_in(g.identity.user_id, *plain))
    return wrapper


@blp.route("/breakfast/checkins", methods=["POST"])
@require_worker_session(limit="RATELIMIT_CHECKIN")
@_plain_body_first
@blp.arguments(s.BreakfastCheckinBodySchema)
@blp.response(201, s.BreakfastCheckinSchema)
def check_in(body):
    """扫早餐点二维码签到领取早餐（每人每天一份）"""
    return checkin.check_in(g.identity.user_id, body["scene"], body.get("lat"), body.get("lng"))


@blp.route("/breakfast/checkins/mine", methods=["GET"])
@require_worker
@blp.arguments(s.BreakfastMineArgs, location="query")
@blp.response(200, s.BreakfastMinePageSchema)
def my_checkins(args):
    """本人某月的早餐领取记录"""
    return reports.my_checkins(g.worker, args.get("month"), args["page"], args["per_page"])


# --- staff: points ------------------------------------------------------------------

@blp.route("/admin/breakfast/points", methods=["GET"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastPointListArgs, location="query")
@blp.response(200, page_schema(s.BreakfastPointSchema, "BreakfastPointPage"))
def list_points(args):
    """早餐点列表（本人管辖范围内）"""
    return points.list_points(g.scope, args)


@blp.route("/admin/breakfast/points", methods=["POST"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastPointCreateSchema)
@blp.response(201, s.BreakfastPointSchema)
def create_point(body):
    """新建早餐点"""
    return points.create_point(g.scope, body)


@blp.route("/admin/breakfast/points/<int:point_id>", methods=["GET"])
@require_staff(MANAGER)
@blp.response(200, s.BreakfastPointSchema)
def get_point(point_id):
    """早餐点详情"""
    return points.get_point(g.scope, point_id)


@blp.route("/admin/breakfast/points/<int:point_id>", methods=["PATCH"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastPointUpdateSchema)
@blp.response(200, s.BreakfastPointSchema)
def update_point(body, point_id):
    """修改早餐点（供应时间、每日份数、位置范围、启停）"""
    return points.update_point(g.scope, point_id, body)


@blp.route("/admin/breakfast/points/<int:point_id>/today", methods=["GET"])
@require_staff(MANAGER)
@blp.response(200, s.BreakfastTodaySchema)
def point_today(point_id):
    """早餐点今日实时领取数与剩余份数"""
    return points.today(g.scope, point_id)


@blp.route("/admin/breakfast/points/<int:point_id>/qr", methods=["GET"])
@require_staff(MANAGER)
@blp.response(200, s.BreakfastQrSchema)
def point_qr(point_id):
    """早餐点二维码内容及图片地址"""
    return points.get_point(g.scope, point_id)


@blp.route("/admin/breakfast/points/<int:point_id>/qr/rotate", methods=["POST"])
@require_staff(MANAGER)
@blp.response(200, s.BreakfastQrSchema)
def rotate_point_qr(point_id):
    """更换早餐点二维码（旧码立即失效，需重新张贴）"""
    return points.rotate_qr(g.scope, point_id)


@blp.route("/admin/breakfast/points/<int:point_id>/qr/image.png", methods=["GET"])
@require_staff(MANAGER)
@blp.alt_response(200, schema=_BINARY, content_type="image/png", success=True, description="可打印的二维码")
def point_qr_image(point_id):
    """早餐点二维码 PNG（可打印）"""
    return _binary(points.qr_png(g.scope, point_id), "image/png", f"breakfast-point-{point_id}.png")


@blp.route("/admin/breakfast/points/<int:point_id>/qr/poster.svg", methods=["GET"])
@require_staff(MANAGER)
@blp.alt_response(200, schema=_BINARY, content_type="image/svg+xml", success=True,
                  description="张贴海报（SVG，含早餐点名称与二维码）")
def point_qr_poster(point_id):
    """早餐点张贴海报（SVG）"""
    return _binary(points.qr_poster(g.scope, point_id), "image/svg+xml", f"breakfast-point-{point_id}.svg")


@blp.route("/admin/breakfast/points/<int:point_id>/qr/wxacode.png", methods=["GET"])
@require_staff(MANAGER)
@blp.alt_response(200, schema=_BINARY, content_type="image/png", success=True, description="小程序码")
def point_wxacode(point_id):
    """早餐点小程序码 PNG（由微信生成）"""
    return _binary(points.qr_wxacode(g.scope, point_id), "image/png", f"breakfast-point-{point_id}-wxa.png")


# --- staff: roster ------------------------------------------------------------------

@blp.route("/admin/breakfast/roster/import", methods=["POST"])
@require_staff(MANAGER)
@large_upload
@blp.arguments(DryRunArgs, location="query")
@blp.arguments(s.BreakfastRosterUploadSchema, location="form", content_type="multipart/form-data")
@blp.response(200, ImportResultSchema)
def import_roster(args, form):
    """导入早餐名册（xlsx 或 csv；按手机号新增或更新，逐行报告错误；dry_run=true 只预览）"""
    return roster.import_roster(g.scope, form["file"], form.get("organization_id"), dry_run=args["dry_run"])


@blp.route("/admin/breakfast/roster/import-template.xlsx", methods=["GET"])
@require_staff(MANAGER)
@blp.alt_response(200, schema=_BINARY, success=True, description="早餐名册导入模板（Excel）",
                  content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def roster_import_template():
    """早餐名册导入模板（中文表头、示例行）"""
    return xlsx_response("早餐名册导入模板.xlsx", roster.template_sheets(), ascii_name="roster-import-template.xlsx")


@blp.route("/admin/breakfast/roster", methods=["GET"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastRosterArgs, location="query")
@blp.response(200, s.BreakfastRosterPageSchema)
def list_roster(args):
    """早餐名册（个人信息已脱敏；按手机号查找请用 POST 查询）"""
    return roster.list_roster(g.scope, args)


@blp.route("/admin/breakfast/roster/search", methods=["POST"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastRosterSearchSchema)
@blp.response(200, s.BreakfastRosterPageSchema)
def search_roster(body):
    """查询早餐名册（条件放在请求体中：可按完整手机号查找，不进网址和日志）"""
    return roster.list_roster(g.scope, body)


@blp.route("/admin/breakfast/roster/<int:entry_id>", methods=["PATCH"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastRosterUpdateSchema)
@blp.response(200, s.BreakfastRosterEntrySchema)
def update_roster_entry(body, entry_id):
    """停用或恢复名册记录"""
    return roster.update_roster_entry(g.scope, entry_id, body)


# --- staff: figures -----------------------------------------------------------------

@blp.route("/admin/breakfast/report", methods=["GET"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastReportArgs, location="query")
@blp.response(200, s.BreakfastReportSchema)
def report(args):
    """月度早餐统计：各点每日份数、每人次数、就餐人数、食材预估"""
    return reports.monthly_report(g.scope, args.get("month"), args.get("point_id"))


@blp.route("/admin/breakfast/report.xlsx", methods=["GET"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastReportArgs, location="query")
@blp.alt_response(200, schema=_BINARY, success=True,
                  content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  description="月度早餐统计（Excel）")
def report_xlsx(args):
    """月度早餐统计（Excel 下载）"""
    data = reports.monthly_report(g.scope, args.get("month"), args.get("point_id"))
    label = data["month"].strftime("%Y-%m")
    return xlsx_response(f"早餐统计-{label}.xlsx", ascii_name=f"breakfast-report-{label}.xlsx",
                         sheets=reports.report_sheets(data))


@blp.route("/admin/breakfast/ingredients", methods=["GET"])
@require_staff(MANAGER)
@blp.arguments(s.BreakfastReportArgs, location="query")
@blp.response(200, s.BreakfastIngredientsSchema)
def ingredients(args):
    """按本月份数预估下月大米、面粉、食用油用量"""
    return reports.ingredients(g.scope, args.get("month"), args.get("point_id"))
