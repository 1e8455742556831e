"""Input and output schemas of the annual report's figures (docs/contract.md §7)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from service.common.schemas import ID_RANGE, LocalDateTime, OutSchema, QuerySchema

_ORGANIZATION_DOC = ("报告所属的工会组织（须在您的管辖范围内）；不填时为您所属的最上级工会组织，"
                     "管辖多个互不隶属的组织时必填")


class AnnualArgs(QuerySchema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class ReportArgs(AnnualArgs):
    organization_id = fields.Integer(validate=ID_RANGE, metadata={"description": _ORGANIZATION_DOC})


class TemplateArgs(QuerySchema):
    organization_id = fields.Integer(validate=ID_RANGE, metadata={"description": _ORGANIZATION_DOC})


class TemplateUploadSchema(ma.Schema):
    """The multipart body: the .docx, and the optional organization (a form part, read with ``TemplateArgs``)."""

    class Meta:
        unknown = ma.EXCLUDE

    file = Upload(required=True, metadata={"description": "Word 模板（.docx，不超过 5 MB），占位符见下载模板的说明"})
    organization_id = fields.Integer(validate=ID_RANGE, metadata={"description": _ORGANIZATION_DOC})


class EnrollmentFigures(OutSchema):
    applications = fields.Integer(required=True)
    new_members = fields.Integer(required=True)
    by_occupation = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class StationFigures(OutSchema):
    total = fields.Integer(required=True)
    new = fields.Integer(required=True)
    with_nursing_room = fields.Integer(required=True)


class BreakfastFigures(OutSchema):
    points = fields.Integer(required=True)
    servings = fields.Integer(required=True)
    distinct_workers = fields.Integer(required=True)


class LegalAidFigures(OutSchema):
    bookings = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    no_show = fields.Integer()
    cancelled = fields.Integer()
    by_topic = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class ArrearsFigures(OutSchema):
    reports = fields.Integer(required=True, metadata={"description": "年内提交的欠薪报工"})
    cases = fields.Integer(required=True, metadata={"description": "年内立案的欠薪案件"})
    resolved = fields.Integer(required=True, metadata={"description": "年内解决的案件"})
    workers = fields.Integer(required=True, metadata={"description": "年内解决的案件所涉职工（报工所填人数之和）"})
    amount_recovered = fields.Float(required=True, metadata={"description": "年内解决的案件追回的欠薪（元）"})


class AnnualSchema(OutSchema):
    year = fields.Integer(required=True)
    enrollment = fields.Nested(EnrollmentFigures, required=True)
    stations = fields.Nested(StationFigures, required=True)
    breakfast = fields.Nested(BreakfastFigures, required=True)
    legal_aid = fields.Nested(LegalAidFigures, required=True)
    arrears = fields.Nested(ArrearsFigures, required=True)


class TemplateStatusSchema(OutSchema):
    organization_id = fields.Integer(required=True)
    organization = fields.String(required=True, metadata={"description": "报告所属的工会组织"})
    source = fields.String(required=True, metadata={
        "description": "own：本组织上传的模板；inherited：上级组织的模板；default：系统默认模板"})
    from_organization = fields.String(allow_none=True, metadata={"description": "模板所属的组织（默认模板为空）"})
    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    uploaded_by = fields.String(allow_none=True)
    uploaded_at = LocalDateTime(allow_none=True)
