"""The annual report's figures (with the Excel download), its Word draft and template, and the
audit log, for admins."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

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
ACTION_LABELS = {
    "enrollment.approve": "入会审核通过", "enrollment.reject": "入会申请驳回", "enrollment.export": "导出会员名单",
    "enrollment.export_full": "导出会员名单（完整）", "station.create": "新建驿站", "station.update": "修改驿站",
    "station.delete": "撤销驿站", "station.import": "导入驿站", "station_report.resolve": "处理驿站反馈",
    "legal_aid.provider.create": "新增法律服务提供方", "legal_aid.provider.update": "修改法律服务提供方",
    "legal_aid.slot.create": "新增咨询时段", "legal_aid.slot.cancel": "取消咨询时段",
    "legal_aid.rule.create": "新增按周排班", "legal_aid.rule.update": "修改按周排班",
    "legal_aid.rule.delete": "删除按周排班", "legal_aid.booking.complete": "登记咨询完成",
    "legal_aid.booking.no_show": "登记未到场", "legal_aid.day_sheet.export": "下载咨询安排表",
    "breakfast.point.create": "新建早餐点", "breakfast.point.update": "修改早餐点",
    "breakfast.point.qr_rotate": "更换早餐二维码", "breakfast.roster.import": "导入早餐名册",
    "breakfast.roster.update": "修改早餐名册", "organization.create": "新建工会组织",
    "organization.update": "修改工会组织", "staff.create": "新建工作人员账号", "staff.disable": "停用工作人员账号",
    "arrears.report.accept": "受理欠薪报工", "arrears.report.decline": "欠薪报工不予受理",
    "arrears.case.transition": "欠薪案件办理", "arrears.cases.export": "导出欠薪案件表",
    "arrears.alert.acknowledge": "确认群体性欠薪提醒", "stats.report_template.replace": "更换年度工作报告模板",
}


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
    page = audit.search(g.scope, core.query_args(AuditQuery))
    return render_template("console/reports/audit_log.html", page=page, actions=ACTION_LABELS)
