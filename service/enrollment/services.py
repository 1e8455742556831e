"""Union enrollment: apply, withdraw, review, member cards and the member export.

Rules and error cases:
- Apply (worker): every field checked like a government form (``rules``), else
  422 with one message per bad field.  409 ``application_pending`` while the
  caller, or anyone with the same ID number, has a pending application; 409
  ``already_member`` when the ID number (or the caller) is an active member.
  Partial unique indexes keep both true under concurrency; a lost race is
  answered with the same 409s.
- Withdraw (owner): ``pending`` → ``withdrawn``; otherwise 409 ``invalid_state``;
  someone else's application is 404.
- Review (``enrollment_reviewer``/``admin`` within their organization subtree;
  others 404): approve ``pending`` → ``approved`` and create the membership with
  the next member number; reject ``pending`` → ``rejected`` with a reason shown
  to the worker.  Non-pending → 409 ``invalid_state``; an ID number that became
  an active member meanwhile → 409 ``already_member``.  Each decision queues the
  WeChat result message and an audit row in the same transaction.
- Batch review: up to 100 ids in one transaction, each in its own savepoint,
  with a result per id; rows are locked in (organization, id) order so that
  concurrent batches never deadlock.
- Personal data: the ID number and phone are stored AES-GCM encrypted with
  HMAC blind indexes, shown masked everywhere but the worker's own export
  (``GET /me/data``); erasure blanks them and the name but keeps the rows, so
  counts by occupation, organization and year stay right.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from models import Organization, StaffUser, Worker, db
from models.enrollment import EnrollmentApplication, Membership
from service.auth.permissions import Scope, scope_for, subtree_ids
from service.common import clock, pii
from service.common.audit import record as audit
from service.common.excel import xlsx_response
from service.common.pagination import paginate
from service.common.validators import MOBILE_RE, id_number_problem, normalise_id_number
from service.enrollment import numbering, rules
from service.errors import Forbidden, InvalidState, NotFound, ServiceError, ValidationFailed, error_type
from service.notifications.outbox import enqueue

log = logging.getLogger(__name__)

ID_CONTEXT = "enrollment.id_number"
PHONE_CONTEXT = "enrollment.phone"
ID_INDEX = "id_number"
PHONE_INDEX = "phone"
ERASED_NAME = "已注销用户"
REVIEWER_ROLES = ("enrollment_reviewer",)

ApplicationPending = error_type("application_pending", 409, "您已有一份入会申请正在审核中，请耐心等待审核结果")
AlreadyMember = error_type("already_member", 409, "该身份证号已是工会会员，无需重复申请")
NotAMember = error_type("not_a_member", 404, "您还不是工会会员")

_APPLICATION_NOT_FOUND = "入会申请不存在"


# --- presentation ------------------------------------------------------------

def _decrypt(token: str | None, context: str) -> str | None:
    if token is None:
        return None
    try:
        return pii.decrypt(token, context)
    except Exception:  # a key no longer configured: show nothing rather than fail
        log.warning("cannot decrypt %s (key version %s)", context, pii.key_version(token))
        return None


def application_view(app: EnrollmentApplication, *, for_staff: bool = False, full: bool = False) -> dict:
    """An application as the API shows it: ID number and phone masked unless ``full``."""
    id_number = _decrypt(app.id_number_enc, ID_CONTEXT)
    phone = _decrypt(app.phone_enc, PHONE_CONTEXT)
    reviewer = app.reviewer if for_staff and app.reviewer_id else None
    return {
        "id": app.id,
        "status": app.status,
        "name": app.name,
        "gender": app.gender,
        "id_number": id_number if full else pii.mask(id_number),
        "phone": phone if full else pii.mask(phone),
        "occupation": app.occupation,
        "occupation_label": rules.occupation_label(app.occupation),
        "occupation_other": app.occupation_other,
        "employer": app.employer,
        "work_region": app.work_region,
        "organization_id": app.organization_id,
        "organization": {"id": app.organization.id, "name": app.organization.name},
        "consent_version": app.consent_version,
        "consented_at": app.consented_at,
        "submitted_at": app.submitted_at,
        "reviewed_at": app.reviewed_at,
        "reviewed_by": (reviewer.display_name or reviewer.username) if reviewer else None,
        "reject_reason": app.reject_reason,
        "withdrawn_at": app.withdrawn_at,
        "member_no": app.membership.member_no if app.membership is not None else None,
    }


def card_view(m: Membership) -> dict:
    return {
        "member_no": m.member_no,
        "name": m.name,
        "organization": m.organization.name,
        "organization_id": m.organization_id,
        "occupation": m.occupation,
        "occupation_label": rules.occupation_label(m.occupation),
        "joined_at": m.joined_at,
        "status": m.status,
    }


# --- the worker's side ---------------------------------------------------------

def _check_conflicts(worker_id: int, id_hash: str) -> None:
    pending = db.session.scalars(
        select(EnrollmentApplication.worker_id).where(
            EnrollmentApplication.status == "pending",
            or_(EnrollmentApplication.worker_id == worker_id, EnrollmentApplication.id_number_hash == id_hash))
    ).all()
    if worker_id in pending:
        raise ApplicationPending()
    if pending:
        raise ApplicationPending("该身份证号已有入会申请正在审核中，请勿重复提交")
    members = db.session.scalars(
        select(Membership.worker_id).where(
            Membership.status == "active",
            or_(Membership.id_number_hash == id_hash, Membership.worker_id == worker_id))).all()
    if worker_id in members:
        raise AlreadyMember("您已是工会会员，无需重复申请")
    if members:
        raise AlreadyMember()


def submit_application(worker: Worker, data: dict) -> dict:
    """Apply to join; → the new ``pending`` application (masked)."""
    notice_version = current_app.config["PRIVACY_NOTICE_VERSION"]
    errors = rules.application_problems(data, clock.today_local(), notice_version)
    if errors:
        raise ValidationFailed(errors)
    id_number = normalise_id_number(data["id_number"])
    phone = rules.normalise_phone(data["phone"])
    id_hash = pii.blind_index(id_number, ID_INDEX)
    _check_conflicts(worker.id, id_hash)
    now = clock.now()
    id_enc = pii.encrypt(id_number, ID_CONTEXT)
    occupation = data["occupation"]
    app = EnrollmentApplication(
        worker_id=worker.id, organization_id=data["organization_id"], status="pending",
        name=rules.normalise_name(data["name"]), gender=data["gender"],
        id_number_enc=id_enc, id_number_hash=id_hash,
        phone_enc=pii.encrypt(phone, PHONE_CONTEXT), phone_hash=pii.blind_index(phone, PHONE_INDEX),
        pii_key_version=pii.key_version(id_enc),
        occupation=occupation,
        occupation_other=(data.get("occupation_other") or "").strip() or None if occupation == "other" else None,
        employer=data["employer"].strip(), work_region=data["work_region"].strip(),
        consent_version=notice_version, consented_at=now, submitted_at=now)
    db.session.add(app)
    try:
        db.session.commit()
    except IntegrityError:  # lost a race against the partial unique indexes
        db.session.rollback()
        _check_conflicts(worker.id, id_hash)
        raise ApplicationPending("该身份证号已有入会申请正在审核中，请勿重复提交") from None
    return application_view(app)


def my_applications(worker: Worker, page: int, per_page: int) -> dict:
    """The caller's applications, newest first (the history is kept)."""
    stmt = (select(EnrollmentApplication)
            .where(EnrollmentApplication.worker_id == worker.id)
            .options(selectinload(EnrollmentApplication.membership))
            .order_by(EnrollmentApplication.submitted_at.desc(), EnrollmentApplication.id.desc()))
    result = paginate(stmt, page, per_page)
    result["items"] = [application_view(a) for a in result["items"]]
    return result


def _owned(worker: Worker, application_id: int) -> EnrollmentApplication:
    app = db.session.get(EnrollmentApplication, application_id)
    if app is None or app.worker_id != worker.id:
        raise NotFound(_APPLICATION_NOT_FOUND)
    return app


def get_for_worker(worker: Worker, application_id: int) -> dict:
    """The caller's own application; anyone else's is 404."""
    return application_view(_owned(worker, application_id))


def get_for_staff(staff: StaffUser, application_id: int) -> dict:
    """An application in the reviewer's (or admin's) subtree; 404 for every other staff member."""
    scope = scope_for(staff, REVIEWER_ROLES)
    if scope is None:
        raise NotFound(_APPLICATION_NOT_FOUND)
    return application_view(_for_review(scope, application_id), for_staff=True)


def withdraw(worker: Worker, application_id: int) -> dict:
    """``pending`` → ``withdrawn`` by its owner; 409 ``invalid_state`` otherwise."""
    app = _owned(worker, application_id)
    now = clock.now()
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == app.id, EnrollmentApplication.status == "pending")
        .values(status="withdrawn", withdrawn_at=now))
    if result.rowcount != 1:
        db.session.rollback()
        raise InvalidState("只有审核中的申请可以撤回")
    db.session.commit()
    return application_view(app)


def _current_membership(worker_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.worker_id == worker_id)
        .order_by((Membership.status == "active").desc(), Membership.joined_at.desc()).limit(1))


def membership_card(worker: Worker) -> dict:
    """The electronic member card, or 404 ``not_a_member``."""
    membership = _current_membership(worker.id)
    if membership is None:
        raise NotAMember()
    return card_view(membership)


# --- the reviewer's side ---------------------------------------------------------

def _for_review(scope: Scope, application_id: int) -> EnrollmentApplication:
    app = db.session.get(EnrollmentApplication, application_id)
    if app is None or not scope.allows(app.organization_id):
        raise NotFound(_APPLICATION_NOT_FOUND)
    return app


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI)


def _range(stmt, column, start, end):
    """``start``/``end`` are dates (whole local days, inclusive) or aware datetimes (inclusive)."""
    if start is not None:
        stmt = stmt.where(column >= (start if isinstance(start, dt.datetime) else _day_start(start)))
    if end is not None:
        if isinstance(end, dt.datetime):
            stmt = stmt.where(column <= end)
        else:
            stmt = stmt.where(column < _day_start(end + dt.timedelta(days=1)))
    return stmt


def _org_filter(stmt, column, scope: Scope, organization_id: int | None):
    stmt = stmt.where(scope.clause(column))
    if organization_id is not None:
        stmt = stmt.where(column.in_(subtree_ids(organization_id)))
    return stmt


def _search(stmt, model, q: str | None):
    """``q``: part of a name, or a whole ID number / mobile number (matched by blind index)."""
    if not q:
        return stmt
    q = q.strip()
    number = normalise_id_number(q)
    if len(number) == 18 and id_number_problem(number) is None:
        return stmt.where(model.id_number_hash == pii.blind_index(number, ID_INDEX))
    phone = rules.normalise_phone(q)
    if MOBILE_RE.match(phone) and hasattr(model, "phone_hash"):
        return stmt.where(model.phone_hash == pii.blind_index(phone, PHONE_INDEX))
    return stmt.where(model.name.contains(q, autoescape=True))


def review_queue(scope: Scope, args: dict) -> dict:
    """Applications in the caller's subtree, filtered; one count and one page query.

    Served by ``ix_enrollment_applications_org_status_submitted`` (scoped
    reviewers) and ``ix_enrollment_applications_status_submitted`` (the whole
    federation).  Pending ones come oldest first (a queue), others newest first.
    """
    A = EnrollmentApplication
    stmt = _org_filter(select(A), A.organization_id, scope, args.get("organization_id"))
    if args.get("status"):
        stmt = stmt.where(A.status == args["status"])
    if args.get("occupation"):
        stmt = stmt.where(A.occupation == args["occupation"])
    stmt = _range(stmt, A.submitted_at, args.get("submitted_from"), args.get("submitted_to"))
    stmt = _search(stmt, A, args.get("q"))
    sort = args.get("sort") or ("submitted_at" if args.get("status") == "pending" else "-submitted_at")
    if sort == "submitted_at":
        stmt = stmt.order_by(A.submitted_at.asc(), A.id.asc())
    else:
        stmt = stmt.order_by(A.submitted_at.desc(), A.id.desc())
    stmt = stmt.options(joinedload(A.membership).lazyload(Membership.organization), joinedload(A.reviewer))
    result = paginate(stmt, args["page"], args["per_page"])
    result["items"] = [application_view(a, for_staff=True) for a in result["items"]]
    return result


def _queue_result_message(app: EnrollmentApplication, approved: bool, at: dt.datetime,
                          member_no: str | None = None) -> None:
    """The "入会申请结果" subscribe message, in the caller's transaction.

    Template keywords: thing1 申请事项, thing2 工会组织, phrase3 审核结果,
    time4 审核时间, thing5 备注 (member number, or the reason of a rejection).
    """
    data = {
        "thing1": "工会入会申请",
        "thing2": app.organization.name,
        "phrase3": "已通过" if approved else "未通过",
        "time4": at,
        "thing5": f"会员编号{member_no}" if approved else (app.reject_reason or "请查看申请详情"),
    }
    enqueue(app.worker_id, "enrollment_approved" if approved else "enrollment_rejected", data,
            page="pages/enrollment/card/index" if approved else f"pages/enrollment/application/index?id={app.id}",
            dedupe_key=f"enrollment:{app.id}:result")


def _approve(app: EnrollmentApplication, staff_id: int | None, now: dt.datetime) -> Membership:
    """Approve one application inside the caller's transaction (raises, never commits).

    The member-number counter is locked before the application row: every
    approval takes its locks in that order, so approvals never deadlock.  A
    failure leaves the increment to the caller's rollback (or savepoint).
    """
    if app.status != "pending":
        raise InvalidState("该申请已处理，不能重复审核")
    if app.id_number_hash is None:
        raise InvalidState("该申请的个人信息已删除，无法审核")
    year = clock.to_local(now).year
    member_no = numbering.next_member_no(app.organization_id, year)
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == app.id, EnrollmentApplication.status == "pending")
        .values(status="approved", reviewed_at=now, reviewer_id=staff_id)
        .execution_options(synchronize_session="fetch"))
    if result.rowcount != 1:  # decided meanwhile by someone else
        raise InvalidState("该申请已处理，不能重复审核")
    taken = db.session.scalar(select(Membership.id).where(
        Membership.status == "active",
        or_(Membership.id_number_hash == app.id_number_hash, Membership.worker_id == app.worker_id)).limit(1))
    if taken is not None:
        raise AlreadyMember()
    membership = Membership(
        member_no=member_no, worker_id=app.worker_id, application_id=app.id,
        organization_id=app.organization_id, name=app.name, gender=app.gender,
        occupation=app.occupation, id_number_hash=app.id_number_hash, status="active",
        year=year, joined_at=now)
    db.session.add(membership)
    db.session.flush()
    _queue_result_message(app, True, now, member_no)
    audit("enrollment.approve", "enrollment_application", app.id, organization_id=app.organization_id,
          details={"member_no": member_no})
    return membership


def _reject(app: EnrollmentApplication, reason: str, staff_id: int | None, now: dt.datetime) -> None:
    if app.status != "pending":
        raise InvalidState("该申请已处理，不能重复审核")
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == app.id, EnrollmentApplication.status == "pending")
        .values(status="rejected", reviewed_at=now, reviewer_id=staff_id, reject_reason=reason)
        .execution_options(synchronize_session="fetch"))
    if result.rowcount != 1:
        raise InvalidState("该申请已处理，不能重复审核")
    _queue_result_message(app, False, now)
    audit("enrollment.reject", "enrollment_application", app.id, organization_id=app.organization_id,
          details={"reason": reason})


def approve(scope: Scope, application_id: int, staff_id: int | None) -> dict:
    """Approve: ``pending`` → ``approved`` + membership; 404 outside scope; 409 otherwise."""
    app = _for_review(scope, application_id)
    try:
        _approve(app, staff_id, clock.now())
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    except IntegrityError:  # the ID number became a member meanwhile
        db.session.rollback()
        raise AlreadyMember() from None
    return application_view(app, for_staff=True)


def reject(scope: Scope, application_id: int, reason: str, staff_id: int | None) -> dict:
    """Reject with a reason shown to the worker; 404 outside scope; 409 when not pending."""
    app = _for_review(scope, application_id)
    try:
        _reject(app, reason.strip(), staff_id, clock.now())
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    return application_view(app, for_staff=True)


def batch_review(scope: Scope, action: str, ids: list[int], reason: str | None, staff_id: int | None) -> dict:
    """Approve or reject up to 100 applications in one transaction, with a result per id.

    An id outside the caller's scope (or unknown) is ``not_found``; a
    non-pending one ``invalid_state``; an ID number already a member
    ``already_member``.  Failures never undo the others (one savepoint each).
    """
    wanted = list(dict.fromkeys(ids))
    found = db.session.scalars(select(EnrollmentApplication).where(EnrollmentApplication.id.in_(wanted))).all()
    visible = sorted((a for a in found if scope.allows(a.organization_id)), key=lambda a: (a.organization_id, a.id))
    now = clock.now()
    results: dict[int, dict] = {}
    for app in visible:
        try:
            with db.session.begin_nested():
                if action == "approve":
                    membership = _approve(app, staff_id, now)
                    results[app.id] = {"id": app.id, "ok": True, "status": "approved",
                                       "member_no": membership.member_no}
                else:
                    _reject(app, (reason or "").strip(), staff_id, now)
                    results[app.id] = {"id": app.id, "ok": True, "status": "rejected"}
        except ServiceError as err:
            results[app.id] = {"id": app.id, "ok": False, "code": err.code, "message": err.message}
        except IntegrityError:
            err = AlreadyMember()
            results[app.id] = {"id": app.id, "ok": False, "code": err.code, "message": err.message}
    db.session.commit()
    out = []
    for application_id in wanted:
        out.append(results.get(application_id) or {
            "id": application_id, "ok": False, "code": "not_found", "message": _APPLICATION_NOT_FOUND})
    succeeded = sum(1 for r in out if r["ok"])
    return {"results": out, "succeeded": succeeded, "failed": len(out) - succeeded}


# --- export ----------------------------------------------------------------------

EXPORT_HEADERS = ["会员编号", "姓名", "性别", "身份证号", "手机号", "职业", "工作单位/平台", "工作区域",
                  "所属工会", "入会时间", "会员状态", "申请提交时间"]
MEMBERSHIP_STATUS_LABELS = {"active": "正常", "suspended": "暂停", "terminated": "已终止"}


def _scope_top(scope: Scope) -> int | None:
    """The highest organization of a scope (for audit rows of scope-wide actions)."""
    if scope.org_ids is None:
        return None
    return db.session.scalar(select(Organization.id).where(Organization.id.in_(scope.org_ids))
                             .order_by(func.length(Organization.path), Organization.id).limit(1))


_LONG_NUMBER = re.compile(r"\d{6}")


def export_members(scope: Scope, args: dict):
    """Members in the caller's subtree as an xlsx download (Chinese headers).

    ID numbers and phones are masked unless an admin asks ``full`` (others
    asking get 403); every export is audit-logged with its filters (an ID number
    or phone searched for masked) and size.
    Rows are streamed from the database in chunks.
    """
    full = bool(args.get("full"))
    if full and not scope.has_role("admin"):
        raise Forbidden("仅管理员可以导出完整的身份证号和手机号")
    M, A = Membership, EnrollmentApplication
    stmt = (select(M.member_no, M.name, M.gender, M.occupation, A.occupation_other, A.employer, A.work_region,
                   Organization.name, M.joined_at, M.status, A.submitted_at, A.id_number_enc, A.phone_enc)
            .join(A, A.id == M.application_id)
            .join(Organization, Organization.id == M.organization_id))
    stmt = _org_filter(stmt, M.organization_id, scope, args.get("organization_id"))
    if args.get("status"):
        stmt = stmt.where(M.status == args["status"])
    if args.get("occupation"):
        stmt = stmt.where(M.occupation == args["occupation"])
    stmt = _range(stmt, A.submitted_at, args.get("submitted_from"), args.get("submitted_to"))
    stmt = _range(stmt, M.joined_at, args.get("joined_from"), args.get("joined_to"))
    stmt = _search(stmt, A, args.get("q"))
    stmt = stmt.order_by(M.joined_at, M.id).execution_options(yield_per=500)

    count = 0

    def rows():
        nonlocal count
        for (member_no, name, gender, occupation, other, employer, region, org_name, joined_at, status,
             submitted_at, id_enc, phone_enc) in db.session.execute(stmt):
            count += 1
            id_number = _decrypt(id_enc, ID_CONTEXT)
            phone = _decrypt(phone_enc, PHONE_CONTEXT)
            yield [member_no, name, rules.GENDER_LABELS.get(gender or "", ""),
                   id_number if full else pii.mask(id_number), phone if full else pii.mask(phone),
                   rules.occupation_label(occupation, other), employer, region, org_name,
                   clock.to_local(joined_at).strftime("%Y-%m-%d %H:%M"),
                   MEMBERSHIP_STATUS_LABELS.get(status, status),
                   clock.to_local(submitted_at).strftime("%Y-%m-%d %H:%M") if submitted_at else None]

    stamp = clock.local_now().strftime("%Y%m%d%H%M")
    response = xlsx_response(f"工会会员名单-{stamp}.xlsx", ascii_name=f"members-{stamp}.xlsx", sheets={"会员名单": (EXPORT_HEADERS, rows())})
    filters = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
               for k, v in args.items() if k != "full" and v is not None}
    if filters.get("q") and _LONG_NUMBER.search(filters["q"]):
        filters["q"] = pii.mask(filters["q"].strip())  # an ID number or phone searched for: never in the log
    # the filter's organization names the audit row only when it exists and is the caller's
    # (a filter on an unknown id just exports nothing; it must not break the audit row's key)
    org_id = args.get("organization_id")
    if org_id is None or not scope.allows(org_id) or db.session.get(Organization, org_id) is None:
        org_id = _scope_top(scope)
    audit("enrollment.export_full" if full else "enrollment.export", "membership", None,
          organization_id=org_id,
          details={"full": full, "rows": count, "filters": filters})
    db.session.commit()
    return response


# --- hooks into the worker-wide use cases ---------------------------------------------

def profile_fields(worker: Worker) -> dict:
    """``GET /me``: the brief member card (no personal data beyond the member number)."""
    membership = _current_membership(worker.id)
    if membership is None:
        return {"membership": None}
    return {"membership": {
        "member_no": membership.member_no,
        "organization": membership.organization.name,
        "occupation": membership.occupation,
        "status": membership.status,
        "joined_at": clock.isoformat(membership.joined_at),
    }}


def personal_data(worker_id: int) -> dict:
    """``GET /me/data``: every application and membership, decrypted for the worker alone."""
    apps = db.session.scalars(select(EnrollmentApplication)
                              .where(EnrollmentApplication.worker_id == worker_id)
                              .order_by(EnrollmentApplication.id)).all()
    out_apps = []
    for app in apps:
        view = application_view(app, full=True)
        out_apps.append({k: (clock.isoformat(v) if isinstance(v, dt.datetime) else v) for k, v in view.items()})
    memberships = db.session.scalars(select(Membership).where(Membership.worker_id == worker_id)
                                     .order_by(Membership.id)).all()
    out_members = [{k: (clock.isoformat(v) if isinstance(v, dt.datetime) else v) for k, v in card_view(m).items()}
                   for m in memberships]
    return {"applications": out_apps, "memberships": out_members}


def erase_personal_data(worker_id: int) -> None:
    """``DELETE /me``: blank the name, ID number, phone and free text; a pending
    application is withdrawn.  Rows, occupations, organizations and dates stay,
    so every count stays right; the member number is never reused."""
    now = clock.now()
    A, M = EnrollmentApplication, Membership
    # conditional, so that an approval committed meanwhile is never overwritten
    db.session.execute(update(A).where(A.worker_id == worker_id, A.status == "pending")
                       .values(status="withdrawn", withdrawn_at=now)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(A).where(A.worker_id == worker_id)
                       .values(name=ERASED_NAME, id_number_enc=None, id_number_hash=None, phone_enc=None,
                               phone_hash=None, pii_key_version=None, occupation_other=None, employer=None,
                               work_region=None, reject_reason=None, erased_at=now)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(M).where(M.worker_id == worker_id)
                       .values(name=ERASED_NAME, id_number_hash=None, erased_at=now)
                       .execution_options(synchronize_session=False))
