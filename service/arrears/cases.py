"""The staff's side of wage arrears: the queue of reports, cases and their progress
(docs/contract.md §11).  Rights staff (``rights_staff``) and admins, each within
their organization subtree; a record outside it is 404.

Rules and error cases:
- Accept: ``submitted`` → ``accepted`` (409 ``invalid_state`` otherwise, also
  when someone else decided first).  The report joins its employer's open case
  in the report's organization — matched by credit code, else by normalised
  name (``employers``) — or opens one.  The join holds the case by a
  conditional ``UPDATE … WHERE status IN (open)`` (a case finished meanwhile
  is not joined); a new case is inserted in a savepoint and the partial unique
  index ``uq_arrears_cases_open`` turns a concurrent second opening into a
  join: one open case per employer and organization, under any concurrency.
  A report naming a credit code joins an open case found by its name even if
  that case was opened under another code: the name decides, the staff see
  both codes on the reports.
- Collective: once the ``workers_affected`` of a case's reports submitted in
  the last ``ARREARS_COLLECTIVE_DAYS`` days sum to ``ARREARS_COLLECTIVE_WORKERS``
  or more, the case becomes ``collective`` — once (``WHERE collective =
  false``) — with a step on its timeline and an alert (``arrears_alerts``) for
  the admins of its organization, shown as a banner in the console until one
  acknowledges it, and, in the same transaction, one ``arrears_collective``
  message in the outbox for each active admin whose reach covers the
  organization (of it, an ancestor or the whole federation) and who linked
  their WeChat (``service/auth/binding.py``), once per case and admin.
- Decline: ``submitted`` → ``declined`` with a reason the worker reads.
- Transition: ``accepted`` → ``coordinating`` | ``closed``; ``coordinating`` →
  ``referred`` | ``resolved`` | ``closed``; ``referred`` → ``resolved`` |
  ``closed``; anything else 409 ``invalid_state``.  ``referred`` names where
  (``referred_to``), ``resolved`` the amount recovered (and the day, today by
  default, never in the future), ``closed`` a note (422 without).  The move is
  one ``UPDATE … WHERE status = :from``: of concurrent moves exactly one
  happens, the others are 409.  A finished case closes its reports, which
  frees their workers to report the employer again.
- Every decision and move queues a message to each worker concerned and
  writes an audit row, in the same transaction.

Lock order (no deadlocks): case row → report rows.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Organization, db
from models.arrears import (
    CASE_MOVES,
    FINISHED_CASE_STATUSES,
    OPEN_CASE_STATUSES,
    ArrearsAlert,
    ArrearsCase,
    ArrearsEvidence,
    ArrearsReport,
)
from models.legal_aid import LegalAidBooking
from service.arrears import evidence as photos
from service.arrears.employers import employer_key
from service.arrears.errors import (
    AlertNotFound,
    CaseContention,
    CaseNotFound,
    EvidenceNotFound,
    ReportNotFound,
    ReportNotSubmitted,
    TransitionRefused,
)
from service.arrears.reports import load_report
from service.arrears.timeline import (
    CASE_STATUS_LABELS,
    DEFAULT_NOTES,
    REFERRAL_LABELS,
    record,
    tell_worker,
)
from service.auth import binding
from service.auth.permissions import Scope, subtree_ids
from service.common import clock
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.common.schemas import MAX_ID
from service.common.transaction import transactional
from service.errors import ValidationFailed
from service.notifications import outbox

log = logging.getLogger(__name__)

STAFF_ROLES = ("rights_staff",)
OPEN_ATTEMPTS = 5  # join-or-open rounds; each lost round means another acceptance just opened or finished the case


def _get(model, row_id: int):
    return db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def _report_in_scope(scope: Scope, report_id: int) -> ArrearsReport:
    report = _get(ArrearsReport, report_id)
    if report is None or not scope.allows(report.organization_id):
        raise ReportNotFound()
    return report


def _case_in_scope(scope: Scope, case_id: int) -> ArrearsCase:
    case = _get(ArrearsCase, case_id)
    if case is None or not scope.allows(case.organization_id):
        raise CaseNotFound()
    return case


def _within(stmt, column, scope: Scope, organization_id: int | None):
    """Rows of the caller's organizations; with ``organization_id``, of that subtree only."""
    stmt = stmt.where(scope.clause(column))
    if organization_id is not None:
        stmt = stmt.where(column.in_(subtree_ids(organization_id)))
    return stmt


def _employer_like(stmt, model, q: str | None):
    """``q`` found in the employer's name as typed, or in its normalised form."""
    if not q or not q.strip():
        return stmt
    matches = [model.employer_name.contains(q.strip(), autoescape=True)]
    key = employer_key(q)
    if key:
        matches.append(model.employer_key.contains(key, autoescape=True))
    return stmt.where(or_(*matches))


def load_case(case_id: int) -> ArrearsCase:
    """The case read afresh, with its reports, their workers and the timeline."""
    db.session.expire_all()
    return db.session.scalar(select(ArrearsCase).where(ArrearsCase.id == case_id).options(
        selectinload(ArrearsCase.reports).selectinload(ArrearsReport.worker)))


# --- the queue of reports ----------------------------------------------------------------

def queue(scope: Scope, args: dict) -> dict:
    """Reports of the caller's organizations; waiting ones oldest first, others newest first."""
    R = ArrearsReport
    stmt = _within(select(R), R.organization_id, scope, args.get("organization_id"))
    if args.get("status"):
        stmt = stmt.where(R.status == args["status"])
    stmt = _employer_like(stmt, R, args.get("q"))
    if args.get("status") == "submitted":
        stmt = stmt.order_by(R.created_at.asc(), R.id.asc())
    else:
        stmt = stmt.order_by(R.created_at.desc(), R.id.desc())
    stmt = stmt.options(selectinload(R.worker), selectinload(R.case).selectinload(ArrearsCase.events))
    return paginate(stmt, args["page"], args["per_page"])


def get_report(scope: Scope, report_id: int) -> ArrearsReport:
    return _report_in_scope(scope, report_id)


def _open_case_for(report: ArrearsReport) -> ArrearsCase | None:
    """The employer's open case in the report's organization: by credit code, else by name."""
    C = ArrearsCase
    open_here = select(C).where(C.organization_id == report.organization_id, C.status.in_(OPEN_CASE_STATUSES))
    if report.employer_credit_code:
        found = db.session.scalar(open_here.where(C.employer_credit_code == report.employer_credit_code)
                                  .order_by(C.id).limit(1))
        if found is not None:
            return found
    return db.session.scalar(open_here.where(C.employer_key == report.employer_key))


def _join_or_open(report: ArrearsReport, now: dt.datetime) -> tuple[ArrearsCase, bool]:
    """The case the report goes into, held for this transaction; → (case, opened)."""
    C = ArrearsCase
    for _ in range(OPEN_ATTEMPTS):
        case = _open_case_for(report)
        if case is not None:
            values: dict = {"updated_at": now}
            if case.employer_credit_code is None and report.employer_credit_code:
                values["employer_credit_code"] = report.employer_credit_code
            held = db.session.execute(
                update(C).where(C.id == case.id, C.status.in_(OPEN_CASE_STATUSES)).values(**values)
                .execution_options(synchronize_session=False)).rowcount
            db.session.expire(case)
            if held:
                return case, False
            continue  # finished meanwhile: look again
        case = ArrearsCase(organization_id=report.organization_id, employer_name=report.employer_name,
                           employer_key=report.employer_key, employer_credit_code=report.employer_credit_code,
                           status="accepted", collective=False, created_at=now, updated_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(case)
        except IntegrityError:
            continue  # another acceptance opened the employer's case first: join it
        return case, True
    raise CaseContention()


def _check_collective(case: ArrearsCase, now: dt.datetime) -> None:
    """Make the case collective (once) when its recent reports reach the threshold."""
    threshold = int(current_app.config["ARREARS_COLLECTIVE_WORKERS"])
    days = int(current_app.config["ARREARS_COLLECTIVE_DAYS"])
    R = ArrearsReport
    workers = db.session.scalar(select(func.coalesce(func.sum(R.workers_affected), 0)).where(
        R.case_id == case.id, R.created_at >= now - dt.timedelta(days=days))) or 0
    if workers < threshold:
        return
    became = db.session.execute(
        update(ArrearsCase).where(ArrearsCase.id == case.id, ArrearsCase.collective.is_(False))
        .values(collective=True, collective_at=now).execution_options(synchronize_session=False)).rowcount
    if not became:
        return
    record("collective", now, case_id=case.id,
           note=f"近 {days} 天内报工涉及职工 {workers} 人，达到群体性欠薪标准（{threshold} 人）")
    db.session.add(ArrearsAlert(case_id=case.id, organization_id=case.organization_id, kind="collective",
                                workers=workers, created_at=now))
    _tell_admins(case, int(workers), now)


def _tell_admins(case: ArrearsCase, workers: int, now: dt.datetime) -> None:
    """The ``arrears_collective`` message to each admin over the case's organization with a
    linked WeChat, in the caller's transaction; once per case and admin (its dedupe key)."""
    organization = db.session.get(Organization, case.organization_id)
    values = {"employer": case.employer_name, "workers": workers,
              "organization": organization.name if organization else "", "at": now,
              "remark": "群体性欠薪，请登录工作人员控制台处理"}
    for staff_id, worker_id in binding.alert_recipients(case.organization_id):
        outbox.enqueue(worker_id, "arrears_collective", values, dedupe_key=f"arrears-collective:{case.id}:{staff_id}")


@transactional
def accept(scope: Scope, report_id: int, staff_id: int | None) -> ArrearsReport:
    """Accept a waiting report into its employer's open case (or a new one); see the module's rules."""
    report = _report_in_scope(scope, report_id)
    if report.status != "submitted":
        raise ReportNotSubmitted("只有待受理的报工可以受理")
    now = clock.now()
    case, opened = _join_or_open(report, now)
    done = db.session.execute(
        update(ArrearsReport).where(ArrearsReport.id == report.id, ArrearsReport.status == "submitted")
        .values(status="accepted", case_id=case.id, decided_by_id=staff_id, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise ReportNotSubmitted("该报工已被处理或已被职工撤回")
    if opened:
        record("opened", now, case_id=case.id, to_status="accepted", staff_id=staff_id,
               note=f"由报工 {report.id} 立案")
    record("accepted", now, report_id=report.id, case_id=case.id, from_status="submitted", to_status="accepted",
           staff_id=staff_id)
    _check_collective(case, now)
    tell_worker(report, "arrears_accepted", "已受理", "工会已受理您的欠薪报工，将尽快与您联系", now,
                f"arrears-accepted:{report.id}")
    audit("arrears.report.accept", "arrears_report", report.id, organization_id=report.organization_id,
          details={"case_id": case.id, "opened": opened})
    db.session.commit()
    return load_report(report.id)


@transactional
def decline(scope: Scope, report_id: int, reason: str, staff_id: int | None) -> ArrearsReport:
    """``submitted`` → ``declined`` with the reason shown to the worker (409 ``invalid_state`` otherwise)."""
    report = _report_in_scope(scope, report_id)
    now = clock.now()
    done = db.session.execute(
        update(ArrearsReport).where(ArrearsReport.id == report.id, ArrearsReport.status == "submitted")
        .values(status="declined", decline_reason=reason, decided_by_id=staff_id, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise ReportNotSubmitted("只有待受理的报工可以不予受理")
    record("declined", now, report_id=report.id, from_status="submitted", to_status="declined", note=reason,
           staff_id=staff_id)
    tell_worker(report, "arrears_declined", "未受理", reason, now, f"arrears-declined:{report.id}")
    audit("arrears.report.decline", "arrears_report", report.id, organization_id=report.organization_id,
          details={"reason": reason})
    db.session.commit()
    return load_report(report.id)


# --- cases ---------------------------------------------------------------------------------

def _case_filters(scope: Scope, args: dict):
    C = ArrearsCase
    stmt = _within(select(C), C.organization_id, scope, args.get("organization_id"))
    if args.get("status"):
        stmt = stmt.where(C.status == args["status"])
    if args.get("collective") is not None:
        stmt = stmt.where(C.collective.is_(bool(args["collective"])))
    return _employer_like(stmt, C, args.get("q"))


def list_cases(scope: Scope, args: dict) -> dict:
    """Cases of the caller's organizations, newest first, with their reports and timeline."""
    C = ArrearsCase
    stmt = _case_filters(scope, args).order_by(C.created_at.desc(), C.id.desc())
    return paginate(stmt, args["page"], args["per_page"])


def get_case(scope: Scope, case_id: int) -> ArrearsCase:
    case = _case_in_scope(scope, case_id)
    return load_case(case.id)


def _referral_booking(scope: Scope, booking_id: int) -> int:
    """A legal-aid booking the case is referred with: it must exist within the caller's organizations."""
    booking = _get(LegalAidBooking, booking_id)
    if booking is None or not scope.allows(booking.slot.provider.organization_id):
        raise ValidationFailed({"legal_aid_booking_id": ["法律援助咨询预约不存在"]})
    return booking.id


def _resolution_day(case: ArrearsCase, day: dt.date | None) -> dt.date:
    today = clock.today_local()
    day = day or today
    if day > today:
        raise ValidationFailed({"resolved_on": ["解决日期不能晚于今天"]})
    if day < clock.to_local(case.created_at).date():
        raise ValidationFailed({"resolved_on": ["解决日期不能早于立案日期"]})
    return day


def _what_happened(to: str, note: str | None, values: dict) -> str:
    """The message's ``thing3``: the staff's note, else a plain sentence for the step."""
    if note:
        return note
    text = DEFAULT_NOTES.get(to, "").format(referral=REFERRAL_LABELS.get(values.get("referred_to"), ""))
    if to == "resolved":
        text += f"，追回工资 {values['amount_recovered']} 元"
    return text


@transactional
def transition(scope: Scope, case_id: int, data: dict, staff_id: int | None) -> ArrearsCase:
    """Move a case one step (see the module's rules); 409 ``invalid_state`` for an illegal
    or already-made move."""
    case = _case_in_scope(scope, case_id)
    current, to = case.status, data["to"]
    if to not in CASE_MOVES.get(current, ()):
        raise TransitionRefused(f"案件当前为“{CASE_STATUS_LABELS.get(current, current)}”，"
                                f"不能转为“{CASE_STATUS_LABELS.get(to, to)}”")
    now = clock.now()
    values: dict = {"status": to, "updated_at": now}
    if to == "referred":
        values["referred_to"] = data["referred_to"]
        if data.get("legal_aid_booking_id"):
            values["legal_aid_booking_id"] = _referral_booking(scope, data["legal_aid_booking_id"])
    if to == "resolved":
        values["amount_recovered"] = data["amount_recovered"]
        values["resolved_on"] = _resolution_day(case, data.get("resolved_on"))
    if to in FINISHED_CASE_STATUSES:
        values["finished_at"] = now
    C, R = ArrearsCase, ArrearsReport
    done = db.session.execute(update(C).where(C.id == case.id, C.status == current).values(**values)
                              .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise TransitionRefused("案件状态已被他人更新，请刷新后再试")
    if to in FINISHED_CASE_STATUSES:
        db.session.execute(update(R).where(R.case_id == case.id, R.status == "accepted")
                           .values(status="closed", updated_at=now).execution_options(synchronize_session=False))
    note = data.get("note")
    record("transition", now, case_id=case.id, from_status=current, to_status=to, note=note, staff_id=staff_id)
    what = _what_happened(to, note, values)
    for report in db.session.scalars(select(R).where(R.case_id == case.id, R.worker_id.is_not(None))):
        tell_worker(report, "arrears_progress", CASE_STATUS_LABELS[to], what, now,
                    f"arrears-progress:{report.id}:{to}")
    audit("arrears.case.transition", "arrears_case", case.id, organization_id=case.organization_id,
          details={"from": current, "to": to, "referred_to": values.get("referred_to"),
                   "amount_recovered": str(values["amount_recovered"]) if to == "resolved" else None})
    db.session.commit()
    return load_case(case.id)


# --- the spreadsheet ----------------------------------------------------------------------------

CASE_HEADERS = ["案件编号", "工会组织", "用人单位", "统一社会信用代码", "案件状态", "群体性欠薪", "报工份数",
                "涉及职工人数", "欠薪金额（元）", "移交部门", "追回金额（元）", "解决日期", "立案时间", "最近更新"]


def _yuan(value) -> float | None:
    return None if value is None else round(float(value), 2)


@transactional
def case_rows(scope: Scope, args: dict) -> tuple[list[str], list[list]]:
    """Every case the filters select (no pages), one row each with its reports summed;
    the export is audit-logged."""
    R = ArrearsReport
    cases = _case_filters(scope, args).subquery()
    stmt = (select(cases.c.id, Organization.name, cases.c.employer_name, cases.c.employer_credit_code,
                   cases.c.status, cases.c.collective, func.count(R.id),
                   func.coalesce(func.sum(R.workers_affected), 0), func.sum(R.amount_owed), cases.c.referred_to,
                   cases.c.amount_recovered, cases.c.resolved_on, cases.c.created_at, cases.c.updated_at)
            .join(Organization, Organization.id == cases.c.organization_id)
            .outerjoin(R, R.case_id == cases.c.id)
            .group_by(cases.c.id, Organization.name, cases.c.employer_name, cases.c.employer_credit_code,
                      cases.c.status, cases.c.collective, cases.c.referred_to, cases.c.amount_recovered,
                      cases.c.resolved_on, cases.c.created_at, cases.c.updated_at)
            .order_by(cases.c.created_at.desc(), cases.c.id.desc()))
    rows = []
    for (case_id, org, employer, code, status, collective, reporters, workers, owed, referred_to, recovered,
         resolved_on, created_at, updated_at) in db.session.execute(stmt):
        rows.append([case_id, org, employer, code or "", CASE_STATUS_LABELS.get(status, status),
                     "是" if collective else "否", reporters, int(workers), _yuan(owed),
                     REFERRAL_LABELS.get(referred_to, "") if referred_to else "", _yuan(recovered),
                     resolved_on, created_at, updated_at])  # date cells, in Beijing time
    audit("arrears.cases.export", "arrears_case", None, details={"rows": len(rows)})
    db.session.commit()
    return CASE_HEADERS, rows


# --- evidence, for staff ------------------------------------------------------------------------

def evidence_photo(scope: Scope, evidence_id: int) -> tuple[bytes, str]:
    """A report's photo, decrypted, for staff of the report's organization (404 otherwise)."""
    item = _get(ArrearsEvidence, evidence_id)
    if item is None or not scope.allows(item.report.organization_id):
        raise EvidenceNotFound()
    try:
        data = photos.open_sealed(item.content, item.key_version, item.report_id)
    except Exception:
        log.error("arrears evidence %s cannot be decrypted (key version %s)", item.id, item.key_version)
        raise EvidenceNotFound("照片暂时无法读取（加密密钥不可用）") from None
    return data, item.mime_type


# --- collective alerts ------------------------------------------------------------------------------

def open_alerts(scope: Scope, limit: int = 20) -> list[ArrearsAlert]:
    """Alerts of the caller's organizations that no admin acknowledged yet, newest first."""
    A = ArrearsAlert
    return list(db.session.scalars(select(A).where(scope.clause(A.organization_id), A.acknowledged_at.is_(None))
                                   .order_by(A.created_at.desc(), A.id.desc()).limit(limit)))


@transactional
def acknowledge_alert(scope: Scope, alert_id: int, staff_id: int | None) -> None:
    """An admin has seen the alert: it leaves the banner of every admin (audit-logged)."""
    alert = _get(ArrearsAlert, alert_id)
    if alert is None or not scope.allows(alert.organization_id):
        raise AlertNotFound()
    done = db.session.execute(
        update(ArrearsAlert).where(ArrearsAlert.id == alert.id, ArrearsAlert.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.now(), acknowledged_by_id=staff_id)
        .execution_options(synchronize_session=False)).rowcount
    if done:
        audit("arrears.alert.acknowledge", "arrears_case", alert.case_id, organization_id=alert.organization_id)
    db.session.commit()


# --- figures for the annual report ------------------------------------------------------------------

def annual_figures(scope: Scope, year: int) -> dict:
    """The year's wage-arrears figures within the caller's organizations:

    - ``reports``: reports submitted in the year (any outcome);
    - ``cases``: cases opened in the year;
    - ``resolved``: cases resolved in the year (by ``resolved_on``);
    - ``workers``: workers helped — the ``workers_affected`` of the reports of
      the cases resolved in the year, summed (a report speaks for its
      co-workers too, so distinct reporting accounts would undercount);
    - ``amount_recovered``: yuan recovered by the cases resolved in the year.

    A year runs from 1 January 00:00 to 1 January 00:00 in Asia/Shanghai.
    """
    start, end = clock.local(year, 1, 1), clock.local(year + 1, 1, 1)
    first, after = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    C, R = ArrearsCase, ArrearsReport
    reports = db.session.scalar(select(func.count(R.id)).where(
        R.created_at >= start, R.created_at < end, scope.clause(R.organization_id)))
    cases = db.session.scalar(select(func.count(C.id)).where(
        C.created_at >= start, C.created_at < end, scope.clause(C.organization_id)))
    resolved_in_year = (C.status == "resolved", C.resolved_on >= first, C.resolved_on < after,
                        scope.clause(C.organization_id))
    resolved, recovered = db.session.execute(
        select(func.count(C.id), func.sum(C.amount_recovered)).where(*resolved_in_year)).one()
    workers = db.session.scalar(select(func.coalesce(func.sum(R.workers_affected), 0))
                                .join(C, C.id == R.case_id).where(*resolved_in_year))
    return {"reports": reports or 0, "cases": cases or 0, "resolved": resolved or 0, "workers": int(workers or 0),
            "amount_recovered": _yuan(recovered or Decimal("0"))}
