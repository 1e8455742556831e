"""Errors raised by the WeChat gateway, already mapped to our API's error contract.

Every error carries:

* ``code``        -- stable snake_case error code of our API (docs/contract.md §1),
* ``http_status`` -- the HTTP status our API answers with,
* ``message``     -- a Chinese message that may be shown to the user as is,
* ``errcode``     -- WeChat's numeric errcode, or ``None`` when there was none
                     (timeouts, refused connections, HTTP errors, decrypt errors),
* ``errmsg``      -- WeChat's own (English) errmsg, for logs only, never shown,
* ``retryable``   -- whether trying the same call again later may succeed
                     (the notification worker retries only these).

Mapping (docs/contract.md §2 and §8):

=================  ==========================  ====  =====================
WeChat errcode     class                       HTTP  code
=================  ==========================  ====  =====================
40029, 40163       WeChatCodeInvalid           401   wechat_code_invalid
 (phone binding)   WeChatPhoneCodeInvalid      422   wechat_code_invalid
45011              WeChatRateLimited           429   rate_limited
40226              WeChatUserBlocked           403   wechat_user_blocked
-1 / no answer     WeChatUnavailable           503   wechat_unavailable
43101              WeChatUserRefused           409   wechat_user_refused
47003              WeChatBadData               422   wechat_bad_data
(decryption)       WeChatDecryptError          422   wechat_decrypt_failed
anything else      WeChatError                 502   wechat_error
=================  ==========================  ====  =====================

Messages never contain a session_key, an access token or a secret.
"""
from __future__ import annotations


class WeChatError(Exception):
    """Base class: an unexpected WeChat errcode (502 ``wechat_error``).

    Unknown errcodes are treated as retryable (with backoff, by the caller):
    the known final ones have their own classes below.
    """

    code: str = "wechat_error"
    http_status: int = 502
    default_message: str = "微信服务返回错误，请稍后再试"
    retryable: bool = True

    def __init__(
        self,
        message: str | None = None,
        *,
        errcode: int | None = None,
        errmsg: str = "",
    ) -> None:
        self.message = message or self.default_message
        self.errcode = errcode
        self.errmsg = errmsg or ""
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.errcode is None:
            return f"{self.code}: {self.message}"
        return f"{self.code} (errcode={self.errcode}): {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, errcode={self.errcode!r})"

    def to_dict(self) -> dict:
        """The error body of our API: ``{"error": {code, message, details}}``."""
        details: dict = {}
        if self.errcode is not None:
            details["wechat_errcode"] = self.errcode
        return {"error": {"code": self.code, "message": self.message, "details": details}}


class WeChatCodeInvalid(WeChatError):
    """The login/phone code is invalid (40029) or was already used (40163): 401."""

    code = "wechat_code_invalid"
    http_status = 401
    default_message = "登录凭证无效或已使用，请重新登录"
    retryable = False


class WeChatPhoneCodeInvalid(WeChatCodeInvalid):
    """A bad or used ``getPhoneNumber`` code at phone binding: 422, not 401.

    The caller's session is still valid, and a mini-program treats 401 as "log
    in again"; the worker is asked to authorize the phone again instead.
    """

    http_status = 422
    default_message = "手机号授权失败，请重新授权"

    @classmethod
    def of(cls, error: WeChatCodeInvalid) -> WeChatPhoneCodeInvalid:
        """The phone binding's reading of a code WeChat refused (its errcode kept)."""
        return cls(errcode=error.errcode, errmsg=error.errmsg)


class WeChatRateLimited(WeChatError):
    """WeChat says the user calls too often (45011): 429; retry after ``retry_after`` s."""

    code = "rate_limited"
    http_status = 429
    default_message = "操作太频繁，请稍后再试"
    retryable = True
    retry_after = 60


class WeChatUserBlocked(WeChatError):
    """WeChat flags the user as high-risk (40226): 403, final."""

    code = "wechat_user_blocked"
    http_status = 403
    default_message = "该微信账号存在安全风险，暂时无法使用此功能"
    retryable = False


class WeChatUnavailable(WeChatError):
    """WeChat is busy (-1), unreachable, too slow, answered 5xx or garbage: 503."""

    code = "wechat_unavailable"
    http_status = 503
    default_message = "微信服务暂时不可用，请稍后再试"
    retryable = True


class WeChatUserRefused(WeChatError):
    """The user refused (or never accepted) this subscribe message (43101): 409, final."""

    code = "wechat_user_refused"
    http_status = 409
    default_message = "用户未订阅或已拒绝接收该消息"
    retryable = False


class WeChatBadData(WeChatError):
    """WeChat rejected the arguments or data we sent (47003): 422, final."""

    code = "wechat_bad_data"
    http_status = 422
    default_message = "提交给微信的数据不符合要求"
    retryable = False


class WeChatDecryptError(WeChatError):
    """Encrypted user data could not be decrypted or its watermark appid is not ours: 422."""

    code = "wechat_decrypt_failed"
    http_status = 422
    default_message = "数据解密失败，请重新授权"
    retryable = False


_ERRCODE_CLASSES: dict[int, type[WeChatError]] = {
    40029: WeChatCodeInvalid,
    40163: WeChatCodeInvalid,
    45011: WeChatRateLimited,
    40226: WeChatUserBlocked,
    -1: WeChatUnavailable,
    43101: WeChatUserRefused,
    47003: WeChatBadData,
}

#: errcodes meaning "the access token we sent is not (or no longer) valid".
ACCESS_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


def error_from_errcode(errcode: int, errmsg: str = "") -> WeChatError:
    """Build (do not raise) the error for a WeChat ``errcode`` (non-zero).

    Known errcodes get their own class (see the module table); any other
    errcode gives a plain :class:`WeChatError` (502 ``wechat_error``) keeping
    the errcode. A non-integer errcode is treated as an unknown one.
    """
    try:
        errcode = int(errcode)
    except (TypeError, ValueError):
        return WeChatError(errcode=None, errmsg=str(errmsg or ""))
    cls = _ERRCODE_CLASSES.get(errcode, WeChatError)
    return cls(errcode=errcode, errmsg=str(errmsg or ""))
