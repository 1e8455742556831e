"""The annual report's figures (with the Excel download) and the audit log, for admins."""
from __future__ import annotations

import functools

from flask import g, render_template

from service.audit import labels
from service.audit import services as audit
from service.audit.schemas import AuditQuery
from service.common import clock
from service.common.excel import xlsx_response
from service.console import core
from service.stats import services as stats
from service.stats.schemas import AnnualArgs

bp = core.child("reports", __name__)

ROLES = ("admin",)


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
    args = core.query_args(AuditQuery)
    kind = args.get("action") or ""
    if kind.endswith("*"):  # a group of actions: its prefix
        args["action"] = kind[:-1]
    search = functools.partial(audit.search, g.scope, exact_action=not kind.endswith("*"))
    page = core.page_of(search, args)
    return render_template("console/reports/audit_log.html", page=page, labels=labels,
                           names=audit.referenced_names(page["items"]), action_groups=labels.action_choices(),
                           objects=labels.OBJECTS)
