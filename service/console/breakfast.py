"""Free breakfast: points (with today's count against the quota), the printable
QR poster, the roster import (preview, then confirm), the monthly report with
its chart and Excel download, and next month's ingredient estimate."""
from __future__ import annotations

import calendar
import functools

from flask import Response, flash, g, redirect, render_template, request, url_for

from service.breakfast import points as breakfast_points
from service.breakfast import reports as breakfast_reports
from service.breakfast import roster as breakfast_roster
from service.breakfast import schemas
from service.common import clock
from service.common.excel import xlsx_response
from service.console import core, maps
from service.console import imports as console_imports

bp = core.child("breakfast", __name__, url_prefix="/breakfast")

ROLES = ("breakfast_manager",)
MAX_POINTS = 100  # points of one organization fit on one page
POINT_FIELDS = ("name", "address", "lat", "lng", "serving_start", "serving_end", "daily_quota", "geofence_m",
                "active", "organization_id")


def _today_by_point(scope, points) -> list[dict]:
    return [breakfast_points.today(scope, p.id) for p in points]


def summary() -> dict:
    """The dashboard card: today's breakfasts against the quota, per active point."""
    scope = core.scope_of(*ROLES)
    points = breakfast_points.list_points(scope, {"page": 1, "per_page": MAX_POINTS, "active": True})["items"]
    rows = _today_by_point(scope, points)
    return {"points": rows, "served": sum(r["served"] for r in rows), "quota": sum(r["quota"] for r in rows)}


# --- points ----------------------------------------------------------------------------

def _markers() -> list[dict]:
    """Every point of the scope as a map marker."""
    items = breakfast_points.list_points(g.scope, {"page": 1, "per_page": MAX_POINTS})["items"]
    return maps.markers(items, "console.breakfast.edit_point", "point_id")


def _point_body(creating: bool) -> dict:
    data = core.form_data()
    body = {k: data[k] for k in POINT_FIELDS if k in data}
    if not creating:
        body["geofence_m"] = data.get("geofence_m") or None  # blank: no geofence
    if data.get("confirm_outside_area"):
        body["confirm_outside_area"] = True
    return body


def _point_values(point) -> dict:
    values = {k: getattr(point, k) for k in POINT_FIELDS}
    values.update(serving_start=point.serving_start.strftime("%H:%M"), serving_end=point.serving_end.strftime("%H:%M"),
                  active="true" if point.active else "false", geofence_m=point.geofence_m or "")
    return values


@bp.route("/")
@core.staff_page(*ROLES)
def points():
    """早餐点：今日领取与份数"""
    page = core.page_of(functools.partial(breakfast_points.list_points, g.scope),
                        core.query_args(schemas.BreakfastPointListArgs))
    today = {row["point_id"]: row for row in _today_by_point(g.scope, page["items"])}
    return render_template("console/breakfast/points.html", page=page, today=today, markers=_markers(),
                           tiles=maps.tiles())


@bp.route("/points/new", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def create_point():
    """新建早餐点"""
    def action():
        body = core.load(schemas.BreakfastPointCreateSchema, _point_body(True))
        point = breakfast_points.create_point(g.scope, body)
        flash(f"已新建早餐点“{point.name}”", "success")
        return redirect(url_for("console.breakfast.points"))
    return core.form_page("console/breakfast/point_form.html", action, point=None, orgs=core.org_choices(g.scope),
                          values={"serving_start": "05:30", "serving_end": "08:30", "active": "true"},
                          neighbours=_markers(), tiles=maps.tiles())


@bp.route("/points/<int:point_id>", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def edit_point(point_id):
    """修改早餐点（供应时间、每日份数、签到范围、启用/暂停）"""
    point = breakfast_points.get_point(g.scope, point_id)

    def action():
        body = core.load(schemas.BreakfastPointUpdateSchema, _point_body(False))
        breakfast_points.update_point(g.scope, point_id, body)
        flash(f"已保存早餐点“{point.name}”", "success")
        return redirect(url_for("console.breakfast.points"))
    return core.form_page("console/breakfast/point_form.html", action, point=point, orgs=core.org_choices(g.scope),
                          values=_point_values(point), neighbours=_markers(), tiles=maps.tiles())


@bp.route("/points/<int:point_id>/poster")
@core.staff_page(*ROLES)
def poster(point_id):
    """可打印的早餐点二维码海报"""
    point = breakfast_points.get_point(g.scope, point_id)
    return render_template("console/breakfast/poster.html", point=point)


@bp.route("/points/<int:point_id>/poster.svg")
@core.staff_page(*ROLES)
def poster_svg(point_id):
    """海报图像（SVG）"""
    return Response(breakfast_points.qr_poster(g.scope, point_id), mimetype="image/svg+xml")


@bp.route("/points/<int:point_id>/qr.png")
@core.staff_page(*ROLES)
def qr_png(point_id):
    """二维码图片（PNG，可下载）"""
    return Response(breakfast_points.qr_png(g.scope, point_id), mimetype="image/png", headers={
        "Content-Disposition": f'attachment; filename="breakfast-point-{point_id}.png"'})


@bp.route("/points/<int:point_id>/qr/rotate", methods=["POST"])
@core.staff_page(*ROLES)
def rotate_qr(point_id):
    """更换二维码（旧海报立即失效）"""
    return core.run(lambda: breakfast_points.rotate_qr(g.scope, point_id),
                    "二维码已更换，请打印新海报并替换现场张贴的旧海报",
                    url_for("console.breakfast.poster", point_id=point_id))


# --- roster ---------------------------------------------------------------------------------

@bp.route("/roster", methods=["GET", "POST"])
@core.staff_page(*ROLES, upload=True)
def roster():
    """早餐名册：导入（先预览将新增、更新和拒绝的行）、查询、停用/启用"""
    def action():
        form = core.load(schemas.BreakfastRosterUploadSchema,
                         {"file": request.files.get("file"), **core.form_data()})
        filename, content = console_imports.upload(form["file"])
        answer = breakfast_roster.import_roster(g.scope, console_imports.as_file(filename, content),
                                                form.get("organization_id"), dry_run=True)
        return _roster_page(preview=console_imports.preview("roster", filename, content,
                                                            form.get("organization_id"), answer))
    return core.form_page("console/breakfast/roster.html", action, **_roster_context())


@bp.route("/roster/confirm", methods=["POST"])
@core.staff_page(*ROLES)
def confirm_roster_import():
    """确认导入预览过的名册文件，逐行显示结果"""
    def action():
        storage, form = console_imports.confirmed("roster")
        return _roster_page(result=breakfast_roster.import_roster(g.scope, storage, form.get("organization_id")))
    return core.form_page("console/breakfast/roster.html", action, **_roster_context())


@bp.route("/roster/import-template.xlsx")
@core.staff_page(*ROLES)
def roster_template():
    """早餐名册导入模板（Excel）"""
    return xlsx_response("早餐名册导入模板.xlsx", breakfast_roster.template_sheets(),
                         ascii_name="roster-import-template.xlsx")


def _roster_context(filters: dict | None = None, **context) -> dict:
    """The roster page: a search sent by POST (``filters``: its phone never goes in a URL), else the query string's."""
    if filters is None:
        page = core.page_of(functools.partial(breakfast_roster.list_roster, g.scope),
                            core.query_args(schemas.BreakfastRosterArgs))
        filters, search = request.args.to_dict(), None
    else:
        page = core.page_of(functools.partial(breakfast_roster.list_roster, g.scope),
                            core.query_args(schemas.BreakfastRosterSearchSchema, filters))
        search = {"action": url_for("console.breakfast.search_roster"), "fields": filters}
    return {"page": page, "result": None, "preview": None, "orgs": core.org_choices(g.scope), "filters": filters,
            "search": search, **context}


def _roster_page(**context):
    return render_template("console/breakfast/roster.html", errors={}, **_roster_context(**context))


@bp.route("/roster/search", methods=["POST"])
@core.staff_page(*ROLES)
def search_roster():
    """按姓名或完整手机号查询名册（条件放在表单中，不进网址）"""
    return render_template("console/breakfast/roster.html", errors={}, **_roster_context(core.form_data()))


@bp.route("/roster/<int:entry_id>", methods=["POST"])
@core.staff_page(*ROLES)
def update_roster_entry(entry_id):
    """停用或启用名册记录"""
    def action():
        body = core.load(schemas.BreakfastRosterUpdateSchema, {"active": request.form.get("active", "")})
        breakfast_roster.update_roster_entry(g.scope, entry_id, body)
    return core.run(action, "名册记录已更新", core.back("console.breakfast.roster"))


# --- the monthly report -----------------------------------------------------------------------

def _chart(report: dict) -> dict:
    """Servings per day of the month, all points together, for the bar chart."""
    by_day: dict[int, int] = {}
    for point in report["points"]:
        for day in point["days"]:
            by_day[day["serving_date"].day] = by_day.get(day["serving_date"].day, 0) + day["count"]
    month = report["month"]
    days = calendar.monthrange(month.year, month.month)[1]
    bars = [(d, by_day.get(d, 0)) for d in range(1, days + 1)]
    return {"bars": bars, "max": max([n for _, n in bars] + [1])}


@bp.route("/report")
@core.staff_page(*ROLES)
def report():
    """月度早餐统计（图表、每日、每人）与下月食材预估；未选月份时打开最近有就餐记录的月份"""
    args = core.query_args(schemas.BreakfastReportArgs)
    month = args.get("month") or breakfast_reports.latest_month(g.scope, args.get("point_id"))
    data = breakfast_reports.monthly_report(g.scope, month, args.get("point_id"))
    all_points = breakfast_points.list_points(g.scope, {"page": 1, "per_page": MAX_POINTS})["items"]
    return render_template("console/breakfast/report.html", report=data, chart=_chart(data),
                           points=core.choices(all_points), month=month.strftime("%Y-%m"),
                           latest_instead=not args.get("month") and month != clock.today_local().replace(day=1))


@bp.route("/report.xlsx")
@core.staff_page(*ROLES)
def report_xlsx():
    """月度早餐统计（Excel）"""
    args = core.load(schemas.BreakfastReportArgs, core.query_raw())
    data = breakfast_reports.monthly_report(g.scope, args.get("month"), args.get("point_id"))
    label = data["month"].strftime("%Y-%m")
    return xlsx_response(f"早餐统计-{label}.xlsx", ascii_name=f"breakfast-report-{label}.xlsx",
                         sheets=breakfast_reports.report_sheets(data))
