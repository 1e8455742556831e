"""Tables of the wage-arrears feature (欠薪报工): reports, their evidence, cases, the
timeline and the collective-arrears alerts.

A worker's report (``arrears_reports``) is ``submitted``; staff accept it into
a case of its employer (``accepted``) or decline it (``declined``); the worker
may withdraw it while it is ``submitted`` (``withdrawn``).  When its case is
finished (``resolved`` or ``closed``) the report becomes ``closed``.

A case (``arrears_cases``) groups the accepted reports about one employer in
one organization: ``accepted`` → ``coordinating`` → ``referred`` →
``resolved`` | ``closed``.

Invariants kept by the database:
- One open report per worker and employer: partial unique index
  ``uq_arrears_reports_open`` on ``(worker_id, employer_key)`` WHERE
  ``status IN ('submitted', 'accepted')`` (a report of a finished case is
  ``closed``, so the index covers "accepted and the case not finished"), and
  ``uq_arrears_reports_open_code`` on ``(worker_id, employer_credit_code)``
  over the same rows where the code is given: one employer is one credit code
  whatever name the worker writes.
- One open case per employer and organization: partial unique index
  ``uq_arrears_cases_open`` on ``(organization_id, employer_key)`` WHERE the
  case is not finished.
- At most three photos per report (CHECK ``evidence_count``, moved only by a
  conditional update); amounts positive, ``period_from <= period_to``; a
  resolved case has its amount recovered; a declined report its reason.
- A collective alert is raised once per case (unique ``(case_id, kind)``).

Personal data: the work address and the description are AES-GCM ciphertexts
(``*_enc``); evidence photos are encrypted with a key of their own
(``key_version`` names it).  Erasure unlinks the worker and blanks both,
deletes the photos and keeps the amounts and counts.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, unique_where
from models.organization import Organization
from models.user import Worker

REPORT_STATUSES = ("submitted", "accepted", "declined", "withdrawn", "closed")
OPEN_REPORT_STATUSES = ("submitted", "accepted")
CASE_STATUSES = ("accepted", "coordinating", "referred", "resolved", "closed")
OPEN_CASE_STATUSES = ("accepted", "coordinating", "referred")
FINISHED_CASE_STATUSES = ("resolved", "closed")
REFERRALS = ("labor_inspection", "arbitration", "court", "legal_aid")
# The legal moves of a case: accepted → coordinating → referred → resolved | closed,
# settled while coordinating, or closed at once (a report that proves unfounded).
CASE_MOVES = {
    "accepted": ("coordinating", "closed"),
    "coordinating": ("referred", "resolved", "closed"),
    "referred": ("resolved", "closed"),
}
EVIDENCE_TYPES = ("image/jpeg", "image/png")
EVIDENCE_MAX_FILES = 3
EVENT_KINDS = ("submitted", "withdrawn", "accepted", "declined", "opened", "transition", "collective")
ALERT_KINDS = ("collective",)
MONEY = Numeric(12, 2)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


OPEN_REPORTS_WITH_CODE = f"{_in('status', OPEN_REPORT_STATUSES)} AND employer_credit_code IS NOT NULL"


class ArrearsCase(db.Model):
    """The union's handling of one employer's arrears in one organization.

    ``employer_key`` is the employer's normalised name (spaces, brackets and
    the suffixes 有限公司/有限责任公司 dropped); ``employer_credit_code`` the
    unified social credit code of the first report that gave one.
    ``collective`` turns true once, when the reports' ``workers_affected``
    reach the collective threshold.
    """

    __tablename__ = "arrears_cases"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(f"referred_to IS NULL OR {_in('referred_to', REFERRALS)}", name="referred_to"),
        CheckConstraint("amount_recovered IS NULL OR amount_recovered >= 0", name="amount_recovered"),
        CheckConstraint("status <> 'resolved' OR amount_recovered IS NOT NULL", name="resolved_amount"),
        unique_where("uq_arrears_cases_open", "organization_id", "employer_key",
                     where=_in("status", OPEN_CASE_STATUSES)),
        Index("ix_arrears_cases_org_status", "organization_id", "status"),
        Index("ix_arrears_cases_credit_code", "employer_credit_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    employer_name: Mapped[str] = mapped_column(String(200))
    employer_key: Mapped[str] = mapped_column(String(200))
    employer_credit_code: Mapped[str | None] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    collective: Mapped[bool] = mapped_column(default=False)
    collective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    referred_to: Mapped[str | None] = mapped_column(String(32))
    amount_recovered: Mapped[Decimal | None] = mapped_column(MONEY)
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    legal_aid_booking_id: Mapped[int | None] = mapped_column(ForeignKey("legal_aid_bookings.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    reports: Mapped[list[ArrearsReport]] = relationship(
        back_populates="case", order_by="ArrearsReport.id", lazy="selectin")
    events: Mapped[list[ArrearsEvent]] = relationship(
        primaryjoin="ArrearsCase.id == foreign(ArrearsEvent.case_id)", order_by="ArrearsEvent.id",
        lazy="selectin", viewonly=True)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_CASE_STATUSES

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return CASE_MOVES.get(self.status, ())

    @property
    def amount_owed(self) -> Decimal:
        """The reports' amounts owed, summed."""
        return sum((r.amount_owed for r in self.reports), Decimal("0"))

    @property
    def workers(self) -> int:
        """The reports' ``workers_affected``, summed."""
        return sum(r.workers_affected for r in self.reports)

    @property
    def reporters(self) -> int:
        return len(self.reports)

    @property
    def progress(self) -> list[ArrearsEvent]:
        """The case's own steps (opened, transitions, collective), oldest first."""
        return [e for e in self.events if e.report_id is None]


class ArrearsReport(db.Model):
    """A worker's report of wages owed by an employer (欠薪报工).

    ``period_from``/``period_to`` are months (``YYYY-MM``); ``amount_owed`` is
    in yuan.  ``worker_id`` is NULL once the worker erased their data.
    """

    __tablename__ = "arrears_reports"
    __table_args__ = (
        CheckConstraint(_in("status", REPORT_STATUSES), name="status"),
        CheckConstraint("amount_owed > 0", name="amount_owed"),
        CheckConstraint("workers_affected >= 1", name="workers_affected"),
        CheckConstraint("period_from <= period_to", name="period"),
        CheckConstraint(f"evidence_count >= 0 AND evidence_count <= {EVIDENCE_MAX_FILES}", name="evidence_count"),
        CheckConstraint("status <> 'declined' OR decline_reason IS NOT NULL", name="decline_reason"),
        unique_where("uq_arrears_reports_open", "worker_id", "employer_key",
                     where=_in("status", OPEN_REPORT_STATUSES)),
        unique_where("uq_arrears_reports_open_code", "worker_id", "employer_credit_code",
                     where=OPEN_REPORTS_WITH_CODE),
        Index("ix_arrears_reports_org_status_created", "organization_id", "status", "created_at"),
        Index("ix_arrears_reports_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    employer_name: Mapped[str] = mapped_column(String(200))
    employer_key: Mapped[str] = mapped_column(String(200))
    employer_credit_code: Mapped[str | None] = mapped_column(String(18))
    work_address_enc: Mapped[str | None] = mapped_column(Text)
    period_from: Mapped[str] = mapped_column(String(7))
    period_to: Mapped[str] = mapped_column(String(7))
    amount_owed: Mapped[Decimal] = mapped_column(MONEY)
    workers_affected: Mapped[int] = mapped_column(Integer)
    description_enc: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("arrears_cases.id"), index=True)
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    worker: Mapped[Worker | None] = relationship(lazy="select")
    case: Mapped[ArrearsCase | None] = relationship(back_populates="reports", lazy="select")
    evidence: Mapped[list[ArrearsEvidence]] = relationship(
        back_populates="report", order_by="ArrearsEvidence.id", lazy="selectin")
    events: Mapped[list[ArrearsEvent]] = relationship(
        primaryjoin="ArrearsReport.id == foreign(ArrearsEvent.report_id)", order_by="ArrearsEvent.id",
        lazy="selectin", viewonly=True)

    @property
    def withdrawable(self) -> bool:
        return self.status == "submitted"

    @property
    def accepts_evidence(self) -> bool:
        return self.status == "submitted" and self.evidence_count < EVIDENCE_MAX_FILES

    @property
    def timeline(self) -> list[ArrearsEvent]:
        """What the worker sees: the report's own steps, then its case's progress, in order."""
        steps = list(self.events)
        if self.case is not None:
            steps += [e for e in self.case.events if e.kind == "transition"]
        return sorted(steps, key=lambda e: (e.at, e.id))


class ArrearsEvidence(db.Model):
    """A photo attached to a report, encrypted at rest (``content`` is nonce | ciphertext | tag)."""

    __tablename__ = "arrears_evidence"
    __table_args__ = (
        CheckConstraint(_in("mime_type", EVIDENCE_TYPES), name="mime_type"),
        CheckConstraint("size > 0", name="size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("arrears_reports.id", ondelete="CASCADE"), index=True)
    mime_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    key_version: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only when served
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    report: Mapped[ArrearsReport] = relationship(back_populates="evidence", lazy="select")


class ArrearsEvent(db.Model):
    """One step of a report or a case: ``from_status`` → ``to_status`` with a note,
    by a staff member (NULL: the worker or the service)."""

    __tablename__ = "arrears_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint("report_id IS NOT NULL OR case_id IS NOT NULL", name="subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("arrears_reports.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("arrears_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ArrearsAlert(db.Model):
    """A case that became collective, for the admins of its organization (the
    console's banner until one of them acknowledges it)."""

    __tablename__ = "arrears_alerts"
    __table_args__ = (
        CheckConstraint(_in("kind", ALERT_KINDS), name="kind"),
        UniqueConstraint("case_id", "kind"),
        Index("ix_arrears_alerts_org_open", "organization_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("arrears_cases.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16), default="collective")
    workers: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    case: Mapped[ArrearsCase] = relationship(lazy="joined", innerjoin=True)
