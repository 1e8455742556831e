"""Legal aid: providers, weekly rules and slots, the day's bookings with the worker
to call, complete / no-show with the consultation notes once the slot has begun.

The pages read the model objects the use cases return; what is worked out
rather than stored (labels, a slot's place, the decrypted description) comes
from ``service.legal_aid.display``, as in the API, and the worker's contact
from ``service.legal_aid.contacts`` through the use case (audit-logged).
"""
from __future__ import annotations

import datetime as dt
import functools

from flask import flash, g, redirect, render_template, request, url_for

from service.common import clock
from service.common.excel import xlsx_response
from service.console import core
from service.legal_aid import display, schemas, staff
from service.legal_aid import schedule as scheduling

bp = core.child("legal_aid", __name__, url_prefix="/legal-aid")

ROLES = ("legal_aid_staff",)
WEEKDAYS = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}
SLOT_STATUS_LABELS = {"open": "正常", "cancelled": "已取消"}
MAX_LISTED = 100  # providers and rules of one organization fit on one page
UPCOMING_DAYS = 7  # the bookings list opens on today and the six days after it


def _coming_week() -> dict:
    """The bookings list's default dates: today and the six days after it."""
    today = clock.today_local()
    return {"date_from": today.isoformat(), "date_to": (today + dt.timedelta(days=UPCOMING_DAYS - 1)).isoformat()}


def summary() -> dict:
    """The dashboard card: consultations still to hold in the coming seven days, today's among them."""
    scope = core.scope_of(*ROLES)
    week = core.load(schemas.LegalAidAdminBookingListArgs, {**_coming_week(), "status": "booked", "per_page": 8})
    today = clock.today_local()
    waiting = staff.booking_page(scope, week)  # the card names no one: no contacts, nothing to audit
    waiting_today = staff.booking_page(scope, {**week, "date_to": today, "per_page": 1})["total"]
    return {"waiting": waiting["total"], "today": waiting_today, "items": waiting["items"], "topics": display.TOPICS,
            "days": UPCOMING_DAYS}


def _labels() -> dict:
    """Labels and the display rules of ``service.legal_aid.display`` for the templates."""
    return {"topics": display.TOPICS, "outcomes": display.OUTCOME_LABELS, "statuses": display.STATUS_LABELS,
            "modes": display.MODE_LABELS, "kinds": display.KIND_LABELS, "weekdays": WEEKDAYS,
            "slot_statuses": SLOT_STATUS_LABELS, "place": display.slot_location,
            "description": display.description}


def _providers(**filters) -> list:
    return scheduling.list_providers(g.scope, {"page": 1, "per_page": MAX_LISTED, **filters})["items"]


# --- the day's bookings ------------------------------------------------------------------

@bp.route("/")
@core.staff_page(*ROLES)
def bookings():
    """咨询预约，默认今天起七天（按日期、服务提供方、状态、事项筛选），含职工姓名与联系电话"""
    args = core.query_args(schemas.LegalAidAdminBookingListArgs, core.query_raw(**_coming_week()))
    page = core.page_of(functools.partial(staff.list_admin_bookings, g.scope), args)
    return render_template("console/legal_aid/bookings.html", page=page, args=args, now=clock.now(),
                           providers=core.choices(_providers()), **_labels())


@bp.route("/bookings/<int:booking_id>/complete", methods=["POST"])
@core.staff_page(*ROLES)
def complete(booking_id):
    """登记咨询完成（处理结果与咨询记录）"""
    def action():
        body = core.load(schemas.LegalAidCompleteSchema, core.form_data())
        staff.complete_booking(g.scope, booking_id, g.staff.id, body)
    return core.run(action, "已登记咨询完成", core.back("console.legal_aid.bookings"))


@bp.route("/bookings/<int:booking_id>/no-show", methods=["POST"])
@core.staff_page(*ROLES)
def no_show(booking_id):
    """登记职工未到场"""
    return core.run(lambda: staff.mark_no_show(g.scope, booking_id, g.staff.id), "已登记为未到场",
                    core.back("console.legal_aid.bookings"))


@bp.route("/providers/<int:provider_id>/day-sheet.xlsx")
@core.staff_page(*ROLES)
def day_sheet(provider_id):
    """下载服务提供方某日的咨询安排表（Excel，含职工姓名与联系电话）"""
    args = core.load(schemas.LegalAidDaySheetArgs, core.query_raw(date=clock.today_local().isoformat()))
    sheet = staff.day_sheet(g.scope, provider_id, args["date"])
    return xlsx_response(sheet.filename, sheet.sheets, ascii_name=staff.DAY_SHEET_ASCII_NAME)


# --- providers -----------------------------------------------------------------------------

@bp.route("/providers", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def providers():
    """律师与志愿法律服务站：列表、新增、修改、启用/停用"""
    def action():
        body = core.load(schemas.LegalAidProviderCreateSchema, core.form_data())
        provider = scheduling.create_provider(g.scope, body)
        flash(f"已新增“{provider.name}”", "success")
        return redirect(url_for("console.legal_aid.providers"))
    return core.form_page("console/legal_aid/providers.html", action, items=_providers(),
                          orgs=core.org_choices(g.scope), values={}, **_labels())


@bp.route("/providers/<int:provider_id>", methods=["POST"])
@core.staff_page(*ROLES)
def update_provider(provider_id):
    """修改服务提供方"""
    def action():
        body = core.load(schemas.LegalAidProviderPatchSchema, core.form_data(skip_blank=False))
        scheduling.update_provider(g.scope, provider_id, body)
    return core.run(action, "已保存", url_for("console.legal_aid.providers"))


# --- weekly rules and slots ---------------------------------------------------------------------

def _rule_body(with_provider: bool) -> dict:
    """The rule form as the API's body (weekday checkboxes, HH:MM times, dates)."""
    data = core.form_data("weekdays")
    keys = ("weekdays", "start", "end", "capacity", "mode", "location", "from", "until")
    body = {k: data[k] for k in keys if k in data}
    if with_provider and "provider_id" in data:
        body["provider_id"] = data["provider_id"]
    return body


def _slot_body() -> dict:
    """The single-slot form: a date and two wall-clock times in Asia/Shanghai."""
    data = core.form_data()
    body = {k: data[k] for k in ("provider_id", "capacity", "mode", "location") if k in data}
    day = data.get("date", "")
    for field, key in (("starts_at", "start"), ("ends_at", "end")):
        if day and data.get(key):
            body[field] = f"{day}T{data[key]}"
    return body


@bp.route("/schedule")
@core.staff_page(*ROLES)
def schedule():
    """排班：按周排班规则与今后的咨询时段"""
    rules = scheduling.list_rules(g.scope, {"page": 1, "per_page": MAX_LISTED})["items"]
    args = core.query_args(schemas.LegalAidAdminSlotListArgs,
                           core.query_raw(date_from=clock.today_local().isoformat()))
    slots = core.page_of(functools.partial(scheduling.list_admin_slots, g.scope), args)
    return render_template("console/legal_aid/schedule.html", rules=rules, slots=slots,
                           providers=core.choices(_providers(active=True)), **_labels())


@bp.route("/rules", methods=["POST"])
@core.staff_page(*ROLES)
def create_rule():
    """新增按周排班（生成各周的咨询时段）"""
    def action():
        result = scheduling.create_slots(g.scope, core.load(schemas.LegalAidSlotCreateSchema, _rule_body(True)))
        core.flash_result(f"已按周排班，生成 {result['created']} 个时段",
                          [f"{d.isoformat()} 与已有时段重叠，已跳过" for d in result["skipped_dates"]])
    return core.run(action, None, url_for("console.legal_aid.schedule"))


@bp.route("/rules/<int:rule_id>", methods=["POST"])
@core.staff_page(*ROLES)
def update_rule(rule_id):
    """修改按周排班并重新生成未来时段（已有预约的时段不变）"""
    def action():
        result = scheduling.update_rule(g.scope, rule_id, core.load(schemas.LegalAidRulePatchSchema,
                                                                  _rule_body(False)))
        core.flash_result(f"已修改排班：新生成 {result['created']} 个时段，撤下 {result['removed']} 个",
                          [f"时段 {i} 已有预约，保持不变" for i in result["kept_booked"]]
                          + [f"{d.isoformat()} 与已有时段重叠，已跳过" for d in result["skipped_dates"]])
    return core.run(action, None, url_for("console.legal_aid.schedule"))


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@core.staff_page(*ROLES)
def delete_rule(rule_id):
    """删除按周排班（未来无预约的时段随之删除）"""
    def action():
        result = scheduling.delete_rule(g.scope, rule_id)
        core.flash_result(f"已删除排班，撤下 {result['removed']} 个时段",
                          [f"时段 {i} 已有预约，予以保留" for i in result["kept_booked"]])
    return core.run(action, None, url_for("console.legal_aid.schedule"))


@bp.route("/slots", methods=["POST"])
@core.staff_page(*ROLES)
def create_slot():
    """新增单个咨询时段"""
    return core.run(lambda: scheduling.create_slots(g.scope, core.load(schemas.LegalAidSlotCreateSchema, _slot_body())),
                    "已新增咨询时段", url_for("console.legal_aid.schedule"))


@bp.route("/slots/<int:slot_id>/cancel", methods=["POST"])
@core.staff_page(*ROLES)
def cancel_slot(slot_id):
    """取消咨询时段（其预约一并取消并通知职工）"""
    def action():
        body = core.load(schemas.LegalAidSlotCancelSchema, {"reason": request.form.get("reason", "")})
        result = scheduling.cancel_slot(g.scope, slot_id, body["reason"])
        core.flash_result(f"时段已取消，{result['cancelled_bookings']} 个预约已取消并通知职工")
    return core.run(action, None, core.back("console.legal_aid.schedule"))
