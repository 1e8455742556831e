"""WeChat gateway: the lowest layer beside ``models`` (no Flask, no database).

* :class:`WeChatGateway` -- login codes, phone numbers, subscribe messages,
  mini-program codes, the access token shared through Redis;
* :mod:`wechat.errors` -- WeChat errcodes mapped to our API's error codes;
* :func:`decrypt_user_data` -- WeChat open-data decryption;
* :mod:`wechat.fake` -- the fake WeChat for development and tests.
"""
from .client import FAKE_API_BASE, WECHAT_API_BASE, WeChatGateway
from .crypto import decrypt_user_data, encrypt_user_data
from .errors import (
    WeChatBadData,
    WeChatCodeInvalid,
    WeChatDecryptError,
    WeChatError,
    WeChatRateLimited,
    WeChatUnavailable,
    WeChatUserBlocked,
    WeChatUserRefused,
    error_from_errcode,
)

__all__ = [
    "FAKE_API_BASE",
    "WECHAT_API_BASE",
    "WeChatGateway",
    "decrypt_user_data",
    "encrypt_user_data",
    "WeChatError",
    "WeChatCodeInvalid",
    "WeChatRateLimited",
    "WeChatUserBlocked",
    "WeChatUnavailable",
    "WeChatUserRefused",
    "WeChatBadData",
    "WeChatDecryptError",
    "error_from_errcode",
]
