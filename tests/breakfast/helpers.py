"""Helpers for the breakfast tests: staff set-up and the worker's path, over the API."""
from __future__ import annotations

import io
import itertools

from service.common import clock
from tests.helpers import bearer, bind_phone, login_worker, make_org

_phones = itertools.count(1)

# A Tuesday in March 2026, 05:40 in Yangzhou: the morning peak.
PEAK = clock.local(2026, 3, 10, 5, 40)
POINT = {"name": "文昌中路爱心早餐点", "address": "扬州市广陵区文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
         "serving_start": "05:30", "serving_end": "08:30", "daily_quota": 320}


def next_phone() -> str:
    return f"1395271{next(_phones):04d}"


def quick_staff_token(app, role: str, org_id: int | None) -> str:
    """A signed-in staff member with ``role`` over ``org_id``.

    Same session as after ``POST /auth/staff/login``, minus the two password
    hashes (scrypt, ~0.2 s each) that would dominate these tests' time; the
    login itself is exercised by tests/test_auth.py and test_demo.py.
    """
    from models import StaffRole, StaffUser, db
    from service.auth import sessions

    with app.app_context():
        username = f"{role}_{next(_phones)}"
        staff = StaffUser(username=username, password_hash="!", created_at=clock.now(),
                          roles=[StaffRole(role=role, organization_id=org_id)])
        db.session.add(staff)
        db.session.commit()
        return sessions.create("staff", staff.id, username)[0]


def setup_city(app, client):
    """An organization and a breakfast manager over it → (org_id, staff token)."""
    org = make_org(app, "扬州市总工会")
    return org, quick_staff_token(app, "breakfast_manager", org)


def create_point(client, token, **overrides) -> dict:
    body = {**POINT, **overrides}
    resp = client.post("/api/v1/admin/breakfast/points", json=body, headers=bearer(token))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def scene_of(client, token, point_id: int) -> str:
    resp = client.get(f"/api/v1/admin/breakfast/points/{point_id}/qr", headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["scene"]


def upload(client, token, content: bytes, filename: str = "roster.csv", organization_id=None):
    data = {"file": (io.BytesIO(content), filename)}
    if organization_id is not None:
        data["organization_id"] = str(organization_id)
    return client.post("/api/v1/admin/breakfast/roster/import", data=data, headers=bearer(token),
                       content_type="multipart/form-data")


def roster_csv(rows, encoding: str = "utf-8") -> bytes:
    lines = ["姓名,手机号,单位,身份证号"] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def add_to_roster(client, token, name: str, phone: str, employer: str = "扬州市环境卫生管理处", org_id=None):
    resp = upload(client, token, roster_csv([(name, phone, employer, "")]), organization_id=org_id)
    assert resp.status_code == 200 and resp.get_json()["errors"] == [], resp.get_json()


def eligible_worker(client, staff, name: str = "alice", phone: str | None = None) -> str:
    """A worker on the roster who bound that phone and claimed eligibility → token."""
    phone = phone or next_phone()
    add_to_roster(client, staff, f"职工{name}", phone)
    token = login_worker(client, name)
    bind_phone(client, token, phone)
    resp = client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return token


def check_in(client, token, scene: str, **location):
    return client.post("/api/v1/breakfast/checkins", json={"scene": scene, **location}, headers=bearer(token))
