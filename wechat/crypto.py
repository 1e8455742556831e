"""Decryption of WeChat "open data" (encryptedData + iv), as in WeChat's open-data guide.

Algorithm: AES-128-CBC, key = base64-decoded ``session_key`` (16 bytes),
iv = base64-decoded ``iv`` (16 bytes), PKCS#7 padding, plaintext = UTF-8 JSON
whose ``watermark.appid`` must be our appid.
"""
from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import WeChatDecryptError

_BLOCK_BITS = 128


def _b64(value, what: str, length: int | None = None) -> bytes:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not value.strip():
        raise WeChatDecryptError(errmsg=f"missing {what}")
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise WeChatDecryptError(errmsg=f"{what} is not base64") from None
    if length is not None and len(raw) != length:
        raise WeChatDecryptError(errmsg=f"{what} has a wrong length")
    return raw


def decrypt_user_data(session_key_b64: str, encrypted_data_b64: str, iv_b64: str, appid: str) -> dict:
    """Decrypt WeChat encrypted user data and check its watermark.

    Returns the decrypted JSON object (a dict, with its ``watermark``).

    Raises :class:`WeChatDecryptError` when any argument is missing or not
    base64, the key or iv is not 16 bytes, the data is not a whole number of
    AES blocks, the padding is wrong, the plaintext is not a UTF-8 JSON
    object, or ``data["watermark"]["appid"] != appid``. The error never
    contains the key or the data.
    """
    key = _b64(session_key_b64, "session_key", 16)
    iv = _b64(iv_b64, "iv", 16)
    data = _b64(encrypted_data_b64, "encrypted_data")
    if not data or len(data) % 16:
        raise WeChatDecryptError(errmsg="encrypted_data has a wrong length")
    try:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        result = json.loads(plain.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise WeChatDecryptError(errmsg="cannot decrypt") from None
    if not isinstance(result, dict):
        raise WeChatDecryptError(errmsg="decrypted data is not an object")
    watermark = result.get("watermark")
    if not isinstance(watermark, dict) or watermark.get("appid") != appid or not appid:
        raise WeChatDecryptError(errmsg="watermark appid mismatch")
    return result


def encrypt_user_data(session_key_b64: str, data: dict, iv_b64: str | None = None) -> tuple[str, str]:
    """The inverse of :func:`decrypt_user_data`, for the fake WeChat and tests.

    Returns ``(encrypted_data_b64, iv_b64)``; a random iv is drawn when none is
    given. ``data`` is encrypted as given: add the ``watermark`` yourself.
    Raises :class:`WeChatDecryptError` for a bad key or iv.
    """
    key = _b64(session_key_b64, "session_key", 16)
    iv = _b64(iv_b64, "iv", 16) if iv_b64 is not None else os.urandom(16)
    plain = json.dumps(data, ensure_ascii=False).encode("utf-8")
    padder = padding.PKCS7(_BLOCK_BITS).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(encrypted).decode("ascii"), base64.b64encode(iv).decode("ascii")
