"""Figures for the federation's annual work report (docs/contract.md §7).

Every figure is one aggregate query (COUNT / SUM / GROUP BY) over indexed
columns, restricted to the caller's organization subtree, so a year of a
million check-ins answers in well under a second.  A year runs from 1
January 00:00 to 1 January 00:00 in Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, and_, cast, func, or_, select

from models import db
from models.enrollment import EnrollmentApplication, Membership
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidSlot
from models.station import Station
from service.arrears import cases as arrears
from service.auth.permissions import Scope
from service.breakfast import reports as breakfast
from service.common import clock
from service.enrollment.rules import OCCUPATION_LABELS
from service.errors import ValidationFailed
from service.legal_aid.display import TOPICS as TOPIC_LABELS

ANNUAL_HEADERS = ["类别", "项目", "数值"]


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    if not 2000 <= year <= 2100:
        raise ValidationFailed({"year": ["年份应在 2000 到 2100 之间"]})
    return clock.local(year, 1, 1), clock.local(year + 1, 1, 1)


def enrollment_figures(scope: Scope, start, end) -> dict:
    applications = db.session.scalar(
        select(func.count()).select_from(EnrollmentApplication)
        .where(EnrollmentApplication.submitted_at >= start, EnrollmentApplication.submitted_at < end,
               scope.clause(EnrollmentApplication.organization_id)))
    rows = db.session.execute(
        select(Membership.occupation, func.count())
        .where(Membership.joined_at >= start, Membership.joined_at < end,
               scope.clause(Membership.organization_id))
        .group_by(Membership.occupation)).all()
    by_occupation = {occ: 0 for occ in OCCUPATION_LABELS}
    by_occupation.update({occ: n for occ, n in rows})
    return {"applications": applications or 0, "new_members": sum(by_occupation.values()),
            "by_occupation": by_occupation}


def station_figures(scope: Scope, start, end) -> dict:
    alive_at_end = and_(Station.created_at < end, or_(Station.deleted_at.is_(None), Station.deleted_at >= end),
                        scope.clause(Station.organization_id))
    has_nursing = cast(Station.amenities, String).like('%"nursing_room"%')
    total, new, nursing = db.session.execute(
        select(func.count(),
               func.coalesce(func.sum(func.cast(Station.created_at >= start, db.Integer)), 0),
               func.coalesce(func.sum(func.cast(has_nursing, db.Integer)), 0))
        .where(alive_at_end)).one()
    return {"total": total or 0, "new": int(new or 0), "with_nursing_room": int(nursing or 0)}


def legal_aid_figures(scope: Scope, start, end) -> dict:
    base = (select(LegalAidBooking.topic, LegalAidBooking.status, func.count())
            .join(LegalAidSlot, LegalAidSlot.id == LegalAidBooking.slot_id)
            .join(LegalAidProvider, LegalAidProvider.id == LegalAidSlot.provider_id)
            .where(LegalAidSlot.starts_at >= start, LegalAidSlot.starts_at < end,
                   scope.clause(LegalAidProvider.organization_id))
            .group_by(LegalAidBooking.topic, LegalAidBooking.status))
    by_topic = {t: 0 for t in TOPIC_LABELS}
    by_status: dict[str, int] = {}
    for topic, status, n in db.session.execute(base):
        by_status[status] = by_status.get(status, 0) + n
        if status != "cancelled":
            by_topic[topic] = by_topic.get(topic, 0) + n
    return {"bookings": sum(by_topic.values()), "completed": by_status.get("completed", 0),
            "no_show": by_status.get("no_show", 0), "cancelled": by_status.get("cancelled", 0),
            "by_topic": by_topic}


def annual(scope: Scope, year: int) -> dict:
    """The annual report's figures for ``year`` within the caller's organizations.

    - enrollment: applications submitted, new members (approved in the year) by occupation;
    - stations: stations standing at the year's end, of which built in the year, with a nursing room;
    - breakfast: points, breakfasts served, distinct workers served;
    - legal_aid: consultations booked (not cancelled) for the year, completed, by topic;
    - arrears: wage-arrears reports, cases opened, cases resolved, workers helped and yuan
      recovered (``service/arrears/cases.py: annual_figures``).
    """
    start, end = year_bounds(year)
    return {
        "year": year,
        "enrollment": enrollment_figures(scope, start, end),
        "stations": station_figures(scope, start, end),
        "breakfast": breakfast.figures(scope, start.date(), end.date()),
        "legal_aid": legal_aid_figures(scope, start, end),
        "arrears": arrears.annual_figures(scope, year),
    }


def annual_rows(figures: dict) -> list[tuple[str, str, int | float]]:
    """The figures as (section, item, value) rows, for the spreadsheet and the console's page."""
    e, s, b, la, a = (figures[k] for k in ("enrollment", "stations", "breakfast", "legal_aid", "arrears"))
    rows = [("入会", "入会申请数", e["applications"]), ("入会", "新发展会员数", e["new_members"])]
    rows += [("入会", f"新会员（{OCCUPATION_LABELS[k]}）", v) for k, v in e["by_occupation"].items()]
    rows += [("驿站", "驿站总数（年末）", s["total"]), ("驿站", "本年新建驿站", s["new"]),
             ("驿站", "设母婴室的驿站", s["with_nursing_room"]),
             ("爱心早餐", "早餐点数", b["points"]), ("爱心早餐", "供餐人次", b["servings"]),
             ("爱心早餐", "受益环卫工人数", b["distinct_workers"]),
             ("法律援助", "咨询预约数", la["bookings"]), ("法律援助", "已完成咨询", la["completed"])]
    rows += [("法律援助", f"咨询（{TOPIC_LABELS.get(k, k)}）", v) for k, v in la["by_topic"].items()]
    rows += [("欠薪报工", "欠薪报工数", a["reports"]), ("欠薪报工", "立案数", a["cases"]),
             ("欠薪报工", "已解决案件", a["resolved"]), ("欠薪报工", "帮助职工人数", a["workers"]),
             ("欠薪报工", "追回金额（元）", a["amount_recovered"])]
    return rows


def annual_sheets(scope: Scope, year: int) -> dict[str, tuple[list[str], list[tuple[str, str, int | float]]]]:
    """The annual figures as a workbook's sheets for ``xlsx_response``: one sheet ``<year>年度``
    of ``ANNUAL_HEADERS`` and ``annual_rows``."""
    return {f"{year}年度": (ANNUAL_HEADERS, annual_rows(annual(scope, year)))}
