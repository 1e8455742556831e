"""The annual report's figures (with the Excel download), its Word draft and template, and the
audit log, for admins."""
from __future__ import annotations

import functools

from flask import flash, g, redirect, render_template, request, url_for

from service.audit import labels
from service.audit import services as audit
from service.audit.schemas import AuditQuery
from service.common import clock
from service.common.excel import xlsx_response
from service.console import core
from service.errors import ValidationFailed
from service.stats import report
from service.stats import services as stats
from service.stats.errors import TemplateInvalid
from service.stats.schemas import ReportArgs, TemplateArgs, TemplateUploadSchema
from service.stats.templating import docx_response

bp = core.child("reports", __name__)

ROLES = ("admin",)


def _annual_args() -> dict:
    return core.load(ReportArgs, core.query_raw(year=str(clock.today_local().year)))


def _figures_scope(args: dict):
    """Whose figures the page shows: the caller's organizations, or the chosen organization's subtree."""
    return report.organization_and_scope(g.scope, args)[1] if args.get("organization_id") else g.scope


def _annual_page(args: dict, status: int = 200):
    sections: dict[str, list[tuple[str, int | float]]] = {}
    for section, item, value in stats.annual_rows(stats.annual(_figures_scope(args), args["year"])):
        sections.setdefault(section, []).append((item, value))
    try:
        template, choose = report.template_status(g.scope, args), None
    except ValidationFailed as err:  # several top organizations: the clerk picks one first
        template, choose = None, core.error_text(err)
    return render_template("console/reports/annual.html", year=args["year"], sections=sections, template=template,
                           choose=choose, organization_id=args.get("organization_id"),
                           orgs=core.org_choices(g.scope), placeholders=report.PLACEHOLDERS), status


@bp.route("/annual")
@core.staff_page(*ROLES)
def annual():
    """年度工作报告数据（本级及下级工会），工作报告草稿与模板"""
    return _annual_page(_annual_args())


@bp.route("/annual.xlsx")
@core.staff_page(*ROLES)
def annual_xlsx():
    """年度工作报告数据（Excel）"""
    args = _annual_args()
    year = args["year"]
    return xlsx_response(f"年度统计-{year}.xlsx", stats.annual_sheets(_figures_scope(args), year),
                         ascii_name=f"annual-stats-{year}.xlsx")


@bp.route("/annual/report.docx")
@core.staff_page(*ROLES)
def annual_report():
    """年度工作报告草稿（Word）"""
    args = _annual_args()
    document, filename = report.draft(g.scope, args)
    return docx_response(document, filename, ascii_name=f"annual-report-{args['year']}.docx")


@bp.route("/annual/report-template.docx")
@core.staff_page(*ROLES)
def report_template():
    """下载当前使用的年度工作报告模板"""
    args = core.load(TemplateArgs, core.query_raw())
    return docx_response(report.template_in_use(g.scope, args), report.TEMPLATE_NAME,
                         ascii_name=report.TEMPLATE_ASCII_NAME)


@bp.route("/annual/report-template", methods=["POST"])
@core.staff_page(*ROLES, upload=True)
def upload_report_template():
    """上传本组织的年度工作报告模板；无法生成报告的模板不保存，原因显示在页面上"""
    args = _annual_args()  # the page's year and organization, from the form's address
    upload = core.load(TemplateUploadSchema, request.files)["file"]
    try:
        status = report.replace_template(g.scope, g.staff, upload, args)
    except TemplateInvalid as err:
        core.flash_error(err)
        return _annual_page(args, err.status)
    flash(f"模板已更新（{status['filename']}），之后生成的{status['organization']}工作报告草稿将使用该模板", "success")
    return redirect(url_for("console.reports.annual", **args))


@bp.route("/audit-log")
@core.staff_page(*ROLES)
def audit_log():
    """操作日志：谁在何时从何处对哪条记录做了什么"""
    args = core.query_args(AuditQuery)
    kind = args.get("action") or ""
    if kind.endswith("*"):  # a group of actions: its prefix
        args["action"] = kind[:-1]
    search = functools.partial(audit.search, g.scope, exact_action=not kind.endswith("*"))
    page = core.page_of(search, args)
    return render_template("console/reports/audit_log.html", page=page, labels=labels,
                           names=audit.referenced_names(page["items"]), action_groups=labels.action_choices(),
                           objects=labels.OBJECTS)
