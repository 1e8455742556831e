"""Arrange wage-arrears data over the API, as workers and rights staff do."""
from __future__ import annotations

import io
import random

from PIL import Image

from service.common import clock
from tests.helpers import bearer, bind_phone, login_worker, make_org, staff_token

# Monday 2 March 2026, 09:00 in Yangzhou: the tests' "now".
NOW = clock.local(2026, 3, 2, 9, 0)
# Valid unified social credit codes (GB 32100 check characters).
CREDIT_CODE = "91110000600037341L"


def png(width: int = 64, height: int = 48, noise: bool = False) -> bytes:
    """A small real PNG made with Pillow (noise makes its data long enough to cut)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    if noise:
        rnd = random.Random(7)
        image.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
                       for _ in range(width * height)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def report_body(**fields) -> dict:
    body = {"employer_name": "扬州 宏达建筑（集团）有限公司", "work_address": "扬州市广陵区文昌东路 88 号工地",
            "period_from": "2025-11", "period_to": "2026-01", "amount_owed": 12000.5, "workers_affected": 4,
            "description": "工程完工后老板一直拖欠三个月工资"}
    body.update(fields)
    return body


class World:
    """A city federation with two district unions, rights staff in one district and a
    city-wide admin."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.city = make_org(app, "扬州市总工会")
        self.district = make_org(app, "广陵区总工会", self.city)
        self.other = make_org(app, "邗江区总工会", self.city)
        self.staff = staff_token(app, client, "rights_staff", self.district)
        self.admin = staff_token(app, client, "admin", self.city)

    def worker(self, name: str, phone: str | None = "13800138000") -> str:
        token = login_worker(self.client, name)
        if phone:
            bind_phone(self.client, token, phone)
        return token

    def report(self, token: str, **fields):
        fields.setdefault("organization_id", self.district)
        return self.client.post("/api/v1/arrears/reports", json=report_body(**fields), headers=bearer(token))

    def submitted(self, token: str, **fields) -> dict:
        resp = self.report(token, **fields)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    def upload(self, token: str, report_id: int, data: bytes, filename: str = "photo.png"):
        return self.client.post(f"/api/v1/arrears/reports/{report_id}/evidence", headers=bearer(token),
                                data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")

    def accept(self, report_id: int, token: str | None = None):
        return self.client.post(f"/api/v1/admin/arrears/reports/{report_id}/accept",
                                headers=bearer(token or self.staff))

    def accepted(self, report_id: int) -> dict:
        resp = self.accept(report_id)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def move(self, case_id: int, token: str | None = None, **body):
        return self.client.post(f"/api/v1/admin/arrears/cases/{case_id}/transition", json=body,
                                headers=bearer(token or self.staff))

    def moved(self, case_id: int, **body) -> dict:
        resp = self.move(case_id, **body)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def mine(self, token: str, report_id: int) -> dict:
        resp = self.client.get(f"/api/v1/arrears/reports/{report_id}", headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()


def send_messages(app):
    """Run the outbox sender once, as ``flask notifications send-due`` does."""
    from models import db
    from service.notifications.sender import send_due

    with app.app_context():
        try:
            return send_due()
        finally:
            db.session.remove()


def query(app, stmt):
    """Rows of a SELECT, read in an app context of its own."""
    from models import db

    with app.app_context():
        try:
            return db.session.execute(stmt).all()
        finally:
            db.session.remove()
