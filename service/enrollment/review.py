"""Union enrollment, the reviewers' side: the queue, approve, reject, batch decisions and the member list.

Rules and error cases:
- ``enrollment_reviewer``/``admin`` act within their organization subtree;
  any other application is 404, so its existence does not leak.
- Approve ``pending`` → ``approved`` and create the membership with the next
  member number; reject ``pending`` → ``rejected`` with a reason shown to the
  worker.  Non-pending → 409 ``invalid_state``; an ID number that became an
  active member meanwhile → 409 ``already_member``.  Each decision queues the
  WeChat result message and an audit row in the same transaction.
- Batch review: up to 100 ids in one transaction, each in its own savepoint,
  with a result per id; rows are locked in (organization, id) order so that
  concurrent batches never deadlock.
- The member list: ID numbers and phones masked unless an admin asks ``full``
  (others asking get 403), and then whole only where the caller is admin; every
  export is audit-logged with its filters and size.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from models import Organization, StaffUser, db
from models.enrollment import EnrollmentApplication, Membership
from service.auth.permissions import Scope, scope_for, subtree_ids
from service.common import clock, pii
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.common.validators import MOBILE_RE, id_number_problem, normalise_id_number
from service.enrollment import numbering, rules
from service.enrollment.errors import (
    AlreadyMember,
    AlreadyReviewed,
    ApplicantErased,
    ApplicationNotFound,
    FullExportForbidden,
)
from service.enrollment.sensitive import ID_CONTEXT, ID_INDEX, PHONE_CONTEXT, PHONE_INDEX, shown
from service.errors import ServiceError
from service.notifications.outbox import enqueue

REVIEWER_ROLES = ("enrollment_reviewer",)


def _for_review(scope: Scope, application_id: int) -> EnrollmentApplication:
    application = db.session.get(EnrollmentApplication, application_id)
    if application is None or not scope.allows(application.organization_id):
        raise ApplicationNotFound()
    return application


def get_for_staff(staff: StaffUser, application_id: int) -> EnrollmentApplication:
    """An application in the reviewer's (or admin's) subtree; 404 for every other staff member."""
    scope = scope_for(staff, REVIEWER_ROLES)
    if scope is None:
        raise ApplicationNotFound()
    return _for_review(scope, application_id)


# --- filters shared by the queue and the member list ---------------------------------

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


def _search(stmt, q: str | None):
    """``q``: part of a name, or a whole ID number / mobile number (matched by blind index)."""
    if not q:
        return stmt
    A = EnrollmentApplication
    q = q.strip()
    number = normalise_id_number(q)
    if len(number) == 18 and id_number_problem(number) is None:
        return stmt.where(A.id_number_hash.in_(pii.blind_indexes(number, ID_INDEX)))
    phone = rules.normalise_phone(q)
    if MOBILE_RE.match(phone):
        return stmt.where(A.phone_hash.in_(pii.blind_indexes(phone, PHONE_INDEX)))
    return stmt.where(A.name.contains(q, autoescape=True))


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
    stmt = _search(stmt, args.get("q"))
    sort = args.get("sort") or ("submitted_at" if args.get("status") == "pending" else "-submitted_at")
    if sort == "submitted_at":
        stmt = stmt.order_by(A.submitted_at.asc(), A.id.asc())
    else:
        stmt = stmt.order_by(A.submitted_at.desc(), A.id.desc())
    stmt = stmt.options(joinedload(A.membership).lazyload(Membership.organization), joinedload(A.reviewer))
    return paginate(stmt, args["page"], args["per_page"])


# --- decisions ----------------------------------------------------------------------------

def _queue_result_message(application: EnrollmentApplication, approved: bool, at: dt.datetime,
                          member_no: str | None = None) -> None:
    """The "入会申请结果" subscribe message, in the caller's transaction.

    Named values (docs/contract.md §8): matter 申请事项, organization 工会组织,
    result 审核结果, reviewed_at 审核时间, remark 备注 (the member number, or the
    reason of a rejection), application_id.
    """
    values = {
        "matter": "工会入会申请",
        "organization": application.organization.name,
        "result": "已通过" if approved else "未通过",
        "reviewed_at": at,
        "remark": f"会员编号{member_no}" if approved else (application.reject_reason or "请查看申请详情"),
        "application_id": application.id,
    }
    enqueue(application.worker_id, "enrollment_approved" if approved else "enrollment_rejected", values,
            dedupe_key=f"enrollment:{application.id}:result")


def _approve(application: EnrollmentApplication, staff_id: int | None, now: dt.datetime) -> Membership:
    """Approve one application inside the caller's transaction (raises, never commits).

    The member-number counter is locked before the application row: every
    approval takes its locks in that order, so approvals never deadlock.  A
    failure leaves the increment to the caller's rollback (or savepoint).
    """
    if application.status != "pending":
        raise AlreadyReviewed()
    if application.id_number_hash is None:
        raise ApplicantErased()
    year = clock.to_local(now).year
    member_no = numbering.next_member_no(application.organization_id, year)
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == application.id, EnrollmentApplication.status == "pending")
        .values(status="approved", reviewed_at=now, reviewer_id=staff_id)
        .execution_options(synchronize_session="fetch"))
    if result.rowcount != 1:  # decided meanwhile by someone else
        raise AlreadyReviewed()
    id_hashes = pii.matching_indexes(application.id_number_hash, application.id_number_enc, ID_CONTEXT, ID_INDEX)
    taken = db.session.scalar(select(Membership.id).where(
        Membership.status == "active",
        or_(Membership.id_number_hash.in_(id_hashes), Membership.worker_id == application.worker_id)).limit(1))
    if taken is not None:
        raise AlreadyMember()
    membership = Membership(
        member_no=member_no, worker_id=application.worker_id, application_id=application.id,
        organization_id=application.organization_id, name=application.name, gender=application.gender,
        occupation=application.occupation, id_number_hash=id_hashes[0], status="active",
        year=year, joined_at=now)
    db.session.add(membership)
    db.session.flush()
    _queue_result_message(application, True, now, member_no)
    audit("enrollment.approve", "enrollment_application", application.id,
          organization_id=application.organization_id, details={"member_no": member_no})
    return membership


def _reject(application: EnrollmentApplication, reason: str, staff_id: int | None, now: dt.datetime) -> None:
    if application.status != "pending":
        raise AlreadyReviewed()
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == application.id, EnrollmentApplication.status == "pending")
        .values(status="rejected", reviewed_at=now, reviewer_id=staff_id, reject_reason=reason)
        .execution_options(synchronize_session="fetch"))
    if result.rowcount != 1:
        raise AlreadyReviewed()
    _queue_result_message(application, False, now)
    audit("enrollment.reject", "enrollment_application", application.id,
          organization_id=application.organization_id, details={"reason": reason})


def approve(scope: Scope, application_id: int, staff_id: int | None) -> EnrollmentApplication:
    """Approve: ``pending`` → ``approved`` + membership; 404 outside scope; 409 otherwise."""
    application = _for_review(scope, application_id)
    try:
        _approve(application, staff_id, clock.now())
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    except IntegrityError:  # the ID number became a member meanwhile
        db.session.rollback()
        raise AlreadyMember() from None
    return application


def reject(scope: Scope, application_id: int, reason: str, staff_id: int) -> EnrollmentApplication:
    """Reject with a reason shown to the worker; 404 outside scope; 409 when not pending."""
    application = _for_review(scope, application_id)
    try:
        _reject(application, reason.strip(), staff_id, clock.now())
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    return application


def _failure(application_id: int, err: ServiceError) -> dict:
    return {"id": application_id, "ok": False, "code": err.code, "message": err.message}


def batch_review(scope: Scope, action: str, ids: list[int], reason: str | None, staff_id: int) -> dict:
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
    for application in visible:
        try:
            with db.session.begin_nested():
                if action == "approve":
                    membership = _approve(application, staff_id, now)
                    results[application.id] = {"id": application.id, "ok": True, "status": "approved",
                                               "member_no": membership.member_no}
                else:
                    _reject(application, (reason or "").strip(), staff_id, now)
                    results[application.id] = {"id": application.id, "ok": True, "status": "rejected"}
        except ServiceError as err:
            results[application.id] = _failure(application.id, err)
        except IntegrityError:
            results[application.id] = _failure(application.id, AlreadyMember())
    db.session.commit()
    out = [results.get(application_id) or _failure(application_id, ApplicationNotFound())
           for application_id in wanted]
    succeeded = sum(1 for r in out if r["ok"])
    return {"results": out, "succeeded": succeeded, "failed": len(out) - succeeded}


# --- the member list ------------------------------------------------------------------------

EXPORT_HEADERS = ["会员编号", "姓名", "性别", "身份证号", "手机号", "职业", "工作单位/平台", "工作区域",
                  "所属工会", "入会时间", "会员状态", "申请提交时间"]
MEMBERSHIP_STATUS_LABELS = {"active": "正常", "suspended": "暂停", "terminated": "已终止"}
_LONG_NUMBER = re.compile(r"\d{6}")


def _scope_top(scope: Scope) -> int | None:
    """The highest organization of a scope (for audit rows of scope-wide actions)."""
    if scope.org_ids is None:
        return None
    return db.session.scalar(select(Organization.id).where(Organization.id.in_(scope.org_ids))
                             .order_by(func.length(Organization.path), Organization.id).limit(1))


def _audit_export(scope: Scope, args: dict, full: bool, rows: int, unmasked: int) -> None:
    """The audit row of one export: its filters (an ID number or phone searched for masked),
    its size and how many rows were unmasked."""
    filters = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
               for k, v in args.items() if k != "full" and v is not None}
    if filters.get("q") and _LONG_NUMBER.search(filters["q"]):
        filters["q"] = pii.mask(filters["q"].strip())  # an ID number or phone searched for: never in the log
    # the filter's organization names the audit row only when it exists and is the caller's
    # (a filter on an unknown id just exports nothing; it must not break the audit row's key)
    org_id = args.get("organization_id")
    if org_id is None or not scope.allows(org_id) or db.session.get(Organization, org_id) is None:
        org_id = _scope_top(scope)
    details = {"full": full, "rows": rows, "filters": filters}
    if full:
        details["unmasked_rows"] = unmasked
    audit("enrollment.export_full" if full else "enrollment.export", "membership", None,
          organization_id=org_id, details=details)
    db.session.commit()


def export_members(scope: Scope, args: dict) -> tuple[list[str], Iterator[list]]:
    """The member list of the caller's subtree: ``(headers, rows)`` for a spreadsheet (Chinese headers).

    ``full`` is for admins: 403 at once for anyone holding no admin role, and an
    admin's ID numbers and phones are whole only in the rows of organizations
    where they are admin (a district admin who also reviews for the city sees
    the other districts' rows masked).  Rows are streamed from the database in
    chunks; once the last one has been read, the export is audit-logged with
    its size and committed.
    """
    full = bool(args.get("full"))
    admin = scope.only("admin") if full else None
    if full and admin is None:
        raise FullExportForbidden()
    M, A = Membership, EnrollmentApplication
    stmt = (select(M.member_no, M.name, M.gender, M.occupation, A.occupation_other, A.employer, A.work_region,
                   Organization.name, M.joined_at, M.status, A.submitted_at, A.id_number_enc, A.phone_enc,
                   M.organization_id)
            .join(A, A.id == M.application_id)
            .join(Organization, Organization.id == M.organization_id))
    stmt = _org_filter(stmt, M.organization_id, scope, args.get("organization_id"))
    if args.get("status"):
        stmt = stmt.where(M.status == args["status"])
    if args.get("occupation"):
        stmt = stmt.where(M.occupation == args["occupation"])
    stmt = _range(stmt, A.submitted_at, args.get("submitted_from"), args.get("submitted_to"))
    stmt = _range(stmt, M.joined_at, args.get("joined_from"), args.get("joined_to"))
    stmt = _search(stmt, args.get("q"))
    stmt = stmt.order_by(M.joined_at, M.id).execution_options(yield_per=500)

    def rows():
        count = unmasked = 0
        for (member_no, name, gender, occupation, other, employer, region, org_name, joined_at, status,
             submitted_at, id_enc, phone_enc, org_id) in db.session.execute(stmt):
            count += 1
            whole = admin is not None and admin.allows(org_id)
            unmasked += whole
            yield [member_no, name, rules.GENDER_LABELS.get(gender or "", ""),
                   shown(id_enc, ID_CONTEXT, full=whole), shown(phone_enc, PHONE_CONTEXT, full=whole),
                   rules.occupation_label(occupation, other), employer, region, org_name,
                   joined_at, MEMBERSHIP_STATUS_LABELS.get(status, status), submitted_at]  # date cells
        _audit_export(scope, args, full, count, unmasked)

    return EXPORT_HEADERS, rows()
