"""Small helpers for the station tests: bodies, coordinates a given distance away, API shortcuts."""
from __future__ import annotations

import csv
import io
import math

from service.common.distance import EARTH_RADIUS_M
from tests.helpers import bearer

CENTRE = (32.394, 119.413)  # Yangzhou, GCJ-02
METRES_PER_DEG_LAT = EARTH_RADIUS_M * math.pi / 180


def offset(north_m: float = 0.0, east_m: float = 0.0, origin=CENTRE) -> tuple[float, float]:
    lat, lng = origin
    return (round(lat + north_m / METRES_PER_DEG_LAT, 7),
            round(lng + east_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat))), 7))


def body(code: str, north_m: float = 0.0, east_m: float = 0.0, **extra) -> dict:
    lat, lng = offset(north_m, east_m)
    out = {"code": code, "name": f"驿站{code}", "address": f"扬州市测试路{code}号", "lat": lat, "lng": lng,
           "phone": "0514-87000000", "amenities": ["water"], "opening_hours": "24h"}
    out.update(extra)
    return out


def create(client, token: str, code: str, north_m: float = 0.0, east_m: float = 0.0, **extra) -> dict:
    resp = client.post("/api/v1/admin/stations", json=body(code, north_m, east_m, **extra), headers=bearer(token))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def nearby(client, lat=CENTRE[0], lng=CENTRE[1], **params):
    query = {"lat": lat, "lng": lng, **params}
    return client.get("/api/v1/stations/nearby", query_string=query)


def csv_upload(rows: list[list], encoding: str = "utf-8", name: str = "stations.csv"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return io.BytesIO(buf.getvalue().encode(encoding)), name


def import_file(client, token: str, upload, **form):
    data = {"file": upload, **{k: str(v) for k, v in form.items()}}
    return client.post("/api/v1/admin/stations/import", data=data, headers=bearer(token),
                       content_type="multipart/form-data")
