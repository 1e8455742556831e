"""Seeding at national scale for the benchmarks (all inside ``stack.app``'s app context)."""
from __future__ import annotations

import datetime as dt
import json
import math
import random

from sqlalchemy import text

# (city, lat, lng, weight): a few dense metropolises, many smaller cities (GCJ-02, approximate centres).
CITIES = [
    ("北京", 39.9087, 116.3975, 12), ("上海", 31.2304, 121.4737, 12), ("广州", 23.1291, 113.2644, 9),
    ("深圳", 22.5431, 114.0579, 9), ("成都", 30.5728, 104.0668, 7), ("杭州", 30.2741, 120.1551, 6),
    ("武汉", 30.5928, 114.3055, 6), ("重庆", 29.5630, 106.5516, 6), ("西安", 34.3416, 108.9398, 5),
    ("南京", 32.0603, 118.7969, 5), ("天津", 39.0842, 117.2009, 5), ("苏州", 31.2990, 120.5853, 4),
    ("郑州", 34.7466, 113.6254, 4), ("长沙", 28.2282, 112.9388, 4), ("沈阳", 41.8057, 123.4315, 3),
    ("青岛", 36.0671, 120.3826, 3), ("济南", 36.6512, 117.1201, 3), ("哈尔滨", 45.8038, 126.5349, 3),
    ("昆明", 25.0389, 102.7183, 3), ("合肥", 31.8206, 117.2272, 3), ("福州", 26.0745, 119.2965, 2),
    ("南宁", 22.8170, 108.3665, 2), ("石家庄", 38.0428, 114.5149, 2), ("贵阳", 26.6470, 106.6302, 2),
    ("太原", 37.8706, 112.5489, 2), ("南昌", 28.6820, 115.8579, 2), ("兰州", 36.0611, 103.8343, 2),
    ("扬州", 32.3942, 119.4129, 2), ("乌鲁木齐", 43.8256, 87.6168, 1), ("拉萨", 29.6520, 91.1721, 1),
    ("海口", 20.0440, 110.1999, 1), ("呼和浩特", 40.8426, 111.7492, 1), ("银川", 38.4872, 106.2309, 1),
    ("西宁", 36.6171, 101.7782, 1), ("大连", 38.9140, 121.6147, 2), ("厦门", 24.4798, 118.0894, 2),
]
AMENITIES = ["water", "hot_meal", "charging", "toilet", "rest", "nursing_room", "air_conditioning", "first_aid",
             "wifi", "repair_kit", "umbrella"]
HOURS = ["24h", "06:00-22:00", "07:00-21:00", "08:00-20:00",
         {"mon": ["08:00-12:00", "13:00-18:00"], "tue": ["08:00-12:00", "13:00-18:00"],
          "wed": ["08:00-12:00", "13:00-18:00"], "thu": ["08:00-12:00", "13:00-18:00"],
          "fri": ["08:00-12:00", "13:00-18:00"], "sat": ["22:00-06:00"], "sun": []}]


def pick_city(rng: random.Random):
    total = sum(c[3] for c in CITIES)
    x = rng.uniform(0, total)
    for city in CITIES:
        x -= city[3]
        if x <= 0:
            return city
    return CITIES[-1]


def near(rng: random.Random, lat: float, lng: float, km: float) -> tuple[float, float]:
    r = km * math.sqrt(rng.random())
    theta = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(theta) / 111.0
    dlng = r * math.sin(theta) / (111.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lng + dlng, 6)


def station_records(start: int, count: int, seed: int = 7):
    rng = random.Random(seed + start)
    for i in range(start, start + count):
        city, lat, lng, weight = pick_city(rng)
        la, ln = near(rng, lat, lng, 8 + 4 * weight)
        amen = rng.sample(AMENITIES, rng.randint(2, 7))
        yield {"code": f"CN-{i:07d}", "name": f"{city}户外劳动者驿站{i}", "address": f"{city}市某区某路{i % 999 + 1}号",
               "lat": la, "lng": ln, "phone": None, "amenities": amen, "opening_hours": rng.choice(HOURS)}


CHINA_BOX = (18.2, 53.5, 73.7, 134.7)  # lat min/max, lng min/max


def copy_stations(session, start: int, count: int) -> None:
    """``station_records(start, count)`` written with PostgreSQL's COPY, in the stored form the API and the
    import write (opening hours normalised, amenities in canonical order): a million stations in minutes,
    where the import (which checks every row) takes an hour on these shared cores."""
    from service.common import clock
    from service.stations import hours
    from service.stations.schemas import canonical_amenities

    now = clock.now()
    columns = ("code, name, address, lat, lng, phone, amenities, opening_hours, closure, photos, created_at, "
               "updated_at")
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY stations ({columns}) FROM STDIN") as copy:
        for r in station_records(start, count):
            copy.write_row((r["code"], r["name"], r["address"], r["lat"], r["lng"], r["phone"],
                            json.dumps(canonical_amenities(r["amenities"])),
                            json.dumps(hours.normalise(r["opening_hours"])), None, "[]", now, now))
    session.commit()


def nearby_query(rng: random.Random) -> str:
    """A rider somewhere: 60% within 10 km of a city's centre, 15% at a centre itself, 25% anywhere in the
    country (mostly far from any station)."""
    where = rng.random()
    if where < 0.25:
        la, ln = round(rng.uniform(*CHINA_BOX[:2]), 6), round(rng.uniform(*CHINA_BOX[2:]), 6)
    else:
        city, lat, lng, weight = pick_city(rng)
        la, ln = (lat, lng) if where < 0.4 else near(rng, lat, lng, 10)
    q = f"/api/v1/stations/nearby?lat={la}&lng={ln}&radius_m=3000&limit=20"
    r = rng.random()
    if r < 0.3:
        q += "&amenities=water,charging"
    elif r < 0.5:
        q += "&open_now=true"
    return q


def bulk_checkins(session, point_ids: list[int], entries: list[int], year: int, per_day: int) -> int:
    """Check-ins for a whole year straight in SQL (generate_series): ``per_day`` distinct workers a day."""
    session.execute(text("""
        INSERT INTO breakfast_checkins (roster_entry_id, point_id, worker_id, serving_date, checked_in_at)
        SELECT e.id, p.ids[1 + (e.n % array_length(p.ids, 1))], NULL, d::date, d + interval '6 hours'
        FROM generate_series(make_date(:y, 1, 1), make_date(:y, 12, 31), interval '1 day') AS d,
             (SELECT id, row_number() OVER (ORDER BY id) AS n FROM breakfast_roster WHERE id = ANY(:entries)) AS e,
             (SELECT CAST(:points AS int[]) AS ids) AS p
        WHERE e.n <= :per_day
    """), {"y": year, "entries": entries, "points": point_ids, "per_day": per_day})
    session.execute(text("""
        INSERT INTO breakfast_daily_counts (point_id, serving_date, quota, served)
        SELECT point_id, serving_date, 100000, count(*) FROM breakfast_checkins
        WHERE serving_date BETWEEN make_date(:y, 1, 1) AND make_date(:y, 12, 31)
        GROUP BY point_id, serving_date
        ON CONFLICT (point_id, serving_date) DO UPDATE SET served = EXCLUDED.served
    """), {"y": year})
    session.commit()
    return session.execute(text("SELECT count(*) FROM breakfast_checkins")).scalar()


def bulk_applications(session, org_ids: list[int], count: int) -> None:
    """``count`` enrollment applications (mostly pending) from as many workers."""
    from service.common import clock, pii
    from service.enrollment.sensitive import ID_CONTEXT, ID_INDEX

    now = clock.now()
    rng = random.Random(11)
    batch = 5000
    for offset in range(0, count, batch):
        n = min(batch, count - offset)
        worker_ids = session.execute(text(
            "INSERT INTO workers (openid, created_at) SELECT 'app-' || g, :now "
            "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g RETURNING id"),
            {"now": now, "a": offset, "b": offset + n - 1}).scalars().all()
        rows = []
        for j, wid in enumerate(worker_ids):
            i = offset + j
            idn = f"3210021990{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 1000:03d}X"
            rows.append({
                "worker_id": wid, "organization_id": rng.choice(org_ids),
                "status": "pending" if rng.random() < 0.7 else rng.choice(["rejected", "withdrawn"]),
                "name": f"职工{i}", "gender": "male", "id_number_enc": pii.encrypt(idn, ID_CONTEXT),
                "id_number_hash": pii.blind_index(f"{i:018d}", ID_INDEX), "phone_enc": None,
                "phone_hash": None, "pii_key_version": 1,
                "occupation": rng.choice(["courier", "food_delivery", "ride_hailing", "truck_driver"]),
                "employer": "美团", "work_region": "扬州市", "consent_version": "2026-01",
                "consented_at": now - dt.timedelta(minutes=i), "submitted_at": now - dt.timedelta(minutes=i)})
        session.execute(text("""
            INSERT INTO enrollment_applications (worker_id, organization_id, status, name, gender, id_number_enc,
              id_number_hash, phone_enc, phone_hash, pii_key_version, occupation, employer, work_region,
              consent_version, consented_at, submitted_at)
            VALUES (:worker_id, :organization_id, :status, :name, :gender, :id_number_enc, :id_number_hash,
              :phone_enc, :phone_hash, :pii_key_version, :occupation, :employer, :work_region, :consent_version,
              :consented_at, :submitted_at)"""), rows)
        session.commit()
