"""Enrollment review: the queue with filters, one application (masked), approve,
reject with a reason, batch actions and the member list download."""
from __future__ import annotations

import functools

from flask import g, render_template, request, url_for

from service.common import clock
from service.common.excel import xlsx_response
from service.console import core
from service.enrollment import review, rules, sensitive
from service.enrollment.schemas import (
    BatchReviewSchema,
    ExportBodySchema,
    ExportQuerySchema,
    QueueQuerySchema,
    QueueSearchSchema,
    RejectSchema,
)

bp = core.child("enrollment", __name__, url_prefix="/enrollment")

ROLES = review.REVIEWER_ROLES
EXPORT_FILTERS = ("organization_id", "occupation", "submitted_from", "submitted_to", "q")
STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "rejected": "已驳回", "withdrawn": "已撤回"}


def summary() -> dict:
    """The dashboard card: how many applications wait, the oldest first."""
    page = review.review_queue(core.scope_of(*ROLES), {"status": "pending", "page": 1, "per_page": 5})
    return {"pending": page["total"], "oldest": page["items"]}


def _labels() -> dict:
    """Labels, and the masked ID number and phone of an application, for the templates."""
    return {"status_labels": STATUS_LABELS, "occupation_labels": rules.OCCUPATION_LABELS,
            "id_number_of": sensitive.id_number_of, "phone_of": sensitive.phone_of}


def _queue_page(filters: dict, schema, search: bool):
    """The queue filtered by ``filters`` (as typed; ``status`` defaults to pending, ``all`` shows every one)."""
    raw = {k: v for k, v in {"status": "pending", **filters}.items() if v != "all"}
    page = core.page_of(functools.partial(review.review_queue, g.scope), core.query_args(schema, raw))
    found = {"action": url_for("console.enrollment.search"), "fields": filters} if search else None
    return render_template("console/enrollment/queue.html", page=page, filters=filters, search=found,
                           orgs=core.org_choices(g.scope), **_labels())


@bp.route("/")
@core.staff_page(*ROLES)
def queue():
    """入会申请审核列表（筛选、批量通过/驳回）"""
    return _queue_page({k: v for k, v in request.args.items() if v.strip()}, QueueQuerySchema, search=False)


@bp.route("/search", methods=["POST"])
@core.staff_page(*ROLES)
def search():
    """按条件查询入会申请（条件放在表单中：身份证号、手机号不进网址）"""
    return _queue_page(core.form_data(), QueueSearchSchema, search=True)


@bp.route("/<int:application_id>")
@core.staff_page(*ROLES)
def detail(application_id):
    """一份入会申请（身份证号、手机号脱敏）"""
    application = review.get_for_staff(g.staff, application_id)
    return render_template("console/enrollment/detail.html", a=application, **_labels())


@bp.route("/<int:application_id>/approve", methods=["POST"])
@core.staff_page(*ROLES)
def approve(application_id):
    """审核通过"""
    return core.run(lambda: review.approve(g.scope, application_id, g.staff.id), "已通过，已生成会员编号并通知申请人",
                    core.back("console.enrollment.detail", application_id=application_id))


@bp.route("/<int:application_id>/reject", methods=["POST"])
@core.staff_page(*ROLES)
def reject(application_id):
    """驳回（须填写原因）"""
    def action():
        body = core.load(RejectSchema, {"reason": request.form.get("reason", "")})
        review.reject(g.scope, application_id, body["reason"], g.staff.id)
    return core.run(action, "已驳回，并已通知申请人",
                    core.back("console.enrollment.detail", application_id=application_id))


@bp.route("/batch", methods=["POST"])
@core.staff_page(*ROLES)
def batch():
    """批量通过或驳回所选申请"""
    def action():
        data = core.form_data("ids")
        body = core.load(BatchReviewSchema, {k: v for k, v in data.items() if k in ("action", "ids", "reason")})
        result = review.batch_review(g.scope, body["action"], body["ids"], body.get("reason"), g.staff.id)
        verb = "通过" if body["action"] == "approve" else "驳回"
        core.flash_result(f"批量{verb}：成功 {result['succeeded']} 份，失败 {result['failed']} 份",
                          [f"申请 {r['id']}：{r['message']}" for r in result["results"] if not r["ok"]])
    return core.run(action, None, core.back("console.enrollment.queue"))


@bp.route("/members.xlsx", methods=["GET", "POST"])
@core.staff_page(*ROLES)
def members_xlsx():
    """导出会员名单（Excel，身份证号、手机号脱敏）；POST 带上列表的筛选条件"""
    if request.method == "POST":
        args = core.load(ExportBodySchema, {k: v for k, v in core.form_data().items() if k in EXPORT_FILTERS})
    else:
        args = core.load(ExportQuerySchema, {k: v for k, v in request.args.items() if v.strip() and k != "full"})
    headers, rows = review.export_members(g.scope, args)
    stamp = clock.local_now().strftime("%Y%m%d%H%M")
    return xlsx_response(f"工会会员名单-{stamp}.xlsx", ascii_name=f"members-{stamp}.xlsx",
                         sheets={"会员名单": (headers, rows)})
