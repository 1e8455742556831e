"""Figures for the annual report and its Word draft (docs/contract.md §7), admin, scoped to the
caller's organizations: HTTP only."""
from __future__ import annotations

from flask import g, request
from marshmallow import ValidationError

from service.auth.permissions import require_staff
from service.common.excel import xlsx_response
from service.common.http import large_upload
from service.errors import ValidationFailed
from service.extensions import Blueprint
from service.stats import report, services
from service.stats.schemas import (
    AnnualArgs,
    AnnualSchema,
    ReportArgs,
    TemplateArgs,
    TemplateStatusSchema,
    TemplateUploadSchema,
)
from service.stats.templating import DOCX, docx_response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"type": "string", "format": "binary"}
TEMPLATE_PATH = "/admin/stats/annual/report-template.docx"
PLACEHOLDER_DOC = (
    "Word 模板（docxtpl）：正文中用 Jinja2 占位符 `{{ 名称 }}` 填入数字，可用 `{% if %}`、`{% for %}`；"
    "未知的名称或写错的占位符在上传和生成时都答 422 `template_invalid`。系统没有的数字请保留为醒目的 `**`。"
    "可用的占位符：\n\n" + "\n".join(f"- `{name}`：{meaning}" for name, meaning in report.PLACEHOLDERS.items()))
blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="年度统计")


@blp.route("/admin/stats/annual", methods=["GET"])
@require_staff("admin")
@blp.arguments(AnnualArgs, location="query")
@blp.response(200, AnnualSchema)
def annual(args):
    """年度工作报告数据（本级及下级工会）"""
    return services.annual(g.scope, args["year"])


@blp.route("/admin/stats/annual.xlsx", methods=["GET"])
@require_staff("admin")
@blp.arguments(AnnualArgs, location="query")
@blp.response(200, BINARY, content_type=XLSX, description="年度统计 Excel")
def annual_xlsx(args):
    """年度工作报告数据（Excel）"""
    year = args["year"]
    return xlsx_response(f"年度统计-{year}.xlsx", services.annual_sheets(g.scope, year),
                         ascii_name=f"annual-stats-{year}.xlsx")


@blp.route("/admin/stats/annual/report.docx", methods=["GET"])
@require_staff("admin")
@blp.arguments(ReportArgs, location="query")
@blp.response(200, BINARY, content_type=DOCX, description="年度工作报告草稿（Word）")
def annual_report(args):
    """年度工作报告草稿（Word）：数字取自系统数据，系统没有的数字留作醒目的 ** 待填写"""
    document, filename = report.draft(g.scope, args)
    return docx_response(document, filename, ascii_name=f"annual-report-{args['year']}.docx")


@blp.route(TEMPLATE_PATH, methods=["GET"])
@require_staff("admin")
@blp.doc(description=PLACEHOLDER_DOC)
@blp.arguments(TemplateArgs, location="query")
@blp.response(200, BINARY, content_type=DOCX, description="当前使用的 Word 模板")
def report_template(args):
    """下载年度工作报告模板（本组织的，否则上级组织的，否则系统默认）"""
    return docx_response(report.template_in_use(g.scope, args), report.TEMPLATE_NAME,
                         ascii_name=report.TEMPLATE_ASCII_NAME)


@blp.route(TEMPLATE_PATH, methods=["PUT"])
@require_staff("admin")
@large_upload
@blp.doc(description=PLACEHOLDER_DOC)
@blp.arguments(TemplateUploadSchema, location="files")
@blp.response(200, TemplateStatusSchema)
def replace_report_template(files):
    """上传本组织的年度工作报告模板（生成成功才保存）"""
    try:
        form = TemplateArgs().load(request.form)
    except ValidationError as err:
        raise ValidationFailed(err.messages) from None
    return report.replace_template(g.scope, g.staff, files["file"], form)
