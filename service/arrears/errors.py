"""The domain errors of wage-arrears reports (docs/contract.md §11)."""
from __future__ import annotations

from service.errors import ServiceError


class PhoneRequired(ServiceError):
    status = 409
    code = "phone_required"
    message = "请先授权绑定微信手机号，以便工会工作人员与您联系"


class ReportPending(ServiceError):
    status = 409
    code = "report_pending"
    message = "您对该单位的欠薪报工正在办理中，请勿重复提交"


class ReportNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "欠薪报工不存在"


class CaseNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "欠薪案件不存在"


class EvidenceNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "证据照片不存在"


class AlertNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "提醒不存在"


class ReportNotSubmitted(ServiceError):
    status = 409
    code = "invalid_state"
    message = "该报工已进入办理或已结束，不能再进行此操作"


class TransitionRefused(ServiceError):
    status = 409
    code = "invalid_state"
    message = "案件当前状态不能转到所选状态"


class CaseContention(ServiceError):
    status = 409
    code = "conflict"
    message = "该单位的案件正在被他人办理，请稍后重试"
