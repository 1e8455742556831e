"""The answers of sign-in, sessions and staff accounts that say no (docs/contract.md §2)."""
from __future__ import annotations

from service.errors import Forbidden, NotFound, RateLimited, ServiceError, Unauthenticated


class SessionExpired(Unauthenticated):
    """A token that is unknown, expired or revoked, or whose worker is gone."""

    message = "登录已失效，请重新登录"


class StaffSessionEnded(Unauthenticated):
    message = "账号已停用或登录已失效"


class WorkersOnly(Forbidden):
    message = "仅限职工使用"


class InvalidCredentials(ServiceError):
    status = 401
    code = "invalid_credentials"
    message = "用户名或密码错误"


class LoginLocked(RateLimited):
    """Too many failed sign-ins for one username; raised with ``retry_after`` and its header."""

    message = "登录失败次数过多，请 15 分钟后再试"


class SessionKeyExpired(ServiceError):
    status = 401
    code = "session_key_expired"
    message = "登录状态已过期，请重新登录后再授权手机号"


class PhoneInvalid(ServiceError):
    status = 422
    code = "phone_invalid"
    message = "微信返回的手机号不是有效的中国大陆手机号"


class UsernameTaken(ServiceError):
    status = 409
    code = "username_taken"
    message = "用户名已存在"


class StaffNotFound(NotFound):
    message = "该员工账号不存在"


class BindingCodeInvalid(ServiceError):
    status = 422
    code = "binding_code_invalid"
    message = "绑定码错误或已过期，请在工作人员控制台重新获取绑定码"


class WeChatAlreadyBound(ServiceError):
    status = 409
    code = "wechat_already_bound"
    message = "该微信已绑定其他工作人员账号，请先在控制台解除原绑定"
