"""Enrollment's part in the worker-wide use cases (``service/worker_data.py``):
``GET /me``, ``GET /me/data`` and ``DELETE /me``.

Erasure blanks the name, ID number, phone and free text but keeps the rows,
so counts by occupation, organization and year stay right.
"""
from __future__ import annotations

from sqlalchemy import select, update

from models import Worker, db
from models.enrollment import EnrollmentApplication, Membership
from service.common import clock
from service.enrollment.applications import current_membership
from service.enrollment.schemas import ApplicationDataSchema, MembershipBriefSchema, MembershipCardSchema

ERASED_NAME = "已注销用户"


def profile_fields(worker: Worker) -> dict:
    """``GET /me``: the brief member card (no personal data beyond the member number)."""
    membership = current_membership(worker.id)
    return {"membership": None if membership is None else MembershipBriefSchema().dump(membership)}


def personal_data(worker_id: int) -> dict:
    """``GET /me/data``: every application and membership, decrypted for the worker alone."""
    applications = db.session.scalars(select(EnrollmentApplication)
                                      .where(EnrollmentApplication.worker_id == worker_id)
                                      .order_by(EnrollmentApplication.id)).all()
    memberships = db.session.scalars(select(Membership).where(Membership.worker_id == worker_id)
                                     .order_by(Membership.id)).all()
    return {"applications": ApplicationDataSchema(many=True).dump(applications),
            "memberships": MembershipCardSchema(many=True).dump(memberships)}


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
