"""Request and response schemas of union enrollment (docs/contract.md §3)."""
from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
from flask import current_app, g
from marshmallow import fields, validate

from models.enrollment import APPLICATION_STATUSES, GENDERS, MEMBERSHIP_STATUSES, OCCUPATIONS
from service.common import clock
from service.common.schemas import (
    ID_RANGE,
    BodySchema,
    LocalDateTime,
    NotInUrl,
    OutSchema,
    PageArgs,
    PageBody,
    QuerySchema,
    page_schema,
)
from service.enrollment import rules, sensitive

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DateOrDateTime(LocalDateTime):
    """``YYYY-MM-DD`` (a whole Asia/Shanghai day) or an ISO 8601 date-time.

    A date loads as a ``datetime.date``; the services read ``*_from`` as the
    start of that day and ``*_to`` as its end.
    """

    default_error_messages = {"invalid": "日期格式无效（YYYY-MM-DD 或 ISO 8601 日期时间）"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                raise self.make_error("invalid") from None
            return self.check_range(day)
        return super()._deserialize(value, attr, data, **kwargs)


# --- requests ----------------------------------------------------------------

class ApplicationCreateSchema(BodySchema):
    """An application form; every bad field is reported at once, in Chinese."""

    name = fields.String(required=True, validate=validate.Length(max=50),
                         metadata={"description": "姓名"})
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS),
                           metadata={"description": "male / female，须与身份证号一致"})
    id_number = fields.String(required=True, validate=validate.Length(max=32),
                              metadata={"description": "18 位居民身份证号（GB 11643），年满 16 周岁"})
    phone = fields.String(required=True, validate=validate.Length(max=20),
                          metadata={"description": "中国大陆手机号"})
    occupation = fields.String(required=True, validate=validate.OneOf(OCCUPATIONS))
    occupation_other = fields.String(allow_none=True, validate=validate.Length(max=50),
                                     metadata={"description": "职业为 other 时必填，否则不填"})
    employer = fields.String(required=True, validate=validate.Length(min=1, max=100),
                             metadata={"description": "工作平台或单位，如 美团、顺丰"})
    work_region = fields.String(required=True, validate=validate.Length(min=1, max=100),
                                metadata={"description": "工作区域"})
    organization_id = fields.Integer(required=True, validate=ID_RANGE)
    consent = fields.Boolean(required=True, metadata={"description": "须为 true：已阅读并同意个人信息保护说明"})
    privacy_notice_version = fields.String(validate=validate.Length(max=32),
                                           metadata={"description": "所同意说明的版本；缺省为当前版本"})

    @ma.validates_schema(skip_on_field_errors=False)
    def _rules(self, data, **kwargs):
        errors = rules.application_problems(
            data, clock.today_local(), current_app.config["PRIVACY_NOTICE_VERSION"])
        if errors:
            raise ma.ValidationError(errors)


class RejectSchema(BodySchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "驳回原因，将告知申请人"})

    @ma.validates("reason")
    def _not_blank(self, value, **kwargs):
        if not value.strip():
            raise ma.ValidationError("请填写驳回原因")


class BatchReviewSchema(BodySchema):
    action = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    ids = fields.List(fields.Integer(validate=ID_RANGE), required=True,
                      validate=validate.Length(min=1, max=100), metadata={"description": "最多 100 个申请编号"})
    reason = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "action 为 reject 时必填"})

    @ma.validates_schema
    def _reason_for_reject(self, data, **kwargs):
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            raise ma.ValidationError({"reason": ["批量驳回时请填写驳回原因"]})


SEARCH_PATH = "/api/v1/admin/enrollment/applications/search"
EXPORT_PATH = "/api/v1/admin/enrollment/members.xlsx"


class _QueueFilters:
    """The review queue's filters, in a query string or in a search body."""

    status = fields.String(validate=validate.OneOf(APPLICATION_STATUSES))
    organization_id = fields.Integer(validate=ID_RANGE,
                                     metadata={"description": "该组织及其下级组织"})
    occupation = fields.String(validate=validate.OneOf(OCCUPATIONS))
    submitted_from = DateOrDateTime(metadata={"description": "提交时间起（含），YYYY-MM-DD 或 ISO 8601"})
    submitted_to = DateOrDateTime(metadata={"description": "提交时间止（含），YYYY-MM-DD 或 ISO 8601"})
    sort = fields.String(validate=validate.OneOf(["submitted_at", "-submitted_at"]),
                         metadata={"description": "默认：待审核按提交时间先后，其余按最新在前"})


class QueueQuerySchema(_QueueFilters, PageArgs):
    q = fields.String(validate=[validate.Length(min=1, max=50), NotInUrl(SEARCH_PATH)],
                      metadata={"description": "姓名（包含）；按身份证号或手机号查找请用 POST …/applications/search"})


class QueueSearchSchema(_QueueFilters, PageBody):
    q = fields.String(validate=validate.Length(min=1, max=50),
                      metadata={"description": "姓名（包含），或完整身份证号、手机号（精确查找）"})


class _ExportFilters:
    """The member list's filters, in a query string or in a body."""

    status = fields.String(validate=validate.OneOf(MEMBERSHIP_STATUSES), metadata={"description": "会员状态"})
    organization_id = fields.Integer(validate=ID_RANGE)
    occupation = fields.String(validate=validate.OneOf(OCCUPATIONS))
    submitted_from = DateOrDateTime()
    submitted_to = DateOrDateTime()
    joined_from = DateOrDateTime()
    joined_to = DateOrDateTime()
    full = fields.Boolean(load_default=False,
                          metadata={"description": "true：本人任管理员的组织的会员导出完整身份证号和手机号"
                                                   "（仅管理员，记入操作日志）"})


class ExportQuerySchema(_ExportFilters, QuerySchema):
    q = fields.String(validate=[validate.Length(min=1, max=50), NotInUrl(EXPORT_PATH)],
                      metadata={"description": "姓名（包含）；按身份证号或手机号查找请用 POST 导出"})


class ExportBodySchema(_ExportFilters, BodySchema):
    q = fields.String(validate=validate.Length(min=1, max=50),
                      metadata={"description": "姓名（包含），或完整身份证号、手机号（精确查找）"})


# --- responses ---------------------------------------------------------------

class OrganizationRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class SealedText(fields.String):
    """A sealed column (``attribute``) shown masked, or whole when the schema says ``full``."""

    def __init__(self, context: str, **kwargs):
        super().__init__(**kwargs)
        self.seal_context = context

    def _serialize(self, value, attr, obj, **kwargs):
        return sensitive.shown(value, self.seal_context, full=self.parent.full)


class OccupationLabel(fields.String):
    """The Chinese label of the record's occupation."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return rules.occupation_label(obj.occupation)


class ReviewerName(fields.String):
    """Who decided (``attribute`` is the reviewer's id): told to staff readers only, never to the applicant."""

    def _serialize(self, value, attr, obj, **kwargs):
        reviewer = obj.reviewer if value is not None and "staff" in g else None
        return (reviewer.display_name or reviewer.username) if reviewer is not None else None


class ApplicationSchema(OutSchema):
    """An application read from the model.  The ID number and phone are masked
    (whole only in the worker's own export, ``ApplicationDataSchema``); the
    reviewer's name is told to staff readers only, never to the applicant."""

    full = False

    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    name = fields.String(required=True)
    gender = fields.String(required=True)
    id_number = SealedText(sensitive.ID_CONTEXT, attribute="id_number_enc", allow_none=True,
                           metadata={"description": "脱敏：110***********002X"})
    phone = SealedText(sensitive.PHONE_CONTEXT, attribute="phone_enc", allow_none=True,
                       metadata={"description": "脱敏：138****8000"})
    occupation = fields.String(required=True)
    occupation_label = OccupationLabel(allow_none=True)
    occupation_other = fields.String(allow_none=True)
    employer = fields.String(allow_none=True)
    work_region = fields.String(allow_none=True)
    organization_id = fields.Integer(required=True)
    organization = fields.Nested(OrganizationRefSchema, required=True)
    consent_version = fields.String(allow_none=True)
    consented_at = LocalDateTime(allow_none=True)
    submitted_at = LocalDateTime(required=True)
    reviewed_at = LocalDateTime(allow_none=True)
    reviewed_by = ReviewerName(attribute="reviewer_id", allow_none=True)
    reject_reason = fields.String(allow_none=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    member_no = fields.String(attribute="membership.member_no", allow_none=True, dump_default=None)


class ApplicationDataSchema(ApplicationSchema):
    """An application in the worker's own export (``GET /me/data``): nothing masked."""

    full = True


ApplicationPageSchema = page_schema(ApplicationSchema, name="EnrollmentApplicationPage")


class MembershipCardSchema(OutSchema):
    member_no = fields.String(required=True)
    name = fields.String(required=True)
    organization = fields.String(required=True, attribute="organization.name")
    organization_id = fields.Integer()
    occupation = fields.String(required=True)
    occupation_label = OccupationLabel(allow_none=True)
    joined_at = LocalDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(MEMBERSHIP_STATUSES))


class MembershipBriefSchema(OutSchema):
    """The member card in brief, for ``GET /me`` (no personal data beyond the member number)."""

    member_no = fields.String()
    organization = fields.String(attribute="organization.name")
    occupation = fields.String()
    status = fields.String()
    joined_at = LocalDateTime()


class BatchResultItemSchema(OutSchema):
    id = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    status = fields.String(allow_none=True)
    member_no = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)


class BatchResultSchema(OutSchema):
    results = fields.List(fields.Nested(BatchResultItemSchema), required=True)
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
