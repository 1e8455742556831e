"""Legal-aid consultation booking over HTTP (docs/contract.md §4).

The rules live in ``schedule`` (providers, slots, weekly rules), ``booking``
(the worker's side) and ``staff`` (the staff's side of bookings); the output
schemas shape what they return.
"""
from __future__ import annotations

from flask import g

from service.auth.permissions import require_staff, require_worker
from service.common.excel import xlsx_response
from service.common.schemas import page_schema
from service.errors import ErrorEnvelopeSchema
from service.extensions import Blueprint
from service.legal_aid import booking, schedule, staff
from service.legal_aid import schemas as s
from service.legal_aid.display import TOPIC_LIST
from service.legal_aid.schemas import at_one_instant

blp = Blueprint("legal_aid", __name__, url_prefix="/api/v1", description="法律援助咨询预约")

STAFF = ("legal_aid_staff",)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- workers and the public ----------------------------------------------------------

@blp.route("/legal-aid/topics", methods=["GET"])
@blp.response(200, s.LegalAidTopicListSchema)
def list_topics():
    """咨询事项（欠薪、劳动合同、工伤、社会保险、解除劳动关系、其他）"""
    return {"items": TOPIC_LIST}


@blp.route("/legal-aid/slots", methods=["GET"])
@at_one_instant
@blp.arguments(s.LegalAidSlotListArgs, location="query")
@blp.response(200, page_schema(s.LegalAidSlotSchema, "LegalAidSlotPage"))
def list_slots(args):
    """可预约的咨询时段（未开始、未取消、仍有名额）"""
    return booking.list_open_slots(args)


@blp.route("/legal-aid/bookings", methods=["POST"])
@at_one_instant
@require_worker(limit="RATELIMIT_BOOKING")
@blp.arguments(s.LegalAidBookingCreateSchema)
@blp.response(201, s.LegalAidBookingSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema, description="时段不存在或已取消（not_found）")
@blp.alt_response(409, schema=ErrorEnvelopeSchema,
                  description="slot_full / already_booked / too_many_active_bookings / "
                              "outside_booking_window / slot_started")
def create_booking(body):
    """预约一个咨询时段"""
    return booking.book_slot(g.worker, body)


@blp.route("/legal-aid/bookings/mine", methods=["GET"])
@at_one_instant
@require_worker
@blp.arguments(s.LegalAidMyBookingsArgs, location="query")
@blp.response(200, page_schema(s.LegalAidBookingSchema, "MyLegalAidBookingPage"))
def my_bookings(args):
    """我的咨询预约"""
    return booking.my_bookings(g.worker, args)


@blp.route("/legal-aid/bookings/<int:booking_id>", methods=["GET"])
@at_one_instant
@require_worker
@blp.response(200, s.LegalAidBookingSchema)
def my_booking(booking_id):
    """我的一个咨询预约"""
    return booking.get_my_booking(g.worker, booking_id)


@blp.route("/legal-aid/bookings/<int:booking_id>/cancel", methods=["POST"])
@at_one_instant
@require_worker
@blp.response(200, s.LegalAidBookingSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="cancel_window_closed / invalid_state")
def cancel_booking(booking_id):
    """取消我的预约（咨询开始前 2 小时截止）"""
    return booking.cancel_my_booking(g.worker, booking_id)


# --- staff: providers ------------------------------------------------------------------

@blp.route("/admin/legal-aid/providers", methods=["POST"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidProviderCreateSchema)
@blp.response(201, s.LegalAidProviderSchema)
def create_provider(body):
    """新增律师（须填律师事务所）或志愿法律服务站（须填地址）"""
    return schedule.create_provider(g.scope, body)


@blp.route("/admin/legal-aid/providers", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidProviderListArgs, location="query")
@blp.response(200, page_schema(s.LegalAidProviderSchema, "LegalAidProviderPage"))
def list_providers(args):
    """律师与志愿法律服务站列表"""
    return schedule.list_providers(g.scope, args)


@blp.route("/admin/legal-aid/providers/<int:provider_id>", methods=["PATCH"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidProviderPatchSchema)
@blp.response(200, s.LegalAidProviderSchema)
def update_provider(body, provider_id):
    """修改服务提供方（名称、律所、地址、电话、启用/停用）"""
    return schedule.update_provider(g.scope, provider_id, body)


@blp.route("/admin/legal-aid/providers/<int:provider_id>/day-sheet.xlsx", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidDaySheetArgs, location="query")
@blp.alt_response(200, success=True, content_type=XLSX, schema={"type": "string", "format": "binary"},
                  description="当日咨询安排表（Excel）")
def day_sheet(args, provider_id):
    """下载服务提供方某日的咨询安排表（Excel，含职工姓名与联系电话，下载记入操作日志）"""
    sheet = staff.day_sheet(g.scope, provider_id, args["date"])
    return xlsx_response(sheet.filename, sheet.sheets, ascii_name=staff.DAY_SHEET_ASCII_NAME)


# --- staff: slots and weekly rules --------------------------------------------------------

@blp.route("/admin/legal-aid/slots", methods=["POST"])
@at_one_instant
@require_staff(*STAFF)
@blp.arguments(s.LegalAidSlotCreateSchema)
@blp.response(201, s.LegalAidSlotCreateResultSchema)
def create_slots(body):
    """新增一个咨询时段，或按周排班批量生成（跳过与已有时段重叠的日期）"""
    return schedule.create_slots(g.scope, body)


@blp.route("/admin/legal-aid/slots", methods=["GET"])
@at_one_instant
@require_staff(*STAFF)
@blp.arguments(s.LegalAidAdminSlotListArgs, location="query")
@blp.response(200, page_schema(s.LegalAidAdminSlotSchema, "LegalAidAdminSlotPage"))
def list_admin_slots(args):
    """咨询时段列表（含已约人数与已取消的时段）"""
    return schedule.list_admin_slots(g.scope, args)


@blp.route("/admin/legal-aid/slots/<int:slot_id>/cancel", methods=["POST"])
@at_one_instant
@require_staff(*STAFF)
@blp.arguments(s.LegalAidSlotCancelSchema)
@blp.response(200, s.LegalAidSlotCancelResultSchema)
def cancel_slot(body, slot_id):
    """取消咨询时段：其预约一并取消并通知职工"""
    return schedule.cancel_slot(g.scope, slot_id, body["reason"])


@blp.route("/admin/legal-aid/rules", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidRuleListArgs, location="query")
@blp.response(200, page_schema(s.LegalAidRuleSchema, "LegalAidRulePage"))
def list_rules(args):
    """按周排班规则列表"""
    return schedule.list_rules(g.scope, args)


@blp.route("/admin/legal-aid/rules/<int:rule_id>", methods=["PATCH"])
@require_staff(*STAFF)
@blp.arguments(s.LegalAidRulePatchSchema)
@blp.response(200, s.LegalAidRuleUpdateResultSchema)
def update_rule(body, rule_id):
    """修改按周排班规则并重新生成未来时段（已有预约的时段保持不变）"""
    return schedule.update_rule(g.scope, rule_id, body)


@blp.route("/admin/legal-aid/rules/<int:rule_id>", methods=["DELETE"])
@require_staff(*STAFF)
@blp.response(200, s.LegalAidRuleDeleteResultSchema)
def delete_rule(rule_id):
    """删除按周排班规则（未来无预约的时段随之删除，有预约的保留）"""
    return schedule.delete_rule(g.scope, rule_id)


# --- staff: bookings -------------------------------------------------------------------------

@blp.route("/admin/legal-aid/bookings", methods=["GET"])
@at_one_instant
@require_staff(*STAFF)
@blp.arguments(s.LegalAidAdminBookingListArgs, location="query")
@blp.response(200, page_schema(s.LegalAidAdminBookingSchema, "LegalAidAdminBookingPage"))
def list_admin_bookings(args):
    """咨询预约列表（按日期、服务提供方、状态、事项筛选；含职工姓名与联系电话，查看记入操作日志）"""
    return staff.list_admin_bookings(g.scope, args)


@blp.route("/admin/legal-aid/bookings/<int:booking_id>", methods=["GET"])
@at_one_instant
@require_staff(*STAFF)
@blp.response(200, s.LegalAidAdminBookingSchema)
def get_admin_booking(booking_id):
    """咨询预约详情（含问题描述、咨询记录、职工姓名与联系电话；查看记入操作日志）"""
    return staff.get_admin_booking(g.scope, booking_id)


@blp.route("/admin/legal-aid/bookings/<int:booking_id>/complete", methods=["POST"])
@at_one_instant
@require_staff(*STAFF)
@blp.arguments(s.LegalAidCompleteSchema)
@blp.response(200, s.LegalAidAdminBookingSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state / consultation_not_started")
def complete_booking(body, booking_id):
    """登记咨询完成（处理结果与咨询记录）"""
    return staff.complete_booking(g.scope, booking_id, g.staff.id, body)


@blp.route("/admin/legal-aid/bookings/<int:booking_id>/no-show", methods=["POST"])
@at_one_instant
@require_staff(*STAFF)
@blp.response(200, s.LegalAidAdminBookingSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state / consultation_not_started")
def mark_no_show(booking_id):
    """登记职工未到场"""
    return staff.mark_no_show(g.scope, booking_id, g.staff.id)
