from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db


class Organization(db.Model):
    """A union organization (市总工会, 区总工会, 行业工会 …) in one tree.

    ``path`` is the materialised path of ids (``/1/4/9/``) so that a subtree
    is one ``LIKE '/1/4/%'`` and scoping never walks the tree in Python.
    ``service_area`` applies to its subtree, down to the next organization
    that has one of its own.
    """

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    region: Mapped[str | None] = mapped_column(String(100))
    occupations: Mapped[list] = mapped_column(JSONType, default=list)
    accepts_members: Mapped[bool] = mapped_column(default=True)
    # {lat, lng, radius_m}: where its stations and breakfast points may lie (GCJ-02, metres); NULL: anywhere
    service_area: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
