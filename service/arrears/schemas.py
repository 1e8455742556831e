"""Input and output schemas of wage-arrears reports (docs/contract.md §11).

Input schemas refuse unknown body fields and say what is wrong in Chinese.
Output schemas read the model objects (``models.arrears``) themselves: codes
get their Chinese labels, ciphertexts are decrypted and phones masked here,
in the one place a response is shaped.
"""
from __future__ import annotations

import decimal
import re

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate, validates_schema

from models.arrears import CASE_STATUSES, REFERRALS, REPORT_STATUSES
from service.arrears.employers import credit_code_problem, employer_key, normalise_credit_code
from service.arrears.timeline import CASE_STATUS_LABELS, EVENT_LABELS, REFERRAL_LABELS, REPORT_STATUS_LABELS
from service.common import clock, pii
from service.common.schemas import ID_RANGE, BodySchema, LocalDateTime, OutSchema, PageArgs, QuerySchema

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_AMOUNT = decimal.Decimal("100000000")  # one hundred million yuan: more is a typing slip
MAX_WORKERS = 100000
CENT = decimal.Decimal("0.01")


# --- fields ------------------------------------------------------------------------------

class Text(fields.String):
    """Text without surrounding blanks; blank text counts as missing when required."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not value and self.required:
            raise ma.ValidationError("不能为空")
        return value or None

    def _validate(self, value):
        if value is not None:  # blank optional text is no text: nothing to check
            super()._validate(value)


class YearMonth(fields.String):
    """A month, ``YYYY-MM`` (2000-01 … 2099-12)."""

    def __init__(self, **kwargs):
        metadata = {"pattern": MONTH_RE.pattern, "example": "2026-01", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        match = MONTH_RE.match(value)
        if not match:
            raise ma.ValidationError("月份格式应为 YYYY-MM，例如 2026-01")
        if not 2000 <= int(match.group(1)) <= 2099:
            raise ma.ValidationError("月份应在 2000-01 至 2099-12 之间")
        return value


class CreditCode(fields.String):
    """A unified social credit code (GB 32100): 18 characters with a check character;
    blanks ignored, letters upper-cased; empty means none."""

    def __init__(self, **kwargs):
        metadata = {"description": "统一社会信用代码（18 位，含校验位）", "example": "91110000600037341L",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        code = normalise_credit_code(super()._deserialize(value, attr, data, **kwargs))
        if not code:
            return None
        problem = credit_code_problem(code)
        if problem:
            raise ma.ValidationError(problem)
        return code


class Yuan(fields.Decimal):
    """An amount of money in yuan: a number (or numeric text) with at most two decimals."""

    def __init__(self, *, minimum: decimal.Decimal, exclusive: bool, **kwargs):
        self.minimum, self.exclusive = minimum, exclusive
        metadata = {"minimum": float(minimum), "maximum": float(MAX_AMOUNT), "exclusiveMinimum": exclusive,
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount > MAX_AMOUNT:
            raise ma.ValidationError("金额过大，请核对（单位：元）")
        if amount < self.minimum or (self.exclusive and amount == self.minimum):
            raise ma.ValidationError(f"金额应大于 {self.minimum}" if self.exclusive else f"金额不能小于 {self.minimum}")
        if amount != amount.quantize(CENT):
            raise ma.ValidationError("金额最多保留两位小数")
        return amount.quantize(CENT)


class Money(fields.Float):
    """Yuan, as a JSON number with two decimals."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else round(float(value), 2)


class Label(fields.String):
    """The Chinese label of the code held in ``attribute``."""

    def __init__(self, labels: dict[str, str], **kwargs):
        self.labels = labels
        super().__init__(dump_only=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else self.labels.get(value, value)


class Decrypted(fields.String):
    """A personal-data ciphertext (``attribute``), decrypted for the reader."""

    def __init__(self, context: str, **kwargs):
        self.context = context
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.decrypt_optional(value, self.context)


class MaskedPhone(fields.String):
    """The worker's bound phone, masked (``138****8000``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask(pii.decrypt_optional(value, "worker.phone"))


# --- input: the worker ----------------------------------------------------------------------

class ArrearsReportCreateSchema(BodySchema):
    employer_name = Text(required=True, validate=validate.Length(max=200),
                         metadata={"description": "欠薪单位名称（与营业执照一致为佳）"})
    employer_credit_code = CreditCode(allow_none=True, load_default=None)
    work_address = Text(required=True, validate=validate.Length(max=255), metadata={"description": "工作地点"})
    organization_id = fields.Integer(required=True, validate=ID_RANGE,
                                     metadata={"description": "受理的工会组织（一般为工作地所在区总工会）"})
    period_from = YearMonth(required=True, metadata={"description": "欠薪起始月份"})
    period_to = YearMonth(required=True, metadata={"description": "欠薪截止月份"})
    amount_owed = Yuan(required=True, minimum=decimal.Decimal("0"), exclusive=True,
                       metadata={"description": "被拖欠的工资（元）"})
    workers_affected = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_WORKERS),
                                      metadata={"description": "涉及职工人数（含本人）"})
    description = Text(required=True, validate=validate.Length(max=2000), metadata={"description": "欠薪情况说明"})

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if data.get("employer_name") and not employer_key(data["employer_name"]):
            errors["employer_name"] = ["请填写完整的单位名称"]
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and end < start:
            errors["period_to"] = ["欠薪截止月份不能早于起始月份"]
        elif end and end > clock.today_local().strftime("%Y-%m"):
            errors["period_to"] = ["欠薪截止月份不能晚于本月"]
        if errors:
            raise ma.ValidationError(errors)


class ArrearsMyReportsArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))


class ArrearsEvidenceUploadSchema(ma.Schema):
    """multipart/form-data with one file, ``file``."""

    class Meta:
        unknown = ma.EXCLUDE

    file = Upload(required=True, metadata={"description": "JPEG 或 PNG 照片，不超过 5 MB，每份报工最多 3 张"})


# --- input: staff -----------------------------------------------------------------------------

class ArrearsReportQueueArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))
    organization_id = fields.Integer(validate=ID_RANGE, metadata={"description": "该组织及其下级组织"})
    q = fields.String(validate=validate.Length(max=100), metadata={"description": "单位名称中的文字"})


class ArrearsDeclineSchema(BodySchema):
    reason = Text(required=True, validate=validate.Length(max=500),
                  metadata={"description": "不予受理的原因（职工可见）"})


class ArrearsCaseFilterArgs(QuerySchema):
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    collective = fields.Boolean(metadata={"description": "仅群体性欠薪案件"})
    organization_id = fields.Integer(validate=ID_RANGE, metadata={"description": "该组织及其下级组织"})
    q = fields.String(validate=validate.Length(max=100), metadata={"description": "单位名称中的文字"})


class ArrearsCaseListArgs(ArrearsCaseFilterArgs, PageArgs):
    pass


class ArrearsTransitionSchema(BodySchema):
    """``to`` with what it needs: ``referred_to`` for referred, ``amount_recovered`` for
    resolved (``resolved_on`` defaults to today), a ``note`` for closed."""

    to = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=500),
                metadata={"description": "处理说明（职工可见）"})
    referred_to = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(REFERRALS))
    amount_recovered = Yuan(allow_none=True, load_default=None, minimum=decimal.Decimal("0"), exclusive=False,
                            metadata={"description": "追回的工资（元）"})
    resolved_on = fields.Date(allow_none=True, load_default=None, metadata={"description": "解决日期，默认今天"})
    legal_aid_booking_id = fields.Integer(allow_none=True, load_default=None, validate=ID_RANGE,
                                          metadata={"description": "移交法律援助时关联的咨询预约"})

    @validates_schema
    def _what_the_move_needs(self, data, **kwargs):
        to = data.get("to")
        errors: dict[str, list[str]] = {}
        if to == "referred" and not data.get("referred_to"):
            errors["referred_to"] = ["移交时请选择移交部门"]
        if to != "referred" and data.get("referred_to"):
            errors["referred_to"] = ["仅在移交时填写"]
        if data.get("legal_aid_booking_id") and data.get("referred_to") != "legal_aid":
            errors["legal_aid_booking_id"] = ["仅在移交法律援助时填写"]
        if to == "resolved" and data.get("amount_recovered") is None:
            errors["amount_recovered"] = ["解决时请填写追回金额"]
        for key in ("amount_recovered", "resolved_on"):
            if to != "resolved" and data.get(key) is not None:
                errors[key] = ["仅在解决时填写"]
        if to == "closed" and not data.get("note"):
            errors["note"] = ["结案时请填写处理说明"]
        if errors:
            raise ma.ValidationError(errors)


# --- output --------------------------------------------------------------------------------------

class ArrearsOrganizationRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ArrearsEvidenceSchema(OutSchema):
    id = fields.Integer(required=True)
    mime_type = fields.String(required=True, metadata={"enum": ["image/jpeg", "image/png"]})
    size = fields.Integer(required=True, metadata={"description": "字节数"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)


class ArrearsEventSchema(OutSchema):
    kind = fields.String(required=True)
    kind_label = Label(EVENT_LABELS, attribute="kind", required=True)
    from_status = fields.String(allow_none=True, required=True)
    to_status = fields.String(allow_none=True, required=True)
    status_label = Label({**REPORT_STATUS_LABELS, **CASE_STATUS_LABELS}, attribute="to_status", allow_none=True,
                         required=True)
    note = fields.String(allow_none=True, required=True)
    at = LocalDateTime(required=True)


class ArrearsStaffEventSchema(ArrearsEventSchema):
    id = fields.Integer(required=True)
    report_id = fields.Integer(allow_none=True, required=True)
    staff_id = fields.Integer(allow_none=True, required=True)


class ArrearsCaseStateSchema(OutSchema):
    """The case a report belongs to, as its worker sees it."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(CASE_STATUSES)})
    status_label = Label(CASE_STATUS_LABELS, attribute="status", required=True)
    collective = fields.Boolean(required=True)
    referred_to = fields.String(allow_none=True, required=True, metadata={"enum": [*REFERRALS, None]})
    referred_to_label = Label(REFERRAL_LABELS, attribute="referred_to", allow_none=True, required=True)
    amount_recovered = Money(allow_none=True, required=True)
    resolved_on = fields.Date(allow_none=True, required=True)


class ArrearsReportSchema(OutSchema):
    """A report as its worker sees it, with its case's state and the timeline."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(REPORT_STATUSES)})
    status_label = Label(REPORT_STATUS_LABELS, attribute="status", required=True)
    organization = fields.Nested(ArrearsOrganizationRefSchema, required=True)
    employer_name = fields.String(required=True)
    employer_credit_code = fields.String(allow_none=True, required=True)
    work_address = Decrypted("arrears.work_address", attribute="work_address_enc", allow_none=True, required=True)
    period_from = fields.String(required=True)
    period_to = fields.String(required=True)
    amount_owed = Money(required=True)
    workers_affected = fields.Integer(required=True)
    description = Decrypted("arrears.description", attribute="description_enc", allow_none=True, required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    evidence = fields.List(fields.Nested(ArrearsEvidenceSchema), required=True)
    case = fields.Nested(ArrearsCaseStateSchema, allow_none=True, required=True)
    timeline = fields.List(fields.Nested(ArrearsEventSchema), required=True)
    can_withdraw = fields.Boolean(attribute="withdrawable", required=True)
    can_add_evidence = fields.Boolean(attribute="accepts_evidence", required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)


class ArrearsEvidenceCreatedSchema(OutSchema):
    id = fields.Integer(required=True)
    report_id = fields.Integer(required=True)
    mime_type = fields.String(required=True, metadata={"enum": ["image/jpeg", "image/png"]})
    size = fields.Integer(required=True)


class ArrearsStaffReportSchema(ArrearsReportSchema):
    """A report as rights staff see it: who reported (phone masked) and who decided."""

    worker_id = fields.Integer(allow_none=True, required=True, metadata={"description": "职工注销后为空"})
    worker_phone = MaskedPhone(attribute="worker.phone_enc", allow_none=True, dump_default=None, required=True)
    case_id = fields.Integer(allow_none=True, required=True)
    decided_by_id = fields.Integer(allow_none=True, required=True)
    decided_at = LocalDateTime(allow_none=True, required=True)
    timeline = fields.List(fields.Nested(ArrearsStaffEventSchema), attribute="events", required=True)


class ArrearsCaseReportRefSchema(OutSchema):
    """One report of a case, in the case list."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(REPORT_STATUSES)})
    worker_id = fields.Integer(allow_none=True, required=True)
    workers_affected = fields.Integer(required=True)
    amount_owed = Money(required=True)
    period_from = fields.String(required=True)
    period_to = fields.String(required=True)
    evidence_count = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)


class ArrearsCaseSchema(OutSchema):
    id = fields.Integer(required=True)
    organization = fields.Nested(ArrearsOrganizationRefSchema, required=True)
    employer_name = fields.String(required=True)
    employer_credit_code = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"enum": list(CASE_STATUSES)})
    status_label = Label(CASE_STATUS_LABELS, attribute="status", required=True)
    next_statuses = fields.List(fields.String(), required=True, metadata={"description": "可转到的状态"})
    collective = fields.Boolean(required=True, metadata={"description": "群体性欠薪"})
    collective_at = LocalDateTime(allow_none=True, required=True)
    reporters = fields.Integer(required=True, metadata={"description": "报工份数"})
    workers = fields.Integer(required=True, metadata={"description": "涉及职工人数（各报工人数之和）"})
    amount_owed = Money(required=True, metadata={"description": "欠薪金额合计（元）"})
    referred_to = fields.String(allow_none=True, required=True, metadata={"enum": [*REFERRALS, None]})
    referred_to_label = Label(REFERRAL_LABELS, attribute="referred_to", allow_none=True, required=True)
    amount_recovered = Money(allow_none=True, required=True)
    resolved_on = fields.Date(allow_none=True, required=True)
    legal_aid_booking_id = fields.Integer(allow_none=True, required=True)
    reports = fields.List(fields.Nested(ArrearsCaseReportRefSchema), required=True)
    timeline = fields.List(fields.Nested(ArrearsStaffEventSchema), attribute="events", required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)
    finished_at = LocalDateTime(allow_none=True, required=True)


class ArrearsCaseDetailSchema(ArrearsCaseSchema):
    reports = fields.List(fields.Nested(ArrearsStaffReportSchema), required=True)
