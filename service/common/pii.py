"""Personal data at rest: AES-256-GCM encryption and an HMAC blind index, both versioned.

Ciphertexts are ``v<version>:<base64url(nonce|ciphertext|tag)>`` and blind
indexes ``v<version>:<base64url(HMAC-SHA256)>``, so that ``PII_KEY`` can be
rotated: writes use ``PII_KEY_VERSION``; older versions stay readable through
``PII_OLD_KEYS`` (``"1:<key>,2:<key>"``).  Each version's encryption key and
index key are derived from its secret for their own purpose.

A look-up computes the index under every configured version
(``blind_indexes``) and matches any, so that rows written before a rotation
are found during and after it; ``flask --app wsgi pii rotate``
(``service/pii_rotation.py``) then rewrites every row under the current key.
Indexes written before they were versioned (64 hex characters, no prefix)
are matched too, under every configured key, until the rotation rewrites them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from config import old_pii_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRing:
    """The configured keys: ``version`` is the one writes use."""

    version: int
    encryption: dict[int, bytes]
    index: dict[int, bytes]


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def keyring() -> KeyRing:
    """The app's keys, derived once per app from ``PII_KEY``, ``PII_KEY_VERSION`` and ``PII_OLD_KEYS``."""
    ring = current_app.extensions.get("pii_keys")
    if ring is None:
        cfg = current_app.config
        secrets = {int(cfg["PII_KEY_VERSION"]): cfg["PII_KEY"], **old_pii_keys(cfg)}
        ring = KeyRing(int(cfg["PII_KEY_VERSION"]),
                       {v: _derive(s, b"pii-aes-gcm") for v, s in secrets.items()},
                       {v: _derive(s, b"pii-blind-index") for v, s in secrets.items()})
        current_app.extensions["pii_keys"] = ring
    return ring


def current_prefix() -> str:
    """``v<version>:``, the start of every ciphertext and blind index written now."""
    return f"v{keyring().version}:"


def encrypt(plaintext: str | None, context: str = "") -> str | None:
    """Encrypt one value; ``context`` (e.g. the column) is bound as associated data."""
    if plaintext is None:
        return None
    ring = keyring()
    nonce = os.urandom(12)
    ct = AESGCM(ring.encryption[ring.version]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"v{ring.version}:" + base64.urlsafe_b64encode(nonce + ct).decode()


def decrypt(token: str | None, context: str = "") -> str | None:
    if token is None:
        return None
    version_part, _, body = token.partition(":")
    version = int(version_part[1:])
    raw = base64.urlsafe_b64decode(body.encode())
    return AESGCM(keyring().encryption[version]).decrypt(raw[:12], raw[12:], context.encode()).decode()


def decrypt_optional(token: str | None, context: str = "") -> str | None:
    """``decrypt`` for display: None for no value, and None (logged) for a value
    written under a key no longer configured, so one lost key never fails a page."""
    if not token:
        return None
    try:
        return decrypt(token, context)
    except Exception:
        log.warning("cannot decrypt %s (key version %s)", context, key_version(token))
        return None


def key_version(token: str | None) -> int | None:
    if not token:
        return None
    return int(token.split(":", 1)[0][1:])


def _digest(key: bytes, value: str, purpose: str) -> bytes:
    return hmac.new(key, f"{purpose}:{value.strip().upper()}".encode(), hashlib.sha256).digest()


def blind_index(value: str | None, purpose: str) -> str | None:
    """The keyed hash written beside a value, under the current key: same value and
    purpose, same index (``v2:…``)."""
    if value is None:
        return None
    ring = keyring()
    digest = _digest(ring.index[ring.version], value, purpose)
    return f"v{ring.version}:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def blind_indexes(value: str, purpose: str) -> list[str]:
    """Every index ``value`` may be stored under: one per configured key version,
    the current first, plus the unversioned form of earlier releases.  Look-ups
    match any of them (``column.in_(blind_indexes(...))``)."""
    ring = keyring()
    out = []
    for version in sorted(ring.index, key=lambda v: v != ring.version):
        digest = _digest(ring.index[version], value, purpose)
        out.append(f"v{version}:" + base64.urlsafe_b64encode(digest).decode().rstrip("="))
        out.append(digest.hex())
    return out


def matching_indexes(stored: str, token: str | None, context: str, purpose: str) -> list[str]:
    """Every index under which the value behind a stored one may be found: the stored
    index and, while its sealed value (``token``) decrypts, that value's index under
    every configured key.  The first is the one to write now: the current key's
    while the value decrypts, else the stored one."""
    value = decrypt_optional(token, context)
    if value is None:
        return [stored]
    found = blind_indexes(value, purpose)
    return found if stored in found else [*found, stored]


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
    ring = keyring()
    nonce = os.urandom(12)
    return ring.version.to_bytes(2, "big") + nonce + AESGCM(ring.encryption[ring.version]).encrypt(
        nonce, data, context.encode())


def unseal(blob: bytes, context: str) -> bytes:
    """The bytes ``seal`` encrypted; raises for a wrong context, a tampered blob or an unknown key."""
    version = int.from_bytes(blob[:2], "big")
    return AESGCM(keyring().encryption[version]).decrypt(blob[2:14], blob[14:], context.encode())
