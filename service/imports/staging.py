"""Uploaded files waiting for a clerk's confirmation, between the console's preview and the import.

The console previews an import (a dry run) and keeps the very bytes it
previewed here, so that the confirmation imports exactly that file without the
clerk choosing it again (a browser cannot re-send a file by itself).  The file
lives in Redis, shared by every instance behind the load balancer, for
``IMPORT_PREVIEW_SECONDS``; it is encrypted (a roster holds phones and ID
numbers) and bound to the clerk and the kind of import.  One file per clerk
and kind: a new preview replaces the last, so a clerk holds at most one upload
(``UPLOAD_MAX_BYTES``) per kind.  ``take`` hands it out once: a second click
on "confirm", or a stale tab's, finds nothing.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from flask import current_app

from service.common import pii
from service.extensions import redis_store
from service.imports.errors import PreviewExpired

# Hand out the value and delete it only when the stored token hash (its first 64 bytes) matches.
_TAKE_LUA = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 64) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return value
end
return false
"""


@dataclass
class StagedFile:
    filename: str
    organization_id: int | None
    content: bytes


def _key(kind: str, staff_id: int) -> str:
    return f"imports:staged:{kind}:{staff_id}"


def _context(kind: str, staff_id: int) -> str:
    return f"imports.staged:{kind}:{staff_id}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).hexdigest().encode()


def stage(kind: str, staff_id: int, filename: str, organization_id: int | None, content: bytes) -> str:
    """Keep ``content`` for the clerk's confirmation → the token the confirmation must bring."""
    token = secrets.token_urlsafe(32)
    header = json.dumps({"filename": filename, "organization_id": organization_id}).encode()
    sealed = pii.seal(header + b"\n" + content, _context(kind, staff_id))
    redis_store.client.set(_key(kind, staff_id), _digest(token) + sealed,
                           ex=current_app.config["IMPORT_PREVIEW_SECONDS"])
    return token


def take(kind: str, staff_id: int, token: str) -> StagedFile:
    """The staged file of this clerk, kind and token, removed from the store; 409 ``preview_expired``
    when it is gone (expired, replaced by a newer preview, or already imported)."""
    value = redis_store.script(_TAKE_LUA)(keys=[_key(kind, staff_id)], args=[_digest(token)])
    if not value:
        raise PreviewExpired()
    header, _, content = pii.unseal(value[64:], _context(kind, staff_id)).partition(b"\n")
    meta = json.loads(header)
    return StagedFile(meta["filename"], meta["organization_id"], content)
