"""Wage-arrears reports over HTTP (docs/contract.md §11).  Rules live in ``reports`` and ``cases``."""
from __future__ import annotations

import functools

from flask import Response, g

from service.arrears import cases, reports
from service.arrears import schemas as s
from service.auth.permissions import require_staff, require_worker
from service.common.excel import xlsx_response
from service.common.http import large_upload
from service.common.schemas import page_schema
from service.errors import ErrorEnvelopeSchema
from service.extensions import Blueprint

blp = Blueprint("arrears", __name__, url_prefix="/api/v1", description="欠薪报工")

STAFF = cases.STAFF_ROLES
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BINARY = {"type": "string", "format": "binary"}


def own_report_first(fn):
    """404 for a report that is not the caller's before the upload is parsed, so that
    the answer about someone else's report never depends on the body sent."""
    @functools.wraps(fn)
    def wrapper(*args, report_id, **kwargs):
        reports.get_mine(g.worker, report_id)
        return fn(*args, report_id=report_id, **kwargs)
    return wrapper


# --- workers ---------------------------------------------------------------------------------

@blp.route("/arrears/reports", methods=["POST"])
@require_worker(limit="RATELIMIT_ARREARS")
@blp.arguments(s.ArrearsReportCreateSchema)
@blp.response(201, s.ArrearsReportSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="phone_required / report_pending")
@blp.alt_response(429, schema=ErrorEnvelopeSchema, description="rate_limited（每人每小时限次）")
def submit_report(body):
    """欠薪报工：提交被拖欠工资的情况（需先绑定手机号）"""
    return reports.submit(g.worker, body)


@blp.route("/arrears/reports/mine", methods=["GET"])
@require_worker
@blp.arguments(s.ArrearsMyReportsArgs, location="query")
@blp.response(200, page_schema(s.ArrearsReportSchema, "ArrearsReportPage"))
def my_reports(args):
    """我的欠薪报工（含案件进展）"""
    return reports.mine(g.worker, args)


@blp.route("/arrears/reports/<int:report_id>", methods=["GET"])
@require_worker
@blp.response(200, s.ArrearsReportSchema)
def my_report(report_id):
    """我的一份欠薪报工（含案件状态与办理进度）"""
    return reports.get_mine(g.worker, report_id)


@blp.route("/arrears/reports/<int:report_id>/evidence", methods=["POST"])
@require_worker
@large_upload
@own_report_first
@blp.arguments(s.ArrearsEvidenceUploadSchema, location="files")
@blp.response(201, s.ArrearsEvidenceCreatedSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state：报工已进入办理，不能再补充照片")
def add_evidence(files, report_id):
    """为待受理的报工上传证据照片（JPEG/PNG，不超过 5 MB，最多 3 张）"""
    return reports.add_evidence(g.worker, report_id, files["file"])


@blp.route("/arrears/reports/<int:report_id>/withdraw", methods=["POST"])
@require_worker
@blp.response(200, s.ArrearsReportSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state：只有待受理的报工可以撤回")
def withdraw_report(report_id):
    """撤回待受理的欠薪报工"""
    return reports.withdraw(g.worker, report_id)


# --- staff: the queue ----------------------------------------------------------------------------

@blp.route("/admin/arrears/reports", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.ArrearsReportQueueArgs, location="query")
@blp.response(200, page_schema(s.ArrearsStaffReportSchema, "ArrearsStaffReportPage"))
def report_queue(args):
    """欠薪报工列表（按状态、工会组织、单位名称筛选）"""
    return cases.queue(g.scope, args)


@blp.route("/admin/arrears/reports/<int:report_id>/accept", methods=["POST"])
@require_staff(*STAFF)
@blp.response(200, s.ArrearsStaffReportSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state：只有待受理的报工可以受理")
def accept_report(report_id):
    """受理报工：并入该单位在办的案件，或新立案件"""
    return cases.accept(g.scope, report_id, g.staff.id)


@blp.route("/admin/arrears/reports/<int:report_id>/decline", methods=["POST"])
@require_staff(*STAFF)
@blp.arguments(s.ArrearsDeclineSchema)
@blp.response(200, s.ArrearsStaffReportSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state：只有待受理的报工可以不予受理")
def decline_report(body, report_id):
    """不予受理报工（原因将告知职工）"""
    return cases.decline(g.scope, report_id, body["reason"], g.staff.id)


# --- staff: cases --------------------------------------------------------------------------------

@blp.route("/admin/arrears/cases", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.ArrearsCaseListArgs, location="query")
@blp.response(200, page_schema(s.ArrearsCaseSchema, "ArrearsCasePage"))
def list_cases(args):
    """欠薪案件列表（含报工、涉及人数、欠薪金额、进度与群体性标记）"""
    return cases.list_cases(g.scope, args)


@blp.route("/admin/arrears/cases.xlsx", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(s.ArrearsCaseFilterArgs, location="query")
@blp.alt_response(200, success=True, content_type=XLSX, schema=_BINARY, description="欠薪案件表（Excel）")
def cases_sheet(args):
    """下载欠薪案件表（Excel）"""
    headers, rows = cases.case_rows(g.scope, args)
    return xlsx_response("欠薪案件.xlsx", ascii_name="arrears-cases.xlsx", sheets={"欠薪案件": (headers, rows)})


@blp.route("/admin/arrears/cases/<int:case_id>", methods=["GET"])
@require_staff(*STAFF)
@blp.response(200, s.ArrearsCaseDetailSchema)
def get_case(case_id):
    """欠薪案件详情（各报工、证据照片与办理进度）"""
    return cases.get_case(g.scope, case_id)


@blp.route("/admin/arrears/cases/<int:case_id>/transition", methods=["POST"])
@require_staff(*STAFF)
@blp.arguments(s.ArrearsTransitionSchema)
@blp.response(200, s.ArrearsCaseDetailSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="invalid_state：案件当前状态不能转到所选状态")
def transition_case(body, case_id):
    """案件办理：协调、移交、解决或结案"""
    return cases.transition(g.scope, case_id, body, g.staff.id)


@blp.route("/admin/arrears/evidence/<int:evidence_id>", methods=["GET"])
@require_staff(*STAFF)
@blp.doc(responses={"200": {"description": "证据照片（JPEG 或 PNG）",
                             "content": {"image/jpeg": {"schema": _BINARY}, "image/png": {"schema": _BINARY}}}})
def evidence_photo(evidence_id):
    """查看证据照片（仅本组织的职工维权专员与管理员；不缓存）"""
    data, mime_type = cases.evidence_photo(g.scope, evidence_id)
    resp = Response(data, mimetype=mime_type)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Disposition"] = f'inline; filename="arrears-evidence-{evidence_id}"'
    return resp
