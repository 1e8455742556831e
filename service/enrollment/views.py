"""Union enrollment over HTTP (docs/contract.md §3): the worker's form and card, the reviewers' queue."""
from __future__ import annotations

from flask import g

from service.auth.permissions import require_auth, require_staff, require_worker
from service.common import clock
from service.common.excel import xlsx_response
from service.common.schemas import PageArgs
from service.enrollment import applications, review
from service.enrollment.schemas import (
    ApplicationCreateSchema,
    ApplicationPageSchema,
    ApplicationSchema,
    BatchResultSchema,
    BatchReviewSchema,
    ExportBodySchema,
    ExportQuerySchema,
    MembershipCardSchema,
    QueueQuerySchema,
    QueueSearchSchema,
    RejectSchema,
)
from service.extensions import Blueprint

blp = Blueprint("enrollment", __name__, url_prefix="/api/v1", description="工会入会")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BINARY = {"type": "string", "format": "binary"}


@blp.route("/enrollment/applications", methods=["POST"])
@require_worker(limit="RATELIMIT_APPLY")
@blp.arguments(ApplicationCreateSchema)
@blp.response(201, ApplicationSchema)
def apply(body):
    """提交入会申请（身份证号、手机号加密存储，返回时脱敏）"""
    return applications.submit_application(g.worker, body)


@blp.route("/enrollment/applications/mine", methods=["GET"])
@require_worker
@blp.arguments(PageArgs, location="query")
@blp.response(200, ApplicationPageSchema)
def my_applications(args):
    """我的入会申请（最新在前，含历史记录）"""
    return applications.my_applications(g.worker, args["page"], args["per_page"])


@blp.route("/enrollment/applications/<int:application_id>", methods=["GET"])
@require_auth
@blp.response(200, ApplicationSchema)
def get_application(application_id):
    """查看一份入会申请（申请人本人，或本级及下级工会的审核员、管理员）"""
    if g.identity.kind == "worker":
        return applications.get_for_worker(g.worker, application_id)
    return review.get_for_staff(g.staff, application_id)


@blp.route("/enrollment/applications/<int:application_id>/withdraw", methods=["POST"])
@require_worker
@blp.response(200, ApplicationSchema)
def withdraw(application_id):
    """撤回审核中的入会申请"""
    return applications.withdraw(g.worker, application_id)


@blp.route("/enrollment/membership", methods=["GET"])
@require_worker
@blp.response(200, MembershipCardSchema)
def membership_card():
    """电子会员证；不是会员时 404 not_a_member"""
    return applications.membership_card(g.worker)


@blp.route("/admin/enrollment/applications", methods=["GET"])
@require_staff("enrollment_reviewer")
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, ApplicationPageSchema)
def review_queue(args):
    """入会申请审核列表（按状态、组织、职业、提交时间、姓名筛选；身份证号、手机号请用 POST 查询）"""
    return review.review_queue(g.scope, args)


@blp.route("/admin/enrollment/applications/search", methods=["POST"])
@require_staff("enrollment_reviewer")
@blp.arguments(QueueSearchSchema)
@blp.response(200, ApplicationPageSchema)
def search_applications(body):
    """查询入会申请（条件放在请求体中：可按完整身份证号或手机号精确查找，不进网址和日志）"""
    return review.review_queue(g.scope, body)


@blp.route("/admin/enrollment/applications/<int:application_id>/approve", methods=["POST"])
@require_staff("enrollment_reviewer")
@blp.response(200, ApplicationSchema)
def approve(application_id):
    """审核通过：生成会员编号并通知申请人"""
    return review.approve(g.scope, application_id, g.staff.id)


@blp.route("/admin/enrollment/applications/<int:application_id>/reject", methods=["POST"])
@require_staff("enrollment_reviewer")
@blp.arguments(RejectSchema)
@blp.response(200, ApplicationSchema)
def reject(body, application_id):
    """驳回入会申请（须填写原因，告知申请人）"""
    return review.reject(g.scope, application_id, body["reason"], g.staff.id)


@blp.route("/admin/enrollment/applications/batch", methods=["POST"])
@require_staff("enrollment_reviewer")
@blp.arguments(BatchReviewSchema)
@blp.response(200, BatchResultSchema)
def batch_review(body):
    """批量通过或驳回（最多 100 份，逐份返回结果）"""
    return review.batch_review(g.scope, body["action"], body["ids"], body.get("reason"), g.staff.id)


def _members_sheet(args):
    headers, rows = review.export_members(g.scope, args)
    stamp = clock.local_now().strftime("%Y%m%d%H%M")
    return xlsx_response(f"工会会员名单-{stamp}.xlsx", ascii_name=f"members-{stamp}.xlsx",
                         sheets={"会员名单": (headers, rows)})


@blp.route("/admin/enrollment/members.xlsx", methods=["GET"])
@require_staff("enrollment_reviewer")
@blp.arguments(ExportQuerySchema, location="query")
@blp.alt_response(200, schema=_BINARY, success=True, content_type=XLSX, description="会员名单 Excel 文件")
def export_members(args):
    """导出会员名单 Excel（身份证号脱敏；管理员可 full=1 导出其任管理员的组织的完整信息，记入操作日志）"""
    return _members_sheet(args)


@blp.route("/admin/enrollment/members.xlsx", methods=["POST"])
@require_staff("enrollment_reviewer")
@blp.arguments(ExportBodySchema)
@blp.alt_response(200, schema=_BINARY, success=True, content_type=XLSX, description="会员名单 Excel 文件")
def export_members_by_post(body):
    """导出会员名单 Excel（条件放在请求体中：可按完整身份证号或手机号查找，不进网址和日志）"""
    return _members_sheet(body)
