"""Sign-in, phone binding and staff accounts.

Rules and error cases:
- WeChat login: a code works once; WeChat's refusals map to 401
  ``wechat_code_invalid``, 429 ``rate_limited``, 403 ``wechat_user_blocked``,
  503 ``wechat_unavailable``.  The worker is found by openid or created.
- Phone binding: the number comes only from WeChat (new code flow, or older
  clients' encrypted data decrypted with the server-side session key).
- Staff login: 5 failures for one username within 15 minutes lock it for
  the rest of the window (429 ``rate_limited``), the right password included;
  otherwise a wrong username or password is 401 ``invalid_credentials``.
- Staff accounts (CLI): 422 for a bad username, password or role, 409
  ``username_taken``; disabling an unknown username is 404.
"""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from models import Organization, StaffRole, StaffUser, Worker, db
from models.user import STAFF_ROLES
from service.auth import sessions
from service.auth.errors import (
    InvalidCredentials,
    LoginLocked,
    PhoneInvalid,
    SessionKeyExpired,
    StaffNotFound,
    UsernameTaken,
)
from service.auth.permissions import ROLE_LABELS
from service.common import clock, pii
from service.common.audit import record as audit
from service.common.validators import MOBILE_RE
from service.errors import ValidationFailed
from service.extensions import redis_store
from service.wechat_gateway import wechat_gateway
from wechat.crypto import decrypt_user_data

PASSWORD_METHOD = "scrypt"
WORKER_PHONE_CONTEXT = "worker.phone"  # the encryption context of a worker's bound phone
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
_DUMMY_HASH = None


# --- workers -----------------------------------------------------------------

def wechat_login(code: str) -> dict:
    session = wechat_gateway.code_to_session(code)
    openid = session["openid"]
    worker = db.session.scalar(select(Worker).where(Worker.openid == openid))
    is_new = worker is None
    now = clock.now()
    if worker is None:
        worker = Worker(openid=openid, unionid=session.get("unionid"), created_at=now, last_login_at=now)
        db.session.add(worker)
        try:
            db.session.commit()
        except IntegrityError:  # the same user logging in twice at once
            db.session.rollback()
            worker = db.session.scalar(select(Worker).where(Worker.openid == openid))
            is_new = False
    if not is_new:
        worker.last_login_at = now
        if session.get("unionid") and not worker.unionid:
            worker.unionid = session["unionid"]
        db.session.commit()
    sessions.store_session_key(worker.id, session["session_key"])
    token, ttl = sessions.create("worker", worker.id)
    return {"token": token, "expires_in": ttl, "is_new_user": is_new, "worker": worker}


def bind_phone(worker: Worker, code: str | None = None, encrypted_data: str | None = None,
               iv: str | None = None) -> str:
    if code:
        info = wechat_gateway.get_phone_number(code)
    else:
        session_key = sessions.load_session_key(worker.id)
        if not session_key:
            raise SessionKeyExpired()
        info = decrypt_user_data(session_key, encrypted_data, iv, current_app.config["WECHAT_APPID"])
    phone = str(info.get("purePhoneNumber") or info.get("phoneNumber") or "")
    country = str(info.get("countryCode") or "86")
    if country != "86" or not MOBILE_RE.match(phone):
        raise PhoneInvalid()
    worker.phone_enc = pii.encrypt(phone, WORKER_PHONE_CONTEXT)
    worker.phone_hash = pii.blind_index(phone, "phone")
    worker.phone_verified_at = clock.now()
    db.session.commit()
    return phone


def worker_phone(worker: Worker) -> str | None:
    return pii.decrypt_optional(worker.phone_enc, WORKER_PHONE_CONTEXT)


# --- staff -------------------------------------------------------------------

def me_for_staff(staff: StaffUser) -> dict:
    """``GET /me`` of a staff member: the same shape as a worker's, with the roles."""
    return {"id": staff.id, "kind": "staff", "username": staff.username, "display_name": staff.display_name,
            "roles": [{"role": r.role, "organization_id": r.organization_id} for r in staff.roles],
            "phone": None, "membership": None, "breakfast_eligible": False,
            "wechat_bound": staff.worker_id is not None}


def roles_named(staff: StaffUser) -> list[tuple[str, str]]:
    """The staff member's roles as a clerk reads them: (role, organization), the whole federation
    named as such."""
    ids = {r.organization_id for r in staff.roles if r.organization_id is not None}
    names = dict(db.session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(ids)))
                 .all()) if ids else {}
    return [(ROLE_LABELS.get(r.role, r.role),
             names.get(r.organization_id, "") if r.organization_id is not None else "全市（所有工会组织）")
            for r in staff.roles]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def _lock_key(username: str) -> str:
    return f"stafflock:{username.strip().lower()}"


# One attempt counted, atomically: the window starts at the first attempt and is
# not extended by later ones.  → (attempts in the window, seconds it has left).
_COUNT_ATTEMPT = """
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {attempts, redis.call('TTL', KEYS[1])}
"""


def _count_attempt(username: str) -> None:
    """Count this attempt before any password is checked: past ``STAFF_LOCKOUT_ATTEMPTS``
    in the window → 429 ``rate_limited``, so however many arrive at once, at most that
    many passwords are ever tried."""
    cfg = current_app.config
    attempts, ttl = redis_store.client.eval(_COUNT_ATTEMPT, 1, _lock_key(username), int(cfg["STAFF_LOCKOUT_SECONDS"]))
    if int(attempts) > int(cfg["STAFF_LOCKOUT_ATTEMPTS"]):
        wait = max(int(ttl), 1)
        raise LoginLocked(details={"retry_after": wait}, headers={"Retry-After": str(wait)})


def authenticate_staff(username: str, password: str) -> StaffUser:
    """The staff account for these credentials, or 401/429.

    Every attempt is counted first (``_count_attempt``); a successful one clears
    the count, so only failures add up to the lockout."""
    global _DUMMY_HASH
    _count_attempt(username)
    # no username holds a NUL (create_staff's pattern), and PostgreSQL cannot even compare one
    staff = None if "\x00" in username else db.session.scalar(
        select(StaffUser).where(StaffUser.username == username.strip()))
    if staff is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASH, password)  # same time as a real check
        ok = False
    else:
        ok = check_password_hash(staff.password_hash, password) and not staff.disabled
    if not ok:
        raise InvalidCredentials()
    redis_store.client.delete(_lock_key(username))
    return staff


def staff_login(username: str, password: str) -> dict:
    staff = authenticate_staff(username, password)
    token, ttl = sessions.create("staff", staff.id, staff.username)
    return {"token": token, "expires_in": ttl, "user": me_for_staff(staff)}


def create_staff(username: str, password: str, roles: list[tuple[str, int | None]],
                 display_name: str | None = None) -> StaffUser:
    errors = {}
    if not USERNAME_RE.match(username or ""):
        errors["username"] = ["用户名为 3-64 位字母、数字或 _.@-"]
    if len(password or "") < 8:
        errors["password"] = ["密码至少 8 位"]
    for role, _ in roles:
        if role not in STAFF_ROLES:
            errors["role"] = [f"未知角色：{role}"]
    if errors:
        raise ValidationFailed(errors)
    if db.session.scalar(select(StaffUser).where(StaffUser.username == username)):
        raise UsernameTaken()
    staff = StaffUser(username=username, password_hash=hash_password(password),
                      display_name=display_name, created_at=clock.now())
    staff.roles = [StaffRole(role=r, organization_id=o) for r, o in roles]
    db.session.add(staff)
    audit("staff.create", "staff", None, details={"username": username, "roles": [r for r, _ in roles]})
    db.session.commit()
    return staff


def disable_staff(username: str) -> int:
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is None:
        raise StaffNotFound()
    staff.disabled = True
    audit("staff.disable", "staff", staff.id, details={"username": username})
    db.session.commit()
    return sessions.revoke_all("staff", staff.id)
