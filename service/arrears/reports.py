"""The worker's side of wage-arrears reports (欠薪报工), docs/contract.md §11.

Rules and error cases:
- Submit: a worker with a bound phone only (409 ``phone_required``: staff
  must be able to call back); the organization must exist (422 on
  ``organization_id``).  409 ``report_pending`` while the worker has an open
  report (``submitted``, or ``accepted`` into a case not yet finished) on the
  same employer, matched by normalised name; the partial unique index
  ``uq_arrears_reports_open`` keeps that true under concurrency, and a lost
  race is answered with the same 409.
- Evidence: the owner adds JPEG/PNG photos while the report is ``submitted``
  (409 ``invalid_state`` afterwards), at most three (422 on ``file``): the
  count moves only through ``UPDATE … WHERE evidence_count < 3 AND status =
  'submitted'``, backed by a CHECK, so parallel uploads never make a fourth.
  Anything that does not decode as an image is 422 (see ``evidence``).
- Withdraw: ``submitted`` → ``withdrawn`` by a conditional update; any other
  state is 409 ``invalid_state``.  Someone else's report is 404.
- Personal data: ``personal_data`` shows the worker's reports decrypted;
  ``erase_personal_data`` withdraws reports still waiting, blanks the work
  address and description, deletes the photos and unlinks the worker, and
  keeps employer, amounts, counts and the case (the figures stay right).
"""
from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Organization, Worker, db
from models.arrears import EVIDENCE_MAX_FILES, ArrearsCase, ArrearsEvidence, ArrearsReport
from service.arrears import evidence as photos
from service.arrears.employers import employer_key
from service.arrears.errors import PhoneRequired, ReportNotFound, ReportNotSubmitted, ReportPending
from service.arrears.timeline import REPORT_STATUS_LABELS, record
from service.common import clock, pii
from service.common.pagination import paginate
from service.common.schemas import MAX_ID
from service.common.transaction import transactional
from service.errors import ValidationFailed

ADDRESS_CONTEXT = "arrears.work_address"
DESCRIPTION_CONTEXT = "arrears.description"


def _with_timeline(stmt):
    """Load what a report's response shows in a fixed number of queries."""
    return stmt.options(selectinload(ArrearsReport.case).selectinload(ArrearsCase.events))


def _own_report(worker: Worker, report_id: int) -> ArrearsReport:
    report = db.session.get(ArrearsReport, report_id) if 0 < report_id <= MAX_ID else None
    if report is None or report.worker_id != worker.id:
        raise ReportNotFound()
    return report


def load_report(report_id: int) -> ArrearsReport:
    """The report read afresh (after conditional updates changed it in SQL), with what its response shows."""
    db.session.expire_all()
    return db.session.scalar(_with_timeline(select(ArrearsReport).where(ArrearsReport.id == report_id)))


@transactional
def submit(worker: Worker, data: dict) -> ArrearsReport:
    """A new report, ``submitted``.  409 ``phone_required`` / ``report_pending``;
    422 for an unknown organization."""
    if not worker.phone_hash:
        raise PhoneRequired()
    if db.session.get(Organization, data["organization_id"]) is None:
        raise ValidationFailed({"organization_id": ["工会组织不存在"]})
    key = employer_key(data["employer_name"])
    code = data.get("employer_credit_code")
    same_employer = ArrearsReport.employer_key == key
    if code:
        same_employer = or_(same_employer, ArrearsReport.employer_credit_code == code)
    pending = db.session.scalar(select(ArrearsReport.id).where(
        ArrearsReport.worker_id == worker.id, same_employer,
        ArrearsReport.status.in_(("submitted", "accepted"))).limit(1))
    if pending is not None:
        raise ReportPending()
    now = clock.now()
    report = ArrearsReport(
        worker_id=worker.id, organization_id=data["organization_id"], employer_name=data["employer_name"],
        employer_key=key, employer_credit_code=data.get("employer_credit_code"),
        work_address_enc=pii.encrypt(data["work_address"], ADDRESS_CONTEXT),
        period_from=data["period_from"], period_to=data["period_to"], amount_owed=data["amount_owed"],
        workers_affected=data["workers_affected"],
        description_enc=pii.encrypt(data["description"], DESCRIPTION_CONTEXT),
        status="submitted", evidence_count=0, created_at=now, updated_at=now)
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError:
        raise ReportPending() from None
    record("submitted", now, report_id=report.id, to_status="submitted")
    db.session.commit()
    return load_report(report.id)


@transactional
def add_evidence(worker: Worker, report_id: int, storage) -> ArrearsEvidence:
    """Attach one photo to the worker's ``submitted`` report (see the module's rules)."""
    report = _own_report(worker, report_id)
    if report.status != "submitted":
        raise ReportNotSubmitted("报工已进入办理或已结束，不能再补充照片")
    if report.evidence_count >= EVIDENCE_MAX_FILES:
        raise ValidationFailed({"file": [f"每份报工最多上传 {EVIDENCE_MAX_FILES} 张照片"]})
    photo = photos.check_photo(photos.read_upload(storage))
    counted = db.session.execute(
        update(ArrearsReport)
        .where(ArrearsReport.id == report.id, ArrearsReport.status == "submitted",
               ArrearsReport.evidence_count < EVIDENCE_MAX_FILES)
        .values(evidence_count=ArrearsReport.evidence_count + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if not counted:
        status = db.session.scalar(select(ArrearsReport.status).where(ArrearsReport.id == report.id))
        if status != "submitted":
            raise ReportNotSubmitted("报工已进入办理或已结束，不能再补充照片")
        raise ValidationFailed({"file": [f"每份报工最多上传 {EVIDENCE_MAX_FILES} 张照片"]})
    key_version, sealed = photos.seal(photo.data, report.id)
    item = ArrearsEvidence(report_id=report.id, mime_type=photo.mime_type, size=len(photo.data),
                           width=photo.width, height=photo.height, key_version=key_version, content=sealed,
                           created_at=clock.now())
    db.session.add(item)
    db.session.commit()
    return item


def mine(worker: Worker, args: dict) -> dict:
    """The worker's reports, newest first, each with its case's state and timeline."""
    stmt = _with_timeline(select(ArrearsReport).where(ArrearsReport.worker_id == worker.id))
    if args.get("status"):
        stmt = stmt.where(ArrearsReport.status == args["status"])
    return paginate(stmt.order_by(ArrearsReport.created_at.desc(), ArrearsReport.id.desc()),
                    args["page"], args["per_page"])


def get_mine(worker: Worker, report_id: int) -> ArrearsReport:
    return _own_report(worker, report_id)


@transactional
def withdraw(worker: Worker, report_id: int) -> ArrearsReport:
    """``submitted`` → ``withdrawn``; otherwise 409 ``invalid_state``."""
    report = _own_report(worker, report_id)
    now = clock.now()
    done = db.session.execute(
        update(ArrearsReport).where(ArrearsReport.id == report.id, ArrearsReport.status == "submitted")
        .values(status="withdrawn", updated_at=now).execution_options(synchronize_session=False)).rowcount
    if not done:
        raise ReportNotSubmitted("只有待受理的报工可以撤回")
    record("withdrawn", now, report_id=report.id, from_status="submitted", to_status="withdrawn")
    db.session.commit()
    return load_report(report.id)


# --- PIPL: the worker's data and its erasure ------------------------------------------------

def personal_data(worker_id: int) -> list[dict]:
    """The worker's reports, with their work address and description decrypted."""
    reports = db.session.scalars(select(ArrearsReport).where(ArrearsReport.worker_id == worker_id)
                                 .order_by(ArrearsReport.id))
    return [{"id": r.id, "status": r.status, "status_label": REPORT_STATUS_LABELS.get(r.status),
             "organization": r.organization.name, "employer_name": r.employer_name,
             "employer_credit_code": r.employer_credit_code,
             "work_address": pii.decrypt_optional(r.work_address_enc, ADDRESS_CONTEXT),
             "period_from": r.period_from, "period_to": r.period_to, "amount_owed": str(r.amount_owed),
             "workers_affected": r.workers_affected,
             "description": pii.decrypt_optional(r.description_enc, DESCRIPTION_CONTEXT),
             "decline_reason": r.decline_reason, "evidence_photos": r.evidence_count,
             "case_status": r.case.status if r.case is not None else None,
             "created_at": clock.isoformat(r.created_at)} for r in reports]


def erase_personal_data(worker_id: int) -> None:
    """PIPL deletion (inside the caller's transaction): waiting reports are withdrawn;
    the work address, description and photos of every report are removed and the
    worker unlinked; employer, period, amount, workers affected and the case stay."""
    now = clock.now()
    own_ids = select(ArrearsReport.id).where(ArrearsReport.worker_id == worker_id).scalar_subquery()
    waiting = list(db.session.scalars(select(ArrearsReport.id).where(
        ArrearsReport.worker_id == worker_id, ArrearsReport.status == "submitted")))
    for report_id in waiting:
        record("withdrawn", now, report_id=report_id, from_status="submitted", to_status="withdrawn",
               note="职工注销了个人信息")
    db.session.execute(delete(ArrearsEvidence).where(ArrearsEvidence.report_id.in_(own_ids))
                       .execution_options(synchronize_session=False))
    db.session.execute(
        update(ArrearsReport).where(ArrearsReport.id.in_(waiting)).values(status="withdrawn")
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(ArrearsReport).where(ArrearsReport.worker_id == worker_id)
        .values(worker_id=None, work_address_enc=None, description_enc=None, evidence_count=0, erased_at=now,
                updated_at=now)
        .execution_options(synchronize_session=False))
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, (ArrearsReport, ArrearsEvidence)):
            db.session.expire(obj)
