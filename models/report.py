"""The Word templates of the annual work report (docs/contract.md §7)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db


class ReportTemplate(db.Model):
    """An organization's own ``.docx`` template of the annual work report: at most one
    per organization (a new upload replaces it), with who uploaded it and when.
    An organization without one uses its nearest ancestor's, else the default
    shipped with the service."""

    __tablename__ = "report_templates"
    __table_args__ = (CheckConstraint("size > 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only when used
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    uploaded_by_name: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
