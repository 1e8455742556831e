"""The answers of union enrollment that say no (docs/contract.md §3)."""
from __future__ import annotations

from service.errors import Forbidden, InvalidState, NotFound, ServiceError


class ApplicationPending(ServiceError):
    """The caller already has an application waiting for review."""

    status = 409
    code = "application_pending"
    message = "您已有一份入会申请正在审核中，请耐心等待审核结果"


class IdNumberPending(ApplicationPending):
    """Someone else applied with the same ID number and waits for review."""

    message = "该身份证号已有入会申请正在审核中，请勿重复提交"


class AlreadyMember(ServiceError):
    """The ID number belongs to an active member."""

    status = 409
    code = "already_member"
    message = "该身份证号已是工会会员，无需重复申请"


class CallerIsMember(AlreadyMember):
    """The caller is an active member already."""

    message = "您已是工会会员，无需重复申请"


class NotAMember(ServiceError):
    status = 404
    code = "not_a_member"
    message = "您还不是工会会员"


class ApplicationNotFound(NotFound):
    """Unknown, someone else's, or outside the reviewer's organizations: never told apart."""

    message = "入会申请不存在"


class NotWithdrawable(InvalidState):
    message = "只有审核中的申请可以撤回"


class AlreadyReviewed(InvalidState):
    message = "该申请已处理，不能重复审核"


class ApplicantErased(InvalidState):
    message = "该申请的个人信息已删除，无法审核"


class FullExportForbidden(Forbidden):
    message = "仅管理员可以导出完整的身份证号和手机号"
