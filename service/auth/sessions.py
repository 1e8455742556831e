"""Opaque bearer tokens kept in Redis.

A token is ``secrets.token_urlsafe(32)`` (256 bits); Redis holds only its
SHA-256 under ``sess:<hash>``, with the user's kind and id.  Worker sessions
slide (each use renews the 7-day expiry); staff sessions end 8 hours after
login whatever happens.  ``usess:<kind>:<id>`` indexes a user's sessions so
that logout-everywhere and disabling an account revoke them all at once.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from flask import current_app

from service.extensions import redis_store


@dataclass
class Identity:
    kind: str  # "worker" | "staff"
    user_id: int
    token_hash: str
    username: str | None = None
    roles: list[tuple[str, int | None]] = field(default_factory=list)
    retry_after: int | None = None  # set when the request went over the worker's limit


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ttl(kind: str) -> int:
    key = "WORKER_SESSION_SECONDS" if kind == "worker" else "STAFF_SESSION_SECONDS"
    return int(current_app.config[key])


def create(kind: str, user_id: int, username: str | None = None) -> tuple[str, int]:
    """A new session; returns ``(token, expires_in_seconds)``."""
    token = secrets.token_urlsafe(32)
    th = token_hash(token)
    ttl = _ttl(kind)
    now = int(time.time())
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.hset(f"sess:{th}", mapping={"kind": kind, "uid": user_id, "username": username or "",
                                     "created": now})
    pipe.expire(f"sess:{th}", ttl)
    index = f"usess:{kind}:{user_id}"
    pipe.sadd(index, th)
    pipe.expire(index, max(ttl, _ttl("worker")))
    pipe.execute()
    return token, ttl


# One round trip for a worker's request: read the session and, for a worker,
# slide its expiry and that of the worker's session index (so that revoking all
# of a worker's sessions finds every live one), and count the request against
# the worker's own limit of that kind (keyed on the user, so a new login gives
# no fresh allowance).  Returns kind, uid, username and -1, or the seconds to
# wait when the limit is used up.
_RESOLVE_LUA = """
local d = redis.call('HMGET', KEYS[1], 'kind', 'uid', 'username')
if d[1] ~= 'worker' then return {d[1], d[2], d[3], -1} end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', 'usess:worker:' .. d[2], ARGV[1])
if ARGV[2] ~= '' then
  local key = 'wlim:' .. ARGV[2] .. ':' .. d[2]
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[4]) end
  if n > tonumber(ARGV[3]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = 1 end
    return {d[1], d[2], d[3], ttl}
  end
end
return {d[1], d[2], d[3], -1}
"""


@dataclass(frozen=True)
class WorkerLimit:
    """A per-worker limit: ``amount`` requests of one ``kind`` per ``seconds``."""

    kind: str
    amount: int
    seconds: int


def resolve(token: str, limit: WorkerLimit | None = None) -> Identity | None:
    """The identity behind a token, renewing a worker's sliding expiry and counting
    the request against ``limit`` (workers only) — one Redis round trip; None if
    unknown.  A worker over the limit comes back with ``retry_after`` set."""
    if not token or len(token) > 200:
        return None
    th = token_hash(token)
    args = [_ttl("worker"), limit.kind, limit.amount, limit.seconds] if limit else [_ttl("worker"), "", 0, 0]
    kind, uid, username, wait = redis_store.script(_RESOLVE_LUA)(keys=[f"sess:{th}"], args=args)
    if not kind or not uid:
        return None
    identity = Identity(kind=kind.decode(), user_id=int(uid), token_hash=th,
                        username=(username or b"").decode() or None)
    if int(wait) >= 0:
        identity.retry_after = int(wait)
    return identity


def revoke(th: str) -> None:
    client = redis_store.client
    data = client.hgetall(f"sess:{th}")
    pipe = client.pipeline(transaction=True)
    pipe.delete(f"sess:{th}")
    if data:
        pipe.srem(f"usess:{data[b'kind'].decode()}:{int(data[b'uid'])}", th)
    pipe.execute()


def revoke_all(kind: str, user_id: int) -> int:
    """Revoke every session of one user; returns how many were live."""
    client = redis_store.client
    index = f"usess:{kind}:{user_id}"
    hashes = client.smembers(index)
    pipe = client.pipeline(transaction=True)
    for th in hashes:
        pipe.delete(f"sess:{th.decode()}")
    pipe.delete(index)
    results = pipe.execute()
    return sum(1 for r in results[:-1] if r)


def store_session_key(worker_id: int, session_key: str) -> None:
    """WeChat's session_key stays server-side, for decrypting older clients' data."""
    redis_store.client.set(f"wxsk:{worker_id}", session_key, ex=3 * 24 * 3600)


def load_session_key(worker_id: int) -> str | None:
    raw = redis_store.client.get(f"wxsk:{worker_id}")
    return raw.decode() if raw else None


def forget_session_key(worker_id: int) -> None:
    redis_store.client.delete(f"wxsk:{worker_id}")
