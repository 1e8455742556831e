"""``DELETE /me`` reaches every feature that stores a worker's personal data.

A worker leaves a trace in every feature — an application, a roster entry and
a breakfast, a booking, a station report, the messages owed to them — each
carrying marker text.  After ``DELETE /api/v1/me`` no table holds any of it,
in clear or encrypted, and every table that refers to a worker is one this
test knows: a new table with a worker reference fails here until the test
(and the erasure list in service/worker_data.py) covers it.
"""
from __future__ import annotations

import io

from sqlalchemy import select

from models import db
from service.common import clock, pii
from tests.arrears.helpers import png, report_body
from tests.breakfast.helpers import create_point, quick_staff_token, scene_of
from tests.enrollment import apply, make_id
from tests.helpers import bearer, bind_phone, login_worker, outcome
from tests.legal_aid.helpers import World

PHONE = "13952719977"
ID_NUMBER = make_id(birth="19880808", gender="female")
MARKERS = ("擦除标记姓名", "擦除标记雇主", "擦除标记咨询", "擦除标记反馈", "擦除标记欠薪地址", "擦除标记欠薪经过")

# What each encrypted column is bound to (AES-GCM associated data).
CONTEXTS = ("worker.phone", "enrollment.id_number", "enrollment.phone", "breakfast_roster.phone",
            "breakfast_roster.id_number", "legal_aid.description", "legal_aid.contact_phone",
            "arrears.work_address", "arrears.description")

# Every table with a column that refers to workers, and what the erasure leaves there.
WORKER_TABLES = {
    "enrollment_applications", "memberships", "breakfast_roster", "breakfast_checkins", "legal_aid_bookings",
    "station_reports", "notifications", "arrears_reports", "staff_users",
}


def _worker_tables() -> set[str]:
    found = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "workers" for fk in column.foreign_keys):
                found.add(table.name)
    return found


def _everything_stored(app) -> str:
    """Every text value of every table, with each ciphertext decrypted where it can be."""
    out = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                for name, value in row.items():
                    if isinstance(value, str):
                        out.append(value)
                        if value[:1] == "v" and ":" in value[:5]:
                            for context in CONTEXTS:
                                try:
                                    out.append(pii.decrypt(value, context) or "")
                                except Exception:
                                    pass
                    elif isinstance(value, (dict, list)):
                        out.append(repr(value))
        db.session.remove()
    return "\n".join(out)


def test_erasure_reaches_every_feature_that_stores_personal_data(app, client):
    with app.app_context():
        assert _worker_tables() == WORKER_TABLES, "a table refers to workers: cover it here and in worker_data.py"

    # Tuesday 10 March 2026, 06:00: breakfast is served, next week's slots are bookable
    clock.freeze(clock.local(2026, 3, 10, 6, 0))
    legal = World(app, client)
    org = legal.city
    worker = login_worker(client, "erasable")
    bind_phone(client, worker, PHONE)

    # enrollment: an application with the marker name and employer
    resp = apply(client, worker, org, name=MARKERS[0], employer=MARKERS[1], id_number=ID_NUMBER, phone=PHONE,
                 gender="female")
    assert resp.status_code == 201, resp.get_json()

    # breakfast: on the roster under the marker name, claimed, checked in
    manager = quick_staff_token(app, "breakfast_manager", org)
    roster = f"姓名,手机号,单位\r\n{MARKERS[0]},{PHONE},扬州市环境卫生管理处\r\n".encode()
    resp = client.post("/api/v1/admin/breakfast/roster/import", headers=bearer(manager),
                       data={"file": (io.BytesIO(roster), "roster.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.get_json()["created"] == 1, resp.get_json()
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    point = create_point(client, manager, organization_id=org)
    scene = scene_of(client, manager, point["id"])
    resp = client.post("/api/v1/breakfast/checkins", json={"scene": scene, "lat": point["lat"], "lng": point["lng"]},
                       headers=bearer(worker))
    assert resp.status_code == 201, resp.get_json()

    # legal aid: a booking with the marker description and contact phone
    slot = legal.slot(clock.local(2026, 3, 12, 14, 0))
    resp = client.post("/api/v1/legal-aid/bookings", headers=bearer(worker), json={
        "slot_id": slot, "topic": "wage_arrears", "description": MARKERS[2], "contact_phone": "13952719988"})
    assert resp.status_code == 201, resp.get_json()

    # stations: a report with the marker comment
    admin = quick_staff_token(app, "admin", None)
    resp = client.post("/api/v1/admin/stations", headers=bearer(admin), json={
        "code": "ERASE-1", "name": "擦除测试驿站", "address": "扬州市文昌中路 1 号", "lat": 32.3945, "lng": 119.4135,
        "amenities": ["water"], "opening_hours": "24h"})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post(f"/api/v1/stations/{resp.get_json()['id']}/reports", headers=bearer(worker),
                       json={"kind": "facility_broken", "comment": MARKERS[3]})
    assert resp.status_code == 201, resp.get_json()

    # wage arrears: a report with the marker address and account, and a photo
    resp = client.post("/api/v1/arrears/reports", headers=bearer(worker), json=report_body(
        organization_id=org, work_address=MARKERS[4], description=MARKERS[5]))
    assert resp.status_code == 201, resp.get_json()
    report = resp.get_json()["id"]
    resp = client.post(f"/api/v1/arrears/reports/{report}/evidence", headers=bearer(worker),
                       data={"file": (io.BytesIO(png()), "evidence.png")}, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()

    # a staff member's own WeChat: this worker account linked to a staff account
    resp = client.post("/api/v1/admin/me/wechat-binding", headers=bearer(admin))
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/me/staff-binding", json={"code": resp.get_json()["code"]}, headers=bearer(worker))
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/api/v1/me/data", headers=bearer(worker)).get_json()["staff_binding"] is not None

    before = _everything_stored(app)
    for marker in MARKERS:
        assert marker in before, marker  # the test really stored each one
    assert PHONE in before and ID_NUMBER in before

    assert client.delete("/api/v1/me", headers=bearer(worker)).status_code == 204

    after = _everything_stored(app)
    for marker in MARKERS:
        assert marker not in after, marker
    assert PHONE not in after and ID_NUMBER not in after and "13952719988" not in after
    with app.app_context():
        for purpose in ("phone", "id_number"):
            for value in (PHONE, ID_NUMBER):
                assert pii.blind_index(value, purpose) not in after
    # aggregates stay: the breakfast was served, the booking happened
    with app.app_context():
        rows = {t: db.session.execute(select(db.metadata.tables[t])).all() for t in ("breakfast_checkins",
                                                                                  "legal_aid_bookings")}
        db.session.remove()
    assert len(rows["breakfast_checkins"]) == 1 and len(rows["legal_aid_bookings"]) == 1
    with app.app_context():
        reports = db.session.execute(select(db.metadata.tables["arrears_reports"])).mappings().all()
        photos = db.session.execute(select(db.metadata.tables["arrears_evidence"])).all()
        db.session.remove()
    assert [(float(r["amount_owed"]), r["workers_affected"], r["worker_id"]) for r in reports] == [(12000.5, 4, None)]
    assert photos == []
    with app.app_context():
        linked = db.session.execute(select(db.metadata.tables["staff_users"].c.worker_id)).scalars().all()
        db.session.remove()
    assert linked and set(linked) == {None}
    # and the token is gone with the account
    assert outcome(client.get("/api/v1/me", headers=bearer(worker))) == (401, "unauthenticated")
