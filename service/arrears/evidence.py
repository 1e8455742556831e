"""Evidence photos: what is accepted, and how they are kept (docs/contract.md §11).

- Only JPEG and PNG, judged by decoding the file with Pillow, never by its
  name or declared type: the header must parse as one of the two formats,
  ``verify()`` must pass and the whole image must decode (a truncated file
  does not).  At most ``ARREARS_EVIDENCE_MAX_BYTES`` (5 MB) and
  ``ARREARS_EVIDENCE_MAX_PIXELS`` decoded pixels (a small file that would
  expand to gigabytes in memory is refused before it is decoded).
- At rest each photo is AES-256-GCM encrypted under a key derived from
  ``PII_KEY`` for this purpose alone (versioned like the other personal data:
  ``PII_KEY_VERSION`` for new photos, ``PII_OLD_KEYS`` to read older ones),
  with the report's id bound as associated data, so a photo cannot be moved
  to another report unnoticed.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from PIL import Image

from service.errors import ValidationFailed

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
NOT_AN_IMAGE = "请上传 JPEG 或 PNG 格式的照片（文件无法作为图片打开，或已损坏）"
_PURPOSE = b"arrears-evidence-aes-gcm"
_NONCE = 12


@dataclass(frozen=True)
class Photo:
    data: bytes
    mime_type: str
    width: int
    height: int


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def read_upload(storage) -> bytes:
    """The uploaded file's bytes, refused (422 on ``file``) when missing, empty or too large."""
    limit = int(current_app.config["ARREARS_EVIDENCE_MAX_BYTES"])
    if storage is None:
        raise _refuse("请选择要上传的照片")
    data = storage.stream.read(limit + 1)
    if not data:
        raise _refuse("上传的文件是空的")
    if len(data) > limit:
        raise _refuse(f"照片不能超过 {limit / (1024 * 1024):g} MB")
    return data


def check_photo(data: bytes) -> Photo:
    """``data`` as a JPEG or PNG photo, or 422 on ``file`` saying why not."""
    max_pixels = int(current_app.config["ARREARS_EVIDENCE_MAX_PIXELS"])
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            mime_type = FORMATS[image.format]
            width, height = image.size
            if width * height > max_pixels:
                raise _refuse("照片尺寸过大，请压缩后再上传")
            image.verify()
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            image.load()
    except ValidationFailed:
        raise
    except Image.DecompressionBombError:
        raise _refuse("照片尺寸过大，请压缩后再上传") from None
    except Exception:  # Pillow reports a bad file with many exception types
        raise _refuse(NOT_AN_IMAGE) from None
    return Photo(data, mime_type, width, height)


# --- encryption at rest -------------------------------------------------------------

def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _keys() -> tuple[int, dict[int, bytes]]:
    """(current version, {version: key}), derived once per app."""
    cached = current_app.extensions.get("arrears_evidence_keys")
    if cached is None:
        cfg = current_app.config
        version = int(cfg["PII_KEY_VERSION"])
        keys = {version: _derive(cfg["PII_KEY"])}
        for item in (cfg.get("PII_OLD_KEYS") or "").split(","):
            if ":" in item:
                old_version, secret = item.split(":", 1)
                keys.setdefault(int(old_version), _derive(secret.strip()))
        cached = current_app.extensions["arrears_evidence_keys"] = (version, keys)
    return cached


def current_key_version() -> int:
    """The key version new photos are sealed under."""
    return _keys()[0]


def _associated(report_id: int) -> bytes:
    return f"arrears.evidence:{report_id}".encode()


def seal(data: bytes, report_id: int) -> tuple[int, bytes]:
    """→ (key version, nonce | ciphertext | tag)."""
    version, keys = _keys()
    nonce = os.urandom(_NONCE)
    return version, nonce + AESGCM(keys[version]).encrypt(nonce, data, _associated(report_id))


def open_sealed(blob: bytes, key_version: int, report_id: int) -> bytes:
    """The photo's bytes; raises when the key is gone or the data was altered."""
    _, keys = _keys()
    return AESGCM(keys[key_version]).decrypt(blob[:_NONCE], blob[_NONCE:], _associated(report_id))
