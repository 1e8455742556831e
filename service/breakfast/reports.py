"""Monthly figures of the breakfast feature, all by aggregate SQL over the check-ins:
a worker's own month, the staff's monthly report with next month's ingredient
estimate (the figure the union orders rice, flour and oil by), the sheets of
its spreadsheet, and the annual report's breakfast figures.

Figures count by roster entry, so they stay right after a worker erased
their data (``roster.erase_personal_data``).
"""
from __future__ import annotations

import calendar
import datetime as dt
import math

from flask import current_app
from sqlalchemy import distinct, func, select

from models import db
from models.breakfast import BreakfastPoint, Checkin, RosterEntry
from service.breakfast.points import get_point
from service.common import clock
from service.common.pagination import paginate

# --- small helpers ---------------------------------------------------------------

def _mask_name(name: str | None) -> str | None:
    """``张三`` → ``张*``, ``欧阳小明`` → ``欧***``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def _month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First day of ``month`` and first day of the next month."""
    start = month.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt


def _this_month() -> dt.date:
    return clock.today_local().replace(day=1)


# --- workers: their check-ins (the check-in itself: checkin.py) ------------------------

def my_checkins(worker, month: dt.date | None, page: int, per_page: int) -> dict:
    month = month or _this_month()
    start, end = _month_bounds(month)
    stmt = (select(Checkin.id, Checkin.serving_date, Checkin.checked_in_at, BreakfastPoint.id.label("point_id"),
                   BreakfastPoint.name.label("point_name"))
            .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
            .where(Checkin.worker_id == worker.id, Checkin.serving_date >= start, Checkin.serving_date < end)
            .order_by(Checkin.serving_date.desc()))
    result = paginate(stmt, page, per_page, scalars=False)
    result["items"] = [{"id": r.id, "point": {"id": r.point_id, "name": r.point_name},
                        "serving_date": r.serving_date, "checked_in_at": r.checked_in_at} for r in result["items"]]
    result["month"] = month
    return result


# --- staff: reports -----------------------------------------------------------------

def _report_filters(scope, month: dt.date, point_id: int | None) -> list:
    start, end = _month_bounds(month)
    filters = [Checkin.serving_date >= start, Checkin.serving_date < end,
               scope.clause(BreakfastPoint.organization_id)]
    if point_id is not None:
        filters.append(Checkin.point_id == point_id)
    return filters


def ingredients(scope, month: dt.date | None = None, point_id: int | None = None) -> dict:
    """Next month's rice, flour and oil from this month's servings.

    Per point: average servings per serving day of ``month`` (days with at
    least one breakfast) times the days of the next month (points serve every
    morning), rounded up; quantities per serving from config
    ``BREAKFAST_RICE_G``, ``BREAKFAST_FLOUR_G``, ``BREAKFAST_OIL_ML``; totals
    in kilograms and litres, rounded up — the figure the union orders by.
    """
    month = month or _this_month()
    if point_id is not None:
        get_point(scope, point_id)
    _, nxt = _month_bounds(month)
    next_days = calendar.monthrange(nxt.year, nxt.month)[1]
    rows = db.session.execute(
        select(BreakfastPoint.id, BreakfastPoint.name, func.count(Checkin.id),
               func.count(distinct(Checkin.serving_date)))
        .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
        .where(*_report_filters(scope, month, point_id))
        .group_by(BreakfastPoint.id, BreakfastPoint.name).order_by(BreakfastPoint.id)).all()
    points = []
    for pid, name, servings, days in rows:
        estimate = math.ceil(servings * next_days / days) if days else 0
        points.append({"point_id": pid, "name": name, "servings": servings, "serving_days": days,
                       "estimated_servings": estimate})
    cfg = current_app.config
    rice_g = float(cfg["BREAKFAST_RICE_G"])
    flour_g = float(cfg["BREAKFAST_FLOUR_G"])
    oil_ml = float(cfg["BREAKFAST_OIL_ML"])
    estimated = sum(p["estimated_servings"] for p in points)

    def up(total: float) -> int:
        return math.ceil(round(total / 1000, 6))

    return {"month": month, "next_month": nxt, "servings": sum(p["servings"] for p in points),
            "serving_days": sum(p["serving_days"] for p in points), "next_month_days": next_days,
            "estimated_servings": estimated,
            "per_serving": {"rice_g": rice_g, "flour_g": flour_g, "oil_ml": oil_ml},
            "rice_kg": up(estimated * rice_g), "flour_kg": up(estimated * flour_g), "oil_l": up(estimated * oil_ml),
            "points": points}


def latest_month(scope, point_id: int | None = None) -> dt.date:
    """The month a report opens on when none is asked for: the latest one, up to this
    month, with a check-in in the caller's scope (at ``point_id``); this month when none has."""
    this_month = _this_month()
    stmt = (select(func.max(Checkin.serving_date)).join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
            .where(scope.clause(BreakfastPoint.organization_id), Checkin.serving_date < _month_bounds(this_month)[1]))
    if point_id is not None:
        stmt = stmt.where(Checkin.point_id == point_id)
    latest = db.session.scalar(stmt)
    return latest.replace(day=1) if latest is not None else this_month


def monthly_report(scope, month: dt.date | None = None, point_id: int | None = None) -> dict:
    """Per point per day counts, per worker counts (masked), distinct workers and total
    servings of one month, all by aggregate SQL; plus the ingredient estimate."""
    month = month or _this_month()
    if point_id is not None:
        get_point(scope, point_id)
    filters = _report_filters(scope, month, point_id)
    joined = select().select_from(Checkin).join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)

    total, distinct_workers = db.session.execute(
        joined.add_columns(func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .where(*filters)).one()
    per_point = db.session.execute(
        joined.add_columns(Checkin.point_id, func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .where(*filters).group_by(Checkin.point_id)).all()
    per_day = db.session.execute(
        joined.add_columns(Checkin.point_id, Checkin.serving_date, func.count(Checkin.id))
        .where(*filters).group_by(Checkin.point_id, Checkin.serving_date)
        .order_by(Checkin.point_id, Checkin.serving_date)).all()
    counts = (joined.add_columns(Checkin.roster_entry_id.label("rid"), func.count(Checkin.id).label("n"))
              .where(*filters).group_by(Checkin.roster_entry_id).subquery())
    per_worker = db.session.execute(
        select(RosterEntry.id, RosterEntry.name, RosterEntry.phone_masked, RosterEntry.employer, counts.c.n)
        .join(counts, counts.c.rid == RosterEntry.id)
        .order_by(counts.c.n.desc(), RosterEntry.id)).all()

    point_stmt = select(BreakfastPoint).where(scope.clause(BreakfastPoint.organization_id))
    if point_id is not None:
        point_stmt = point_stmt.where(BreakfastPoint.id == point_id)
    point_rows = db.session.scalars(point_stmt.order_by(BreakfastPoint.id)).all()
    stats = {pid: (n, d) for pid, n, d in per_point}
    days: dict[int, list] = {}
    for pid, day, n in per_day:
        days.setdefault(pid, []).append({"serving_date": day, "count": n})
    points = [{"point_id": p.id, "name": p.name, "organization_id": p.organization_id,
               "servings": stats.get(p.id, (0, 0))[0], "distinct_workers": stats.get(p.id, (0, 0))[1],
               "days": days.get(p.id, [])} for p in point_rows]
    workers = [{"roster_entry_id": rid, "name": _mask_name(name), "phone": phone, "employer": employer,
                "count": n} for rid, name, phone, employer, n in per_worker]
    return {"month": month, "point_id": point_id, "total_servings": total, "distinct_workers": distinct_workers,
            "points": points, "workers": workers, "ingredients": ingredients(scope, month, point_id)}


def figures(scope, start: dt.date, end: dt.date) -> dict:
    """The annual report's breakfast figures for serving days in [start, end):
    ``{points, servings, distinct_workers}`` — points existing by ``end`` in the
    caller's scope, breakfasts served there, and how many people ate them.
    (For the stats feature; two aggregate queries.)"""
    end_at = dt.datetime.combine(end, dt.time(0), tzinfo=clock.SHANGHAI)
    points = db.session.scalar(select(func.count(BreakfastPoint.id)).where(
        scope.clause(BreakfastPoint.organization_id), BreakfastPoint.created_at < end_at))
    servings, people = db.session.execute(
        select(func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
        .where(Checkin.serving_date >= start, Checkin.serving_date < end,
               scope.clause(BreakfastPoint.organization_id))).one()
    return {"points": points or 0, "servings": servings, "distinct_workers": people}


def report_sheets(report: dict) -> dict[str, tuple[list[str], list[list]]]:
    """The monthly report (``monthly_report``) as spreadsheet sheets with Chinese
    headers: ``{title: (headers, rows)}`` for ``xlsx_response``."""
    label = report["month"].strftime("%Y-%m")
    names = {p["point_id"]: p["name"] for p in report["points"]}
    summary = [[label, p["name"], p["servings"], p["distinct_workers"]] for p in report["points"]]
    summary.append([label, "合计", report["total_servings"], report["distinct_workers"]])
    daily = [[d["serving_date"], names[p["point_id"]], d["count"]]  # a date cell
             for p in report["points"] for d in p["days"]]
    workers = [[w["name"] or "（已删除）", w["phone"] or "", w["employer"] or "", w["count"]]
               for w in report["workers"]]
    ing = report["ingredients"]
    estimate = [[p["name"], p["servings"], p["serving_days"], p["estimated_servings"]] for p in ing["points"]]
    estimate += [
        ["合计", ing["servings"], ing["serving_days"], ing["estimated_servings"]],
        [],
        ["下月", ing["next_month"].strftime("%Y-%m"), "天数", ing["next_month_days"]],
        ["大米（公斤）", ing["rice_kg"], "每份（克）", ing["per_serving"]["rice_g"]],
        ["面粉（公斤）", ing["flour_kg"], "每份（克）", ing["per_serving"]["flour_g"]],
        ["食用油（升）", ing["oil_l"], "每份（毫升）", ing["per_serving"]["oil_ml"]],
    ]
    return {
        "汇总": (["月份", "早餐点", "供应份数", "就餐人数"], summary),
        "每日统计": (["日期", "早餐点", "份数"], daily),
        "职工统计": (["姓名", "手机号", "单位", "就餐次数"], workers),
        "食材预估": (["早餐点", "本月份数", "供应天数", "下月预计份数"], estimate),
    }
