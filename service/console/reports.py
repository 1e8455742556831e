"""The annual report's figures (with the Excel download) and the audit log, for admins."""
from __future__ import annotations

from flask import g, render_template

from service.audit import services as audit
from service.audit.schemas import AuditQuery
from service.common import clock
from service.common.excel import xlsx_response
from service.console import core
from service.stats import services as stats
from service.stats.schemas import AnnualArgs

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
    "legal_aid.booking.list": "查看咨询预约（含职工联系方式）", "legal_aid.booking.view": "查看咨询预约详情",
    "breakfast.point.create": "新建早餐点", "breakfast.point.update": "修改早餐点",
    "breakfast.point.qr_rotate": "更换早餐二维码", "breakfast.roster.import": "导入早餐名册",
    "breakfast.roster.update": "修改早餐名册", "organization.create": "新建工会组织",
    "organization.update": "修改工会组织", "staff.create": "新建工作人员账号", "staff.disable": "停用工作人员账号",
}


def _annual_args() -> dict:
    return core.load(AnnualArgs, core.query_raw(year=str(clock.today_local().year)))


@bp.route("/annual")
@core.staff_page(*ROLES)
def annual():
    """年度工作报告数据（本级及下级工会）"""
    year = _annual_args()["year"]
    figures = stats.annual(g.scope, year)
    sections: dict[str, list[tuple[str, int]]] = {}
    for section, item, value in stats.annual_rows(figures):
        sections.setdefault(section, []).append((item, value))
    return render_template("console/reports/annual.html", year=year, sections=sections)


@bp.route("/annual.xlsx")
@core.staff_page(*ROLES)
def annual_xlsx():
    """年度工作报告数据（Excel）"""
    year = _annual_args()["year"]
    return xlsx_response(f"年度统计-{year}.xlsx", stats.annual_sheets(g.scope, year),
                         ascii_name=f"annual-stats-{year}.xlsx")


@bp.route("/audit-log")
@core.staff_page(*ROLES)
def audit_log():
    """操作日志：谁在何时从何处对哪条记录做了什么"""
    page = audit.search(g.scope, core.query_args(AuditQuery))
    return render_template("console/reports/audit_log.html", page=page, actions=ACTION_LABELS)
