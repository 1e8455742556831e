"""A staff member's own WeChat identity: their mini-program account linked to their
staff account (docs/contract.md §2), so that messages meant for staff reach them
through the outbox (a wage-arrears case becoming collective, §11).

Rules and error cases:
- A staff member asks for a binding code: six digits, valid
  ``STAFF_BINDING_CODE_SECONDS`` (10 minutes), kept in Redis only.  One live
  code per staff account: a new one replaces the old, which stops working at
  once.  Two staff accounts never hold the same live code (``SET NX``).
- A signed-in worker enters the code in the mini-program: the code is used up
  (one atomic step in Redis, so of two workers entering it at once one links)
  and the worker's account becomes the staff account's ``worker_id``.  A code
  that is wrong, expired, already used or whose staff account was disabled is
  422 ``binding_code_invalid``; a worker account already linked to another
  staff account is 409 ``wechat_already_bound`` (the database's unique index
  decides under concurrency), whatever code it enters, so the answer says
  nothing of other staff accounts' codes.  Entering codes is counted per worker
  (``RATELIMIT_STAFF_BINDING``, 429 ``rate_limited`` past it), so six digits
  are not guessed.  A staff account already linked to another worker account
  is linked to the new one: only the staff member could hand out the code.
- The code is used up before the link is written: a failure in between
  leaves the code spent (the staff member asks for another), never two links.
- Unlinking is the staff member's own (the console or the API); a worker's
  erasure (``DELETE /me``) unlinks too.  Linking and unlinking are
  audit-logged.
"""
from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Organization, StaffRole, StaffUser, Worker, db
from service.auth.errors import BindingCodeInvalid, WeChatAlreadyBound
from service.auth.permissions import ADMIN
from service.common import clock
from service.common.audit import record as audit
from service.common.transaction import transactional
from service.extensions import redis_store

CODE_KEY = "staffbind:code:"  # + code → the staff account's id
STAFF_KEY = "staffbind:staff:"  # + staff id → that account's live code
CODE_DIGITS = 6
ISSUE_ATTEMPTS = 20  # fresh codes tried when one is taken by another staff account's live code

# A new code for one staff account, atomically: taken only if no live code is the same
# (SET NX), the account's previous code dropped, the account pointed at the new one.
_ISSUE_LUA = """
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[3]) then return 0 end
local old = redis.call('GET', KEYS[1])
if old and old ~= ARGV[2] and redis.call('GET', ARGV[4] .. old) == ARGV[1] then
  redis.call('DEL', ARGV[4] .. old)
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

# Use a code up, atomically: → the staff id it was for, or false when it is not live.
_REDEEM_LUA = """
local staff = redis.call('GET', KEYS[1])
if not staff then return false end
redis.call('DEL', KEYS[1])
if redis.call('GET', ARGV[1] .. staff) == ARGV[2] then redis.call('DEL', ARGV[1] .. staff) end
return staff
"""

# Drop a staff account's live code, if any.
_DROP_LUA = """
local code = redis.call('GET', KEYS[1])
if code then
  redis.call('DEL', KEYS[1])
  if redis.call('GET', ARGV[1] .. code) == ARGV[2] then redis.call('DEL', ARGV[1] .. code) end
end
return 1
"""

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _seconds() -> int:
    return int(current_app.config["STAFF_BINDING_CODE_SECONDS"])


def issue_code(staff: StaffUser) -> dict:
    """A new binding code for ``staff``: ``{code, expires_in, expires_at}``; the previous one stops working."""
    seconds = _seconds()
    script = redis_store.script(_ISSUE_LUA)
    for _ in range(ISSUE_ATTEMPTS):
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        if script(keys=[f"{STAFF_KEY}{staff.id}", f"{CODE_KEY}{code}"], args=[staff.id, code, seconds, CODE_KEY]):
            return {"code": code, "expires_in": seconds, "expires_at": clock.now() + dt.timedelta(seconds=seconds)}
    raise RuntimeError("no free binding code found")  # a million codes: never, short of a broken Redis


def live_code(staff: StaffUser) -> dict | None:
    """The staff account's code still valid, ``{code, expires_in, expires_at}``, or None."""
    client = redis_store.client
    raw = client.get(f"{STAFF_KEY}{staff.id}")
    if raw is None:
        return None
    code = raw.decode()
    ttl = client.ttl(f"{CODE_KEY}{code}")
    if ttl is None or int(ttl) <= 0:
        return None
    return {"code": code, "expires_in": int(ttl), "expires_at": clock.now() + dt.timedelta(seconds=int(ttl))}


def _drop_code(staff_id: int) -> None:
    redis_store.script(_DROP_LUA)(keys=[f"{STAFF_KEY}{staff_id}"], args=[CODE_KEY, staff_id])


def normalise_code(code: str) -> str:
    """What the worker typed, as the six digits it stands for: blanks dropped, full-width digits read."""
    return "".join(str(code or "").translate(_FULL_WIDTH_DIGITS).split())


def linked_staff(worker_id: int) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.worker_id == worker_id))


@transactional
def bind(worker: Worker, code: str) -> StaffUser:
    """Link ``worker`` to the staff account whose live code this is (see the module's rules)."""
    code = normalise_code(code)
    if len(code) != CODE_DIGITS or not code.isdigit():
        raise BindingCodeInvalid()
    current = linked_staff(worker.id)
    if current is not None:  # only that staff account's own new code may be entered again
        pending = redis_store.client.get(f"{CODE_KEY}{code}")
        if pending is None or int(pending) != current.id:
            raise WeChatAlreadyBound()
    redeemed = redis_store.script(_REDEEM_LUA)(keys=[f"{CODE_KEY}{code}"], args=[STAFF_KEY, code])
    if redeemed is None:
        raise BindingCodeInvalid()
    staff = db.session.get(StaffUser, int(redeemed))
    if staff is None or staff.disabled:
        raise BindingCodeInvalid()
    if current is not None and current.id != staff.id:  # the code changed hands between the two reads
        raise WeChatAlreadyBound()
    staff.worker_id = worker.id
    staff.wechat_bound_at = clock.now()
    audit("staff.wechat_bind", "staff", staff.id, details={"username": staff.username})
    try:
        db.session.commit()
    except IntegrityError:  # the same worker linked to another staff account at the same moment
        db.session.rollback()
        raise WeChatAlreadyBound() from None
    return staff


@transactional
def unbind(staff: StaffUser) -> None:
    """Unlink the staff account's WeChat (a no-op when none is linked); a live code is dropped too."""
    if staff.worker_id is not None:
        staff.worker_id = None
        staff.wechat_bound_at = None
        audit("staff.wechat_unbind", "staff", staff.id, details={"username": staff.username})
        db.session.commit()
    _drop_code(staff.id)


def state(staff: StaffUser) -> dict:
    """The staff member's view of their binding: ``{wechat_bound, wechat_bound_at, code}``."""
    return {"wechat_bound": staff.worker_id is not None, "wechat_bound_at": staff.wechat_bound_at,
            "code": live_code(staff)}


def alert_recipients(organization_id: int) -> list[tuple[int, int]]:
    """``(staff id, worker id)`` of every active admin whose reach covers the organization
    (an admin of it, of an ancestor, or of the whole federation) and who linked a WeChat account."""
    org = db.session.get(Organization, organization_id)
    chain = [int(part) for part in (org.path if org else "").strip("/").split("/") if part] or [organization_id]
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.worker_id).join(StaffRole, StaffRole.staff_id == StaffUser.id)
        .where(StaffRole.role == ADMIN, or_(StaffRole.organization_id.is_(None), StaffRole.organization_id.in_(chain)),
               StaffUser.disabled.is_(False), StaffUser.worker_id.is_not(None))
        .distinct().order_by(StaffUser.id))
    return [(staff_id, worker_id) for staff_id, worker_id in rows]


# --- the worker's own data (service/worker_data.py) ----------------------------------------

def personal_data(worker_id: int) -> dict | None:
    """``GET /me/data``: the staff account this WeChat account is linked to, if any."""
    staff = linked_staff(worker_id)
    if staff is None:
        return None
    return {"staff_username": staff.username, "staff_display_name": staff.display_name,
            "bound_at": clock.isoformat(staff.wechat_bound_at)}


def erase_personal_data(worker_id: int) -> None:
    """``DELETE /me``: the link to a staff account is removed (the staff member may bind again)."""
    db.session.execute(update(StaffUser).where(StaffUser.worker_id == worker_id)
                       .values(worker_id=None, wechat_bound_at=None).execution_options(synchronize_session=False))
