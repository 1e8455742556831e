"""Helpers for the enrollment tests: valid fictional ID numbers and application forms."""
from __future__ import annotations

import itertools

from service.common.validators import check_digit
from tests.helpers import bearer

_sequence = itertools.count(1)


def make_id(birth: str = "19900101", gender: str = "male", region: str = "321002", seq: int | None = None) -> str:
    """A valid 18-character resident ID: Yangzhou region, ``birth`` (YYYYMMDD), the
    sequence digit matching ``gender``, the right check digit."""
    n = next(_sequence) if seq is None else seq
    n = (2 * n + (1 if gender == "male" else 0)) % 1000
    first17 = f"{region}{birth}{n:03d}"
    return first17 + check_digit(first17)


def form(org_id: int, **overrides) -> dict:
    body = {
        "name": "王小明",
        "gender": "male",
        "id_number": make_id(),
        "phone": "13912345678",
        "occupation": "courier",
        "employer": "顺丰速运",
        "work_region": "广陵区",
        "organization_id": org_id,
        "consent": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}  # None drops a field


def apply(client, token: str, org_id: int, **overrides):
    return client.post("/api/v1/enrollment/applications", json=form(org_id, **overrides), headers=bearer(token))


_staff_numbers = itertools.count(1)


def quick_staff(app, client, role: str, org_id: int | None = None) -> str:
    """A staff account (with a cheap password hash, to keep the tests fast) signed in
    through the real login endpoint → token."""
    from werkzeug.security import generate_password_hash

    from models import StaffRole, StaffUser, db
    from service.common import clock

    username = f"{role}_{next(_staff_numbers)}"
    with app.app_context():
        staff = StaffUser(username=username, display_name=username, created_at=clock.now(),
                          password_hash=generate_password_hash("Passw0rd!", method="pbkdf2:sha256:1000"))
        staff.roles = [StaffRole(role=role, organization_id=org_id)]
        db.session.add(staff)
        db.session.commit()
    resp = client.post("/api/v1/auth/staff/login", json={"username": username, "password": "Passw0rd!"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]
