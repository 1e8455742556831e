"""Union enrollment, the worker's side: apply, see and withdraw one's applications, the member card.

Rules and error cases:
- Apply: every field checked like a government form (``rules``), else 422 with
  one message per bad field.  409 ``application_pending`` while the caller, or
  anyone with the same ID number, has a pending application; 409
  ``already_member`` when the ID number (or the caller) is an active member.
  Partial unique indexes keep both true under concurrency; a lost race is
  answered with the same 409s.
- Withdraw (owner): ``pending`` → ``withdrawn``; otherwise 409 ``invalid_state``;
  someone else's application is 404.
- The ID number and phone are sealed (``sensitive``) and shown masked.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Worker, db
from models.enrollment import EnrollmentApplication, Membership
from service.common import clock, pii
from service.common.pagination import paginate
from service.common.validators import normalise_id_number
from service.enrollment import rules
from service.enrollment.errors import (
    AlreadyMember,
    ApplicationNotFound,
    ApplicationPending,
    CallerIsMember,
    IdNumberPending,
    NotAMember,
    NotWithdrawable,
)
from service.enrollment.sensitive import ID_CONTEXT, ID_INDEX, PHONE_CONTEXT, PHONE_INDEX
from service.errors import ValidationFailed


def _check_conflicts(worker_id: int, id_hashes: list[str]) -> None:
    """409s for the caller or the ID number (its index under every configured key) pending or a member."""
    pending = db.session.scalars(
        select(EnrollmentApplication.worker_id).where(
            EnrollmentApplication.status == "pending",
            or_(EnrollmentApplication.worker_id == worker_id, EnrollmentApplication.id_number_hash.in_(id_hashes)))
    ).all()
    if worker_id in pending:
        raise ApplicationPending()
    if pending:
        raise IdNumberPending()
    members = db.session.scalars(
        select(Membership.worker_id).where(
            Membership.status == "active",
            or_(Membership.id_number_hash.in_(id_hashes), Membership.worker_id == worker_id))).all()
    if worker_id in members:
        raise CallerIsMember()
    if members:
        raise AlreadyMember()


def submit_application(worker: Worker, data: dict) -> EnrollmentApplication:
    """Apply to join; → the new ``pending`` application."""
    notice_version = current_app.config["PRIVACY_NOTICE_VERSION"]
    errors = rules.application_problems(data, clock.today_local(), notice_version)
    if errors:
        raise ValidationFailed(errors)
    id_number = normalise_id_number(data["id_number"])
    phone = rules.normalise_phone(data["phone"])
    id_hashes = pii.blind_indexes(id_number, ID_INDEX)
    _check_conflicts(worker.id, id_hashes)
    now = clock.now()
    id_enc = pii.encrypt(id_number, ID_CONTEXT)
    occupation = data["occupation"]
    application = EnrollmentApplication(
        worker_id=worker.id, organization_id=data["organization_id"], status="pending",
        name=rules.normalise_name(data["name"]), gender=data["gender"],
        id_number_enc=id_enc, id_number_hash=pii.blind_index(id_number, ID_INDEX),
        phone_enc=pii.encrypt(phone, PHONE_CONTEXT), phone_hash=pii.blind_index(phone, PHONE_INDEX),
        pii_key_version=pii.key_version(id_enc),
        occupation=occupation,
        occupation_other=(data.get("occupation_other") or "").strip() or None if occupation == "other" else None,
        employer=data["employer"].strip(), work_region=data["work_region"].strip(),
        consent_version=notice_version, consented_at=now, submitted_at=now)
    db.session.add(application)
    try:
        db.session.commit()
    except IntegrityError:  # lost a race against the partial unique indexes
        db.session.rollback()
        _check_conflicts(worker.id, id_hashes)
        raise IdNumberPending() from None
    return application


def my_applications(worker: Worker, page: int, per_page: int) -> dict:
    """The caller's applications, newest first (the history is kept)."""
    stmt = (select(EnrollmentApplication)
            .where(EnrollmentApplication.worker_id == worker.id)
            .options(selectinload(EnrollmentApplication.membership))
            .order_by(EnrollmentApplication.submitted_at.desc(), EnrollmentApplication.id.desc()))
    return paginate(stmt, page, per_page)


def _owned(worker: Worker, application_id: int) -> EnrollmentApplication:
    application = db.session.get(EnrollmentApplication, application_id)
    if application is None or application.worker_id != worker.id:
        raise ApplicationNotFound()
    return application


def get_for_worker(worker: Worker, application_id: int) -> EnrollmentApplication:
    """The caller's own application; anyone else's is 404."""
    return _owned(worker, application_id)


def withdraw(worker: Worker, application_id: int) -> EnrollmentApplication:
    """``pending`` → ``withdrawn`` by its owner; 409 ``invalid_state`` otherwise."""
    application = _owned(worker, application_id)
    result = db.session.execute(
        update(EnrollmentApplication)
        .where(EnrollmentApplication.id == application.id, EnrollmentApplication.status == "pending")
        .values(status="withdrawn", withdrawn_at=clock.now()))
    if result.rowcount != 1:
        db.session.rollback()
        raise NotWithdrawable()
    db.session.commit()
    return application


def current_membership(worker_id: int) -> Membership | None:
    """The worker's active membership, else their latest one."""
    return db.session.scalar(
        select(Membership).where(Membership.worker_id == worker_id)
        .order_by((Membership.status == "active").desc(), Membership.joined_at.desc()).limit(1))


def membership_card(worker: Worker) -> Membership:
    """The electronic member card, or 404 ``not_a_member``."""
    membership = current_membership(worker.id)
    if membership is None:
        raise NotAMember()
    return membership
