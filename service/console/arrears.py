"""Wage arrears (欠薪报工) in the console: the queue of reports (accept / decline), cases with
their timeline and evidence photos, the move form, collective cases and the admins' banner.

Pages show what the API's output schemas give (labels, decrypted text, masked phones):
records are dumped through them once, here, and the templates only lay them out.
"""
from __future__ import annotations

from flask import Response, g, render_template, url_for

from service.arrears import cases
from service.arrears import schemas as s
from service.arrears.timeline import CASE_STATUS_LABELS, REFERRAL_LABELS, REPORT_STATUS_LABELS
from service.common.excel import xlsx_response
from service.console import core

bp = core.child("arrears", __name__, url_prefix="/arrears")

ROLES = cases.STAFF_ROLES
ADMIN = ("admin",)
MAX_LISTED = 100

_report_view = s.ArrearsStaffReportSchema(many=True)
_case_list_view = s.ArrearsCaseSchema(many=True)
_case_view = s.ArrearsCaseDetailSchema()


def summary() -> dict:
    """The dashboard card (waiting reports, open and collective cases) and, for admins,
    the collective-arrears alerts of the banner."""
    scope = core.scope_of(*ROLES)
    waiting = cases.queue(scope, {"status": "submitted", "page": 1, "per_page": 5})
    collective = cases.list_cases(scope, {"collective": True, "page": 1, "per_page": 1})
    alerts = cases.open_alerts(core.scope_of(*ADMIN)) if core.may(*ADMIN) else []
    return {"waiting": waiting["total"], "oldest": _report_view.dump(waiting["items"]),
            "collective": collective["total"], "alerts": alerts}


def _labels() -> dict:
    return {"report_statuses": REPORT_STATUS_LABELS, "case_statuses": CASE_STATUS_LABELS,
            "referrals": REFERRAL_LABELS}


@bp.route("/")
@core.staff_page(*ROLES)
def queue():
    """欠薪报工：待受理的报工（受理、不予受理）"""
    args = core.query_args(s.ArrearsReportQueueArgs, core.query_raw(status="submitted"))
    page = cases.queue(g.scope, args)
    page["items"] = _report_view.dump(page["items"])
    return render_template("console/arrears/queue.html", page=page, args=args, orgs=core.org_choices(g.scope),
                           **_labels())


@bp.route("/reports/<int:report_id>/accept", methods=["POST"])
@core.staff_page(*ROLES)
def accept(report_id):
    """受理报工（并入该单位在办案件或新立案件）"""
    def action():
        report = cases.accept(g.scope, report_id, g.staff.id)
        core.flash_result(f"已受理，报工已并入案件 {report.case_id}")
    return core.run(action, None, core.back("console.arrears.queue"))


@bp.route("/reports/<int:report_id>/decline", methods=["POST"])
@core.staff_page(*ROLES)
def decline(report_id):
    """不予受理（原因告知职工）"""
    def action():
        body = core.load(s.ArrearsDeclineSchema, core.form_data())
        cases.decline(g.scope, report_id, body["reason"], g.staff.id)
    return core.run(action, "已不予受理，并已告知职工", core.back("console.arrears.queue"))


@bp.route("/cases")
@core.staff_page(*ROLES)
def case_list():
    """欠薪案件列表"""
    args = core.query_args(s.ArrearsCaseListArgs)
    page = cases.list_cases(g.scope, args)
    page["items"] = _case_list_view.dump(page["items"])
    export = {k: v for k, v in core.query_raw().items() if k not in ("page", "per_page")}
    return render_template("console/arrears/cases.html", page=page, args=args, export=export,
                           orgs=core.org_choices(g.scope), **_labels())


@bp.route("/cases/<int:case_id>")
@core.staff_page(*ROLES)
def case_detail(case_id):
    """欠薪案件：各报工、证据照片、办理进度与办理表单"""
    case = _case_view.dump(cases.get_case(g.scope, case_id))
    moves = [(to, CASE_STATUS_LABELS[to]) for to in case["next_statuses"]]
    return render_template("console/arrears/case.html", case=case, moves=moves, **_labels())


@bp.route("/cases/<int:case_id>/transition", methods=["POST"])
@core.staff_page(*ROLES)
def transition(case_id):
    """案件办理：协调、移交、解决或结案"""
    def action():
        body = core.load(s.ArrearsTransitionSchema, core.form_data())
        case = cases.transition(g.scope, case_id, body, g.staff.id)
        core.flash_result(f"案件已转为“{CASE_STATUS_LABELS.get(case.status)}”，已通知相关职工")
    return core.run(action, None, url_for("console.arrears.case_detail", case_id=case_id))


@bp.route("/cases.xlsx")
@core.staff_page(*ROLES)
def cases_xlsx():
    """下载欠薪案件表（Excel）"""
    headers, rows = cases.case_rows(g.scope, core.query_args(s.ArrearsCaseFilterArgs))
    return xlsx_response("欠薪案件.xlsx", ascii_name="arrears-cases.xlsx", sheets={"欠薪案件": (headers, rows)})


@bp.route("/evidence/<int:evidence_id>")
@core.staff_page(*ROLES)
def evidence(evidence_id):
    """证据照片（本组织的职工维权专员与管理员可见；不缓存）"""
    data, mime_type = cases.evidence_photo(g.scope, evidence_id)
    resp = Response(data, mimetype=mime_type)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.route("/collective")
@core.staff_page(*ROLES)
def collective():
    """群体性欠薪：达到人数标准的案件，以及待管理员确认的提醒"""
    page = cases.list_cases(g.scope, {"collective": True, "page": 1, "per_page": MAX_LISTED})
    page["items"] = _case_list_view.dump(page["items"])
    alerts = cases.open_alerts(core.scope_of(*ADMIN), MAX_LISTED) if core.may(*ADMIN) else []
    return render_template("console/arrears/collective.html", page=page, alerts=alerts, **_labels())


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@core.staff_page(*ADMIN)
def acknowledge(alert_id):
    """管理员确认已知悉群体性欠薪提醒"""
    return core.run(lambda: cases.acknowledge_alert(g.scope, alert_id, g.staff.id), "已确认知悉",
                    core.back("console.arrears.collective"))
