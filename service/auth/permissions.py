"""Who may call what.  Views declare it with one decorator; none checks roles by hand.

- ``@require_auth``: any signed-in user (``g.identity``).
- ``@require_worker``: a worker (``g.identity``, ``g.worker``).
- ``@require_worker_session``: a worker's session (``g.identity``) without
  reading the worker's row, for a hot path whose statements are tied to the
  worker's id themselves (the breakfast check-in).
- ``@require_staff_account``: any active staff member, whatever their roles
  (``g.identity``, ``g.staff``), for what concerns their own account.
- ``@require_staff("enrollment_reviewer")``: a staff member holding one of the
  roles (``admin`` always qualifies); ``g.scope`` is then the set of
  organizations those roles reach, used by services to filter and check.
- ``@limit_per_client("RATELIMIT_NEARBY")``: an anonymous endpoint's limit per
  client address, counted by one Redis script.

401 ``unauthenticated`` for a missing, expired or revoked token; 403
``forbidden`` for the wrong kind of user or a missing role.  A record outside
the caller's organizations is answered 404 by the services, so its existence
does not leak.
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import redis.exceptions
from flask import current_app, g, request
from flask_smorest.utils import deepupdate
from limits import parse as parse_limit
from sqlalchemy import select, true

from models import Organization, StaffUser, Worker, db
from service.auth import sessions
from service.auth.errors import SessionExpired, StaffSessionEnded, WorkersOnly
from service.errors import Forbidden, NotFound, RateLimited, Unauthenticated
from service.extensions import client_address_key, redis_store

log = logging.getLogger(__name__)

ADMIN = "admin"
# The roles as the console and the audit log name them.
ROLE_LABELS = {"admin": "管理员", "enrollment_reviewer": "入会审核员", "legal_aid_staff": "法律援助专员",
               "station_manager": "驿站管理员", "breakfast_manager": "早餐管理员",
               "rights_staff": "职工维权专员"}


@dataclass
class Scope:
    """The organizations a staff member reaches for the roles a view needs.

    ``org_ids is None`` means the whole federation.  ``by_role`` is each role's
    own reach, when the roles reach different organizations (``only``).
    """

    roles: frozenset[str]
    org_ids: frozenset[int] | None
    by_role: dict[str, frozenset[int] | None] | None = None

    def only(self, role: str) -> Scope | None:
        """The part of this scope that ``role`` reaches, or None when it is not held
        (an admin of one district who reviews for the city is an admin in the district only)."""
        if role not in self.roles:
            return None
        reach = self.org_ids if self.by_role is None else self.by_role[role]
        return Scope(frozenset({role}), reach)

    def allows(self, org_id: int | None) -> bool:
        if self.org_ids is None:
            return True
        return org_id is not None and org_id in self.org_ids

    def require(self, org_id: int | None) -> None:
        """404 for a record outside the scope (never reveal that it exists)."""
        if not self.allows(org_id):
            raise NotFound()

    def clause(self, column):
        """A WHERE clause restricting ``column`` (an organization id) to the scope."""
        if self.org_ids is None:
            return true()
        return column.in_(self.org_ids)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def subtree_ids(org_id: int) -> set[int]:
    org = db.session.get(Organization, org_id)
    if org is None:
        return set()
    return set(db.session.scalars(select(Organization.id).where(Organization.path.like(org.path + "%"))))


def scope_for(staff: StaffUser, roles: tuple[str, ...]) -> Scope | None:
    wanted = set(roles) | {ADMIN}
    held = [r for r in staff.roles if r.role in wanted]
    if not held:
        return None
    by_role: dict[str, set[int] | None] = {}
    for role in held:
        if role.organization_id is None:
            by_role[role.role] = None
        elif by_role.setdefault(role.role, set()) is not None:
            by_role[role.role] |= subtree_ids(role.organization_id)
    reach = list(by_role.values())
    org_ids = None if None in reach else frozenset().union(*reach)
    return Scope(frozenset(by_role), org_ids,
                 {name: None if ids is None else frozenset(ids) for name, ids in by_role.items()})


def worker_limit(setting: str) -> sessions.WorkerLimit:
    """The limit a ``RATELIMIT_*`` setting (``"20 per minute"``) describes, parsed once per value:
    per worker for ``require_worker(limit=…)``, per client address for ``limit_per_client``."""
    value = current_app.config[setting]
    cache = current_app.extensions.setdefault("worker_limits", {})
    found = cache.get((setting, value))
    if found is None:
        item = parse_limit(value)
        found = cache[(setting, value)] = sessions.WorkerLimit(setting.removeprefix("RATELIMIT_").lower(),
                                                               item.amount, item.get_expiry())
    return found


def current_identity(limit: str | None = None) -> sessions.Identity:
    """The caller, or 401.  Cached on ``g`` for the request.  With ``limit`` (a
    ``RATELIMIT_*`` setting), a worker's request is counted against that per-worker
    limit in the same Redis round trip that reads the session: 429 past it."""
    if "identity" in g and g.identity is not None:
        return g.identity
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthenticated()
    limited = worker_limit(limit) if limit and current_app.config["RATELIMIT_ENABLED"] else None
    identity = sessions.resolve(header[7:].strip(), limited)
    if identity is None:
        raise SessionExpired()
    g.identity = identity
    if identity.retry_after is not None:
        raise RateLimited(headers={"Retry-After": str(identity.retry_after)})
    return identity


def worker_identity(limit: str | None = None) -> sessions.Identity:
    """The calling worker's session, or 401/403 (429 past ``limit``); the worker's row is not read."""
    identity = current_identity(limit)
    if identity.kind != "worker":
        raise WorkersOnly()
    return identity


def load_worker(limit: str | None = None) -> Worker:
    identity = worker_identity(limit)
    worker = db.session.get(Worker, identity.user_id)
    if worker is None or worker.erased_at is not None:
        sessions.revoke(identity.token_hash)
        raise SessionExpired()
    g.worker = worker
    return worker


def load_staff() -> StaffUser:
    identity = current_identity()
    if identity.kind != "staff":
        raise Forbidden()
    staff = db.session.get(StaffUser, identity.user_id)
    if staff is None or staff.disabled:
        sessions.revoke_all("staff", identity.user_id)
        raise StaffSessionEnded()
    identity.roles = [(r.role, r.organization_id) for r in staff.roles]
    g.staff = staff
    return staff


def _document(wrapper, roles: tuple[str, ...] | None = None):
    doc = {"security": [{"bearer": []}]}
    if roles:
        note = "需要角色：" + "、".join(sorted(set(roles) | {ADMIN}))
        existing = getattr(wrapper, "_apidoc", {}).get("manual_doc", {}).get("description")
        doc["description"] = f"{existing}\n\n{note}" if existing else note
    wrapper._apidoc = deepupdate(getattr(wrapper, "_apidoc", {}), {"manual_doc": doc})
    return wrapper


def require_auth(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        identity = current_identity()
        if identity.kind == "worker":
            load_worker()
        else:
            load_staff()
        return fn(*args, **kwargs)
    return _document(wrapper)


def _checked_by(check, fn):
    """``fn`` behind ``check()`` (which raises 401/403), documented as needing a bearer token."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        check()
        return fn(*args, **kwargs)
    return _document(wrapper)


def require_worker(fn=None, *, limit: str | None = None):
    """A signed-in worker (``g.worker``).  ``@require_worker(limit="RATELIMIT_PHONE")``
    also counts the request against that per-worker limit (429 past it)."""
    if fn is None:
        return lambda f: _checked_by(functools.partial(load_worker, limit), f)
    return _checked_by(load_worker, fn)


def require_worker_session(fn=None, *, limit: str | None = None):
    """A worker's valid session (``g.identity``), without reading the worker's row.

    For hot paths whose own statements tie every read and write to
    ``g.identity.user_id`` through a link the erasure removes (erasing a
    worker also revokes their sessions), so a worker row is never needed.
    With ``limit``, as ``require_worker``: one Redis round trip for both.
    """
    if fn is None:
        return lambda f: _checked_by(functools.partial(worker_identity, limit), f)
    return _checked_by(worker_identity, fn)


def require_staff_account(fn):
    """Any active staff member (``g.staff``): their own account's business, no role needed."""
    return _checked_by(load_staff, fn)


# One round trip: count the request in the client's fixed window (opened by its
# first request) and answer -1, or the seconds left in the window once it is used up.
_CLIENT_LIMIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return -1 end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if ttl < 1 then ttl = 1 end
return ttl
"""
# After Redis failed to answer, requests are let through uncounted for this long
# rather than each waiting for a connection attempt of its own.
REDIS_DOWN_PAUSE_SECONDS = 5.0


def count_per_client(setting: str) -> None:
    """Count the request against the ``RATELIMIT_*`` limit ``setting`` for the client's
    address (``client_address_key``, after ``PROXY_HOPS``); 429 ``rate_limited`` with
    ``Retry-After`` past it.  While Redis does not answer the request is not counted
    and goes on (docs/deploy.md): the endpoints limited so need nothing else of Redis."""
    app = current_app
    if not app.config["RATELIMIT_ENABLED"]:
        return
    paused_until = app.extensions.get("client_limits_paused_until")
    if paused_until is not None and time.monotonic() < paused_until:
        return
    limit = worker_limit(setting)
    try:
        wait = redis_store.script(_CLIENT_LIMIT_LUA)(
            keys=[f"clim:{limit.kind}:{client_address_key()}"], args=[limit.amount, limit.seconds])
    except redis.exceptions.RedisError as err:
        app.extensions["client_limits_paused_until"] = time.monotonic() + REDIS_DOWN_PAUSE_SECONDS
        log.warning("per-client limit not counted for %.0f s, Redis unavailable: %s", REDIS_DOWN_PAUSE_SECONDS,
                    type(err).__name__)
        return
    if wait >= 0:
        raise RateLimited(headers={"Retry-After": str(wait)})


def limit_per_client(setting: str):
    """View decorator: ``count_per_client(setting)`` before anything else of the view
    (a request refused for its arguments counts too)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            count_per_client(setting)
            return fn(*args, **kwargs)
        return wrapper
    return deco


def require_staff(*roles: str):
    """Require one of ``roles`` (or admin); sets ``g.scope``."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            staff = load_staff()
            scope = scope_for(staff, roles)
            if scope is None:
                raise Forbidden()
            g.scope = scope
            return fn(*args, **kwargs)
        return _document(wrapper, roles)
    return deco


def optional_identity() -> sessions.Identity | None:
    """The caller if a valid token came with the request, else None (public endpoints)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return current_identity()
    except Unauthenticated:
        return None
