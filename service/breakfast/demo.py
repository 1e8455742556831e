"""Demo data: three breakfast points in Yangzhou, a roster of 20 sanitation workers
(all names fictional) and last month's breakfasts, so the report and the
ingredient estimate show figures.  Idempotent: points are found by name,
roster entries by phone, and history is written only when the demo points
have none.

The README's demo worker binds ``phone-13800138000`` and is on the roster
(广陵区); the 广陵 point has a 500 m geofence (send ``lat``/``lng``), the
邗江 point none; both serve 05:30–08:30.  The city's demo point serves all
day (00:00–23:59) without a geofence, so a check-in can be tried at any hour.
"""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, insert, select

from models import db
from models.breakfast import BreakfastPoint, Checkin, DailyCount, RosterEntry
from service.breakfast.roster import prepare_roster_row
from service.common import clock, pii
from service.common.validators import check_digit

DEMO_PHONE = "13800138000"

POINTS = [
    {"org": "广陵区总工会", "name": "广陵区文昌中路环卫工人爱心早餐点",
     "address": "扬州市广陵区文昌中路 118 号（示例地址）",
     "lat": 32.39452, "lng": 119.43631, "daily_quota": 320, "geofence_m": 500},
    {"org": "邗江区总工会", "name": "邗江区江阳中路环卫工人爱心早餐点",
     "address": "扬州市邗江区江阳中路 366 号（示例地址）",
     "lat": 32.38911, "lng": 119.38764, "daily_quota": 300, "geofence_m": None},
    {"org": "扬州市总工会", "name": "市总工会职工服务中心演示早餐点（全天供应）",
     "address": "扬州市总工会职工服务中心（示例地址）", "lat": 32.39420, "lng": 119.41290, "daily_quota": 500,
     "geofence_m": None, "serving_start": dt.time(0, 0), "serving_end": dt.time(23, 59)},
]
MORNING = (dt.time(5, 30), dt.time(8, 30))

# (name, phone, employer, organization, id region or None) — fictional people.
ROSTER = [
    ("王建国", DEMO_PHONE, "扬州市环境卫生管理处", "广陵区总工会", "321002"),
    ("李桂兰", "13952710001", "扬州市环境卫生管理处", "广陵区总工会", "321002"),
    ("张德福", "13952710002", "扬州市环境卫生管理处", "广陵区总工会", None),
    ("刘秀英", "13952710003", "扬州市广陵区环境卫生管理所", "广陵区总工会", "321002"),
    ("陈永强", "13952710004", "扬州市广陵区环境卫生管理所", "广陵区总工会", None),
    ("杨玉珍", "13952710005", "扬州市广陵区环境卫生管理所", "广陵区总工会", None),
    ("赵长林", "13952710006", "扬州市广陵区环境卫生管理所", "广陵区总工会", "321002"),
    ("黄凤英", "13952710007", "扬州市环境卫生管理处", "广陵区总工会", None),
    ("周国平", "13952710008", "扬州市环境卫生管理处", "广陵区总工会", None),
    ("吴美华", "13952710009", "扬州市广陵区环境卫生管理所", "广陵区总工会", None),
    ("徐志明", "13952720001", "扬州市邗江区环境卫生管理所", "邗江区总工会", "321003"),
    ("孙翠兰", "13952720002", "扬州市邗江区环境卫生管理所", "邗江区总工会", None),
    ("朱大勇", "13952720003", "扬州市邗江区环境卫生管理所", "邗江区总工会", None),
    ("马春梅", "13952720004", "扬州市环境卫生管理处", "邗江区总工会", "321003"),
    ("胡荣华", "13952720005", "扬州市环境卫生管理处", "邗江区总工会", None),
    ("郭秀兰", "13952720006", "扬州市邗江区环境卫生管理所", "邗江区总工会", None),
    ("何宝根", "13952720007", "扬州市邗江区环境卫生管理所", "邗江区总工会", None),
    ("高月娥", "13952720008", "扬州市邗江区环境卫生管理所", "邗江区总工会", "321003"),
    ("林金水", "13952720009", "扬州市环境卫生管理处", "邗江区总工会", None),
    ("罗小红", "13952720010", "扬州市邗江区环境卫生管理所", "邗江区总工会", None),
]


def _id_number(region: str, index: int) -> str:
    born = dt.date(1966 + index % 10, 1 + index % 12, 1 + index % 28)
    first17 = f"{region}{born:%Y%m%d}{100 + index:03d}"
    return first17 + check_digit(first17)


def seed(ctx) -> None:
    orgs = ctx["orgs"]
    now = clock.now()
    points: dict[str, BreakfastPoint] = {}
    for spec in POINTS:
        org = orgs[spec["org"]]
        point = db.session.scalar(select(BreakfastPoint).where(BreakfastPoint.organization_id == org.id,
                                                               BreakfastPoint.name == spec["name"]))
        if point is None:
            point = BreakfastPoint(organization_id=org.id, name=spec["name"], address=spec["address"],
                                   lat=spec["lat"], lng=spec["lng"],
                                   serving_start=spec.get("serving_start", MORNING[0]),
                                   serving_end=spec.get("serving_end", MORNING[1]), daily_quota=spec["daily_quota"],
                                   geofence_m=spec["geofence_m"], active=True, qr_generation=1,
                                   created_at=now, updated_at=now)
            db.session.add(point)
            db.session.flush()
        points[spec["org"]] = point

    today = clock.today_local()
    entries: list[tuple[RosterEntry, str]] = []
    for index, (name, phone, employer, org_name, region) in enumerate(ROSTER):
        values = {"name": name, "phone": phone, "employer": employer,
                  "id_number": _id_number(region, index) if region else None}
        _, row = prepare_roster_row(values, today)
        entry = db.session.scalar(select(RosterEntry).where(RosterEntry.phone_hash.in_(row.phone_keys)))
        if entry is None:
            entry = RosterEntry(organization_id=orgs[org_name].id, active=True, created_at=now, updated_at=now,
                                **row.fields)
            db.session.add(entry)
            db.session.flush()
        entries.append((entry, org_name))

    point_ids = [p.id for p in points.values()]
    if db.session.scalar(select(func.count(Checkin.id)).where(Checkin.point_id.in_(point_ids))):
        return
    demo_keys = pii.blind_indexes(DEMO_PHONE, "phone")
    _seed_last_month(points, [(e, o) for e, o in entries if e.phone_hash not in demo_keys])


def _seed_last_month(points: dict[str, BreakfastPoint], entries) -> None:
    """About 85% attendance, each worker at their district's point, last month."""
    rng = random.Random(20260101)
    first_this = clock.today_local().replace(day=1)
    last_month_end = first_this - dt.timedelta(days=1)
    day = last_month_end.replace(day=1)
    rows, counts = [], {}
    while day <= last_month_end:
        for entry, org_name in entries:
            if entry.worker_id is not None or rng.random() > 0.85:
                continue
            point = points[org_name]
            at = dt.datetime.combine(day, point.serving_start, tzinfo=clock.SHANGHAI) + dt.timedelta(
                minutes=rng.randint(0, 170), seconds=rng.randint(0, 59))
            rows.append({"roster_entry_id": entry.id, "point_id": point.id, "worker_id": None,
                         "serving_date": day, "checked_in_at": at.astimezone(clock.UTC), "distance_m": None})
            counts[(point.id, day)] = counts.get((point.id, day), 0) + 1
        day += dt.timedelta(days=1)
    if rows:
        db.session.execute(insert(Checkin), rows)
        quotas = {p.id: p.daily_quota for p in points.values()}
        db.session.execute(insert(DailyCount), [
            {"point_id": pid, "serving_date": d, "quota": quotas[pid], "served": n} for (pid, d), n in counts.items()])
