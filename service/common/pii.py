"""Personal data at rest: AES-256-GCM encryption and an HMAC blind index.

Ciphertexts are ``v<version>:<base64url(nonce|ciphertext|tag)>`` so that
``PII_KEY`` can be rotated: new writes use ``PII_KEY_VERSION``, old versions
stay readable through ``PII_OLD_KEYS`` (``"1:<key>,2:<key>"``).  The blind
index (``blind_index``) is keyed separately (derived from the current key) so
that equal values can be found and kept unique without decrypting.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _keys() -> tuple[int, dict[int, bytes]]:
    cfg = current_app.config
    cache = current_app.extensions.get("pii_keys")
    if cache is None:
        version = int(cfg.get("PII_KEY_VERSION", 1))
        keys = {version: _derive(cfg["PII_KEY"], b"pii-aes-gcm")}
        for item in (cfg.get("PII_OLD_KEYS") or "").split(","):
            if ":" in item:
                v, secret = item.split(":", 1)
                keys.setdefault(int(v), _derive(secret.strip(), b"pii-aes-gcm"))
        cache = (version, keys, _derive(cfg["PII_KEY"], b"pii-blind-index"))
        current_app.extensions["pii_keys"] = cache
    return cache[0], cache[1]


def _index_key() -> bytes:
    _keys()
    return current_app.extensions["pii_keys"][2]


def encrypt(plaintext: str | None, context: str = "") -> str | None:
    """Encrypt one value; ``context`` (e.g. the column) is bound as associated data."""
    if plaintext is None:
        return None
    version, keys = _keys()
    nonce = os.urandom(12)
    ct = AESGCM(keys[version]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"v{version}:" + base64.urlsafe_b64encode(nonce + ct).decode()


def decrypt(token: str | None, context: str = "") -> str | None:
    if token is None:
        return None
    version_part, _, body = token.partition(":")
    version = int(version_part[1:])
    _, keys = _keys()
    raw = base64.urlsafe_b64decode(body.encode())
    return AESGCM(keys[version]).decrypt(raw[:12], raw[12:], context.encode()).decode()


def decrypt_optional(token: str | None, context: str = "") -> str | None:
    """``decrypt`` for display: None for no value, and None (logged) for a value
    written under a key no longer configured, so one lost key never fails a page."""
    if not token:
        return None
    try:
        return decrypt(token, context)
    except Exception:
        import logging
        logging.getLogger(__name__).warning("cannot decrypt %s (key version %s)", context, key_version(token))
        return None


def key_version(token: str | None) -> int | None:
    if not token:
        return None
    return int(token.split(":", 1)[0][1:])


def blind_index(value: str | None, purpose: str) -> str | None:
    """Keyed hash for equality look-ups: same value and purpose, same index."""
    if value is None:
        return None
    normalised = value.strip().upper()
    return hmac.new(_index_key(), f"{purpose}:{normalised}".encode(), hashlib.sha256).hexdigest()


def mask(value: str | None) -> str | None:
    """First 3 and last 4 kept, the length kept: ``110***********002X``, ``138****8000``."""
    if value is None:
        return None
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def seal(data: bytes, context: str) -> bytes:
    """Encrypt bytes (an uploaded file kept for a while) under the current key; ``context``
    is bound as associated data.  → version (2 bytes), nonce, ciphertext and tag."""
    version, keys = _keys()
    nonce = os.urandom(12)
    return version.to_bytes(2, "big") + nonce + AESGCM(keys[version]).encrypt(nonce, data, context.encode())


def unseal(blob: bytes, context: str) -> bytes:
    """The bytes ``seal`` encrypted; raises for a wrong context, a tampered blob or an unknown key."""
    _, keys = _keys()
    version = int.from_bytes(blob[:2], "big")
    return AESGCM(keys[version]).decrypt(blob[2:14], blob[14:], context.encode())
