"""Stations: the list with search, create/edit with opening hours, the
spreadsheet import (preview, then confirm) with its per-row results, and
workers' reports to resolve."""
from __future__ import annotations

import functools
import re

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from models.station import Station
from service.common.excel import xlsx_response
from service.console import core, maps
from service.console import imports as console_imports
from service.stations import hours, importer, services
from service.stations.schemas import (
    AMENITY_LABELS,
    REPORT_KIND_LABELS,
    AdminStationArgs,
    ImportFormSchema,
    ReportArgs,
    ReportResolveSchema,
    StationCreateSchema,
    StationPatchSchema,
    is_open_now,
)

bp = core.child("stations", __name__, url_prefix="/stations")

ROLES = ("station_manager",)
REPORT_STATUS_LABELS = {"open": "待处理", "resolved": "已处理"}
MAP_MAX_MARKERS = 2000  # the newest stations of a filter on the list's map; a narrower view shows the rest
PICKER_MAX_NEIGHBOURS = 500  # stations shown around the one being placed
NEIGHBOURHOOD_DEG = 0.05  # about 5 km around it
_RANGES = re.compile(r"[,，;；、\s]+")


def summary() -> dict:
    """The dashboard card: open reports, newest first."""
    page = services.list_reports(core.scope_of(*ROLES), {"status": "open", "page": 1, "per_page": 5})
    return {"open": page["total"], "latest": page["items"], "kinds": REPORT_KIND_LABELS}


# --- the form <-> the API body ----------------------------------------------------------

def _opening_hours(form) -> object:
    """The hours editor: 24 hours, the same ranges every day, or ranges per weekday, as typed
    (the API's schema reads them with the one grammar of ``hours.parse_ranges``)."""
    mode = form.get("hours_mode", "24h")
    if mode == "24h":
        return hours.ALWAYS
    if mode == "daily":
        return form.get("hours_daily", "")
    return {day: form.get(f"hours_{day}", "") for day in hours.DAYS}


def _hours_problems(form) -> dict[str, list[str]]:
    """The hours fields of the chosen mode (每天, or 周一 … 周日) whose ranges do not read, by field."""
    mode = form.get("hours_mode", "24h")
    names = {"daily": ["hours_daily"], "weekly": [f"hours_{day}" for day in hours.DAYS]}.get(mode, [])
    problems: dict[str, list[str]] = {}
    for name in names:
        try:
            hours.parse_ranges(form.get(name, ""))
        except hours.HoursError as err:
            problems.setdefault(name, []).append(str(err))
    return problems


def _body(form) -> dict:
    """The posted form as the API's station body (the schema then checks it)."""
    body = {key: form.get(key, "").strip() for key in ("code", "name", "address", "lat", "lng", "phone")}
    body["amenities"] = form.getlist("amenities")
    body["opening_hours"] = _opening_hours(form)
    closure_from = form.get("closure_from", "").strip()
    body["closure"] = ({"from": closure_from, "until": form.get("closure_until", "").strip() or None,
                        "reason": form.get("closure_reason", "").strip() or None} if closure_from else None)
    if form.get("organization_id", "").strip():
        body["organization_id"] = form["organization_id"].strip()
    if form.get("confirm_outside_area"):
        body["confirm_outside_area"] = True
    return {k: v for k, v in body.items() if v != "" or k == "phone"}


def _values(station: Station) -> MultiDict:
    """A station as the form's fields, to edit it."""
    values = MultiDict({key: "" if getattr(station, key) is None else getattr(station, key)
                        for key in ("code", "name", "address", "lat", "lng", "phone", "organization_id")})
    for code in station.amenities or []:
        values.add("amenities", code)
    opening = station.opening_hours
    if opening == hours.ALWAYS:
        values["hours_mode"] = "24h"
    else:
        day_texts = {day: ", ".join(opening.get(day) or []) for day in hours.DAYS}
        same = len(set(day_texts.values())) == 1 and day_texts["mon"]
        values["hours_mode"] = "daily" if same else "weekly"
        values["hours_daily"] = day_texts["mon"] if same else ""
        for day, text in day_texts.items():
            values[f"hours_{day}"] = text
    closure = station.closure or {}
    for key in ("from", "until", "reason"):
        values[f"closure_{key}"] = closure.get(key) or ""
    return values


def _neighbours(station: Station | None) -> list[dict]:
    """Stations around the one being edited (the newest ones for a new station), to place it among them."""
    near = {}
    if station is not None:
        near["bbox"] = (station.lng - NEIGHBOURHOOD_DEG, station.lat - NEIGHBOURHOOD_DEG,
                        station.lng + NEIGHBOURHOOD_DEG, station.lat + NEIGHBOURHOOD_DEG)
    return maps.markers(services.map_points(g.scope, near, PICKER_MAX_NEIGHBOURS), "console.stations.edit",
                        "station_id")


def _form_context(station: Station | None, **extra) -> dict:
    return {"amenity_labels": AMENITY_LABELS, "day_names": hours.DAY_NAMES, "orgs": core.org_choices(g.scope),
            "station": station, "neighbours": _neighbours(station), "tiles": maps.tiles(), **extra}


# --- pages -------------------------------------------------------------------------------

@bp.route("/")
@core.staff_page(*ROLES)
def index():
    """驿站列表与地图（按名称、编码、地址搜索，可只看地图范围内）"""
    args = core.query_args(AdminStationArgs)
    page = core.page_of(functools.partial(services.list_stations, g.scope), args)
    markers = maps.markers(services.map_points(g.scope, args, MAP_MAX_MARKERS), "console.stations.edit", "station_id")
    bbox = ",".join(str(v) for v in args["bbox"]) if args.get("bbox") else ""
    return render_template("console/stations/index.html", page=page, amenity_labels=AMENITY_LABELS,
                           open_now=is_open_now, orgs=core.org_choices(g.scope), markers=markers, bbox=bbox,
                           tiles=maps.tiles())


@bp.route("/new", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def create():
    """新建驿站"""
    def action():
        body = core.load(StationCreateSchema, _body(request.form), {"opening_hours": _hours_problems(request.form)})
        station = services.create_station(g.scope, body)
        flash(f"已新建驿站“{station.name}”", "success")
        return redirect(url_for("console.stations.index"))
    return core.form_page("console/stations/form.html", action,
                          **_form_context(None, values=MultiDict({"hours_mode": "24h"})))


@bp.route("/<int:station_id>/edit", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def edit(station_id):
    """修改驿站（开放时间、设施、临时闭站）"""
    station = services.station_in_scope(g.scope, station_id)

    def action():
        body = core.load(StationPatchSchema, _body(request.form), {"opening_hours": _hours_problems(request.form)})
        saved = services.update_station(g.scope, station_id, body)
        flash(f"已保存驿站“{saved.name}”", "success")
        return redirect(url_for("console.stations.index"))
    return core.form_page("console/stations/form.html", action,
                          **_form_context(station, values=_values(station)))


@bp.route("/<int:station_id>/delete", methods=["POST"])
@core.staff_page(*ROLES)
def delete(station_id):
    """撤销驿站"""
    return core.run(lambda: services.delete_station(g.scope, station_id), "驿站已撤销",
                    url_for("console.stations.index"))


def _import_page(**context):
    return render_template("console/stations/import.html", errors={}, **_import_context(**context))


def _import_context(**context) -> dict:
    return {"result": None, "preview": None, "orgs": core.org_choices(g.scope), "labels": importer.LABELS,
            **context}


@bp.route("/import", methods=["GET", "POST"])
@core.staff_page(*ROLES, upload=True)
def import_file():
    """批量导入驿站（xlsx / csv）：先预览将新增、更新和拒绝的行"""
    def action():
        form = core.load(ImportFormSchema, core.form_data())
        filename, content = console_imports.upload(request.files.get("file"))
        answer = importer.import_file(g.scope, console_imports.as_file(filename, content), form, dry_run=True)
        return _import_page(preview=console_imports.preview("stations", filename, content,
                                                            form.get("organization_id"), answer))
    return core.form_page("console/stations/import.html", action, **_import_context())


@bp.route("/import/confirm", methods=["POST"])
@core.staff_page(*ROLES)
def confirm_import():
    """确认导入预览过的文件，逐行显示结果"""
    def action():
        storage, form = console_imports.confirmed("stations")
        return _import_page(result=importer.import_file(g.scope, storage, form))
    return core.form_page("console/stations/import.html", action, **_import_context())


@bp.route("/import-template.xlsx")
@core.staff_page(*ROLES)
def import_template():
    """驿站导入模板（Excel）"""
    return xlsx_response("驿站导入模板.xlsx", importer.template_sheets(), ascii_name="stations-import-template.xlsx",
                         lists=importer.template_lists())


@bp.route("/reports")
@core.staff_page(*ROLES)
def reports():
    """职工反馈的驿站问题（未处理在前）"""
    raw = core.query_raw(status="open")
    page = core.page_of(functools.partial(services.list_reports, g.scope), core.query_args(ReportArgs, raw))
    return render_template("console/stations/reports.html", page=page, kinds=REPORT_KIND_LABELS,
                           statuses=REPORT_STATUS_LABELS)


@bp.route("/reports/<int:report_id>/resolve", methods=["POST"])
@core.staff_page(*ROLES)
def resolve(report_id):
    """标记反馈已处理"""
    return core.run(
        lambda: services.resolve_report(g.scope, g.staff, report_id,
                                        core.load(ReportResolveSchema, {"note": request.form.get("note") or None})),
        "反馈已标记为已处理", core.back("console.stations.reports"))
