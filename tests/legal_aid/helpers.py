"""Arrange legal-aid data over the API, as staff and workers do."""
from __future__ import annotations

import datetime as dt

from service.common import clock
from tests.helpers import bearer, make_org, staff_token

# Monday 2 March 2026, 09:00 in Yangzhou: the tests' "now".
NOW = clock.local(2026, 3, 2, 9, 0)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    """An Asia/Shanghai time in March 2026."""
    return clock.local(2026, month, day, hour, minute)


def iso(value: dt.datetime) -> str:
    return value.isoformat()


class World:
    """A city federation with a district union, its legal-aid staff and a lawyer."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.city = make_org(app, "扬州市总工会")
        self.district = make_org(app, "广陵区总工会", self.city)
        self.staff = staff_token(app, client, "legal_aid_staff", self.city)
        self.lawyer = self.provider()

    def provider(self, org_id: int | None = None, token: str | None = None, **fields) -> int:
        body = {"name": "王律师", "kind": "lawyer", "organization_id": org_id or self.city,
                "firm": "江苏某某律师事务所", "phone": "0514-87000000"}
        body.update(fields)
        resp = self.client.post("/api/v1/admin/legal-aid/providers", json=body,
                                headers=bearer(token or self.staff))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["id"]

    def slot(self, starts: dt.datetime, minutes: int = 60, capacity: int = 2, provider_id: int | None = None,
             mode: str = "offline", location: str | None = "广陵区总工会法律服务室", token: str | None = None) -> int:
        body = {"provider_id": provider_id or self.lawyer, "starts_at": iso(starts),
                "ends_at": iso(starts + dt.timedelta(minutes=minutes)), "capacity": capacity, "mode": mode}
        if location is not None:
            body["location"] = location
        resp = self.client.post("/api/v1/admin/legal-aid/slots", json=body, headers=bearer(token or self.staff))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["slot"]["id"]

    def rule(self, **fields) -> dict:
        body = {"provider_id": self.lawyer, "weekdays": [1, 3], "start": "14:00", "end": "15:00",
                "capacity": 2, "mode": "offline", "location": "市总工会一楼法律服务窗口",
                "from": "2026-03-02", "until": "2026-03-15"}
        body.update(fields)
        resp = self.client.post("/api/v1/admin/legal-aid/slots", json=body, headers=bearer(self.staff))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()


def book(client, token: str, slot_id: int, topic: str = "wage_arrears", description: str = "老板拖欠三个月工资",
         **extra):
    body = {"slot_id": slot_id, "topic": topic, "description": description}
    body.update(extra)
    return client.post("/api/v1/legal-aid/bookings", json=body, headers=bearer(token))


def public_slot(client, slot_id: int, **params) -> dict | None:
    """The slot as the worker's list shows it, or None when it is not listed."""
    resp = client.get("/api/v1/legal-aid/slots", query_string={"per_page": 100, **params})
    assert resp.status_code == 200, resp.get_json()
    return next((s for s in resp.get_json()["items"] if s["id"] == slot_id), None)


def query(app, stmt):
    """Rows of a SELECT, read in an app context of its own (closed before the next request)."""
    from models import db

    with app.app_context():
        try:
            return db.session.execute(stmt).all()
        finally:
            db.session.remove()
