"""The breakfast feature's domain errors (docs/contract.md §6), one class per ``code``."""
from __future__ import annotations

from service.errors import ServiceError


class QrInvalid(ServiceError):
    status = 422
    code = "qr_invalid"
    message = "二维码无效，请扫描早餐点现场张贴的二维码"


class NotEligible(ServiceError):
    status = 403
    code = "not_eligible"
    message = "您还不在免费早餐名册中，请先在小程序中完成资格认证"


class PointInactive(ServiceError):
    status = 409
    code = "point_inactive"
    message = "该早餐点暂停供应"


class OutsideServingWindow(ServiceError):
    status = 409
    code = "outside_serving_window"
    message = "现在不在早餐供应时间内"


class TooFarFromPoint(ServiceError):
    status = 422
    code = "too_far_from_point"
    message = "您不在早餐点附近，请到早餐点后再扫码"


class AlreadyCheckedIn(ServiceError):
    status = 409
    code = "already_checked_in"
    message = "您今天已经领过早餐了，每人每天限领一份"


class DailyQuotaReached(ServiceError):
    status = 409
    code = "daily_quota_reached"
    message = "该早餐点今日早餐已领完"


class NotOnRoster(ServiceError):
    status = 404
    code = "not_on_roster"
    message = "免费早餐名册中没有您绑定的手机号，请联系所在单位或工会登记"


class PhoneRequired(ServiceError):
    status = 409
    code = "phone_required"
    message = "请先授权绑定微信手机号"


class RosterEntryTaken(ServiceError):
    status = 409
    code = "roster_entry_taken"
    message = "该手机号的名册记录已被其他微信账号认领，请联系工会处理"
