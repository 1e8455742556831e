"""The OpenAPI document is a contract the service keeps, under generated input.

schemathesis reads ``/api/v1/openapi.json`` from the app (in process, over
WSGI) and sends every operation generated requests — valid ones and invalid
ones (wrong types, missing fields, out-of-range numbers, odd strings, unknown
fields, broken path parameters).  Each response must be:

- never a 5xx (``not_a_server_error``);
- a status code the document lists for the operation (``status_code_conformance``);
- of a content type the document lists for that status (``content_type_conformance``);
- shaped as the documented schema (``response_schema_conformance``).

One backend is enough for the contract: the app runs on SQLite only (what
only PostgreSQL refuses — NUL characters, lone surrogates — is checked on
both databases in tests/test_security.py).  Rate limits are raised out of
reach (a fuzzer trips them by design; they are tested elsewhere).  A little
data is seeded first — an organization, a station, a breakfast
point with a roster entry, a lawyer with slots, a worker with an
application, a booking and a check-in — so that generated ids (small
integers are generated often) reach real records.  Worker endpoints are
called with a worker's token, staff endpoints (``/admin/``) with a
whole-federation admin's.
"""
from __future__ import annotations

import datetime as dt
import io
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.common import clock
from tests.arrears.helpers import png
from tests.conftest import _migrate, build_app, clean
from tests.helpers import bearer, bind_phone, login_worker, make_org, staff_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Generated examples per operation (besides schemathesis' coverage cases and the
# documented examples): the 71 fuzzed operations × 25 take about 80 s on a busy
# 2-core machine.  By hand, FUZZ_EXAMPLES=200 digs deeper, FUZZ_RANDOM=1 draws
# new cases and FUZZ_DB=postgres runs them against PostgreSQL.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

ROSTER_PHONE = "13952710001"


def _load_contract():
    """The OpenAPI document, read from an app built only for that (no database or Redis is touched).

    The document depends on code, not on data, so it is loaded at import and
    each case is then sent to the seeded app of ``fuzz_app``.  The rate
    limiter keeps its state on each app, so this app's switched-off limits
    leave every other app's alone.
    """
    from service import create_app

    spec_app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": "redis://127.0.0.1:1/0",
                           "WECHAT_API_BASE": "fake", "RATELIMIT_ENABLED": False}, env="testing")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", spec_app)


# Generous limits rather than none: every fuzzed request still goes through the limiter.
NO_LIMITS = {name: "1000000 per minute" for name in
             ("RATELIMIT_LOGIN", "RATELIMIT_NEARBY", "RATELIMIT_CHECKIN", "RATELIMIT_ARREARS")}


@pytest.fixture(scope="module")
def fuzz_app(request, redis_server, fake_wechat_url, redis_client):
    # FUZZ_DB=postgres points the fuzzer at PostgreSQL instead, by hand (e.g. to look for
    # what only PostgreSQL refuses, such as NUL characters in text).
    url = request.getfixturevalue("pg_url" if os.environ.get("FUZZ_DB") == "postgres" else "sqlite_url")
    application = build_app(url, redis_server.url, fake_wechat_url, **NO_LIMITS)
    _migrate(application)
    clean(application, redis_client)
    yield application
    from models import db
    with application.app_context():
        db.session.remove()
    clean(application, redis_client)


@pytest.fixture(scope="module")
def tokens(fuzz_app):
    """Seed a little of everything; → {"worker": token, "admin": token}."""
    client = fuzz_app.test_client()
    org = make_org(fuzz_app, "扬州市总工会")
    make_org(fuzz_app, "广陵区总工会", org)
    admin = staff_token(fuzz_app, client, "admin", None)
    worker = login_worker(client, "fuzz")
    bind_phone(client, worker, ROSTER_PHONE)

    def ok(resp, status=(200, 201)):
        assert resp.status_code in status, (resp.status_code, resp.get_json())
        return resp.get_json()

    # a station with a worker's report
    station = ok(client.post("/api/v1/admin/stations", headers=bearer(admin), json={
        "code": "YZ-0001", "name": "文昌驿站", "address": "扬州市广陵区文昌中路 1 号", "lat": 32.394,
        "lng": 119.413, "phone": "0514-87000000", "amenities": ["water", "charging"], "opening_hours": "24h"}))
    ok(client.post(f"/api/v1/stations/{station['id']}/reports", headers=bearer(worker),
                   json={"kind": "facility_broken", "comment": "饮水机坏了"}))
    # a breakfast point, the worker on its roster
    point = ok(client.post("/api/v1/admin/breakfast/points", headers=bearer(admin), json={
        "name": "文昌中路爱心早餐点", "address": "扬州市广陵区文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
        "serving_start": "00:00", "serving_end": "23:59", "daily_quota": 300, "organization_id": org}))
    roster = f"姓名,手机号,单位\r\n职工甲,{ROSTER_PHONE},扬州市环境卫生管理处\r\n".encode()
    ok(client.post("/api/v1/admin/breakfast/roster/import", headers=bearer(admin),
                   data={"file": (io.BytesIO(roster), "roster.csv"), "organization_id": str(org)},
                   content_type="multipart/form-data"))
    ok(client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)))
    scene = ok(client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(admin)))["scene"]
    client.post("/api/v1/breakfast/checkins", headers=bearer(worker), json={"scene": scene})
    # a lawyer with slots (one single, a weekly rule), one booked by the worker
    lawyer = ok(client.post("/api/v1/admin/legal-aid/providers", headers=bearer(admin), json={
        "name": "王律师", "kind": "lawyer", "organization_id": org, "firm": "江苏某某律师事务所"}))
    start = clock.local_now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    slot = ok(client.post("/api/v1/admin/legal-aid/slots", headers=bearer(admin), json={
        "provider_id": lawyer["id"], "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=1)).isoformat(), "capacity": 3, "mode": "offline",
        "location": "市总工会法律服务室"}))
    today = clock.today_local()
    ok(client.post("/api/v1/admin/legal-aid/slots", headers=bearer(admin), json={
        "provider_id": lawyer["id"], "weekdays": [1, 3, 5], "start": "14:00", "end": "15:00", "capacity": 2,
        "mode": "online", "location": "线上", "from": today.isoformat(),
        "until": (today + dt.timedelta(days=10)).isoformat()}))
    ok(client.post("/api/v1/legal-aid/bookings", headers=bearer(worker), json={
        "slot_id": slot["slot"]["id"], "topic": "wage_arrears", "description": "老板拖欠三个月工资",
        "contact_phone": "13800138000"}))
    # an enrollment application
    ok(client.post("/api/v1/enrollment/applications", headers=bearer(worker), json={
        "name": "张三", "gender": "female", "id_number": "11010519491231002X",
        "phone": "13800138000", "occupation": "courier", "employer": "顺丰", "work_region": "广陵区",
        "organization_id": org, "consent": True}))
    # a wage-arrears report with a photo, accepted into a case
    arrears = ok(client.post("/api/v1/arrears/reports", headers=bearer(worker), json={
        "employer_name": "扬州宏达建筑有限公司", "work_address": "广陵区文昌东路工地", "organization_id": org,
        "period_from": "2025-12", "period_to": "2026-01", "amount_owed": 5000, "workers_affected": 2,
        "description": "拖欠两个月工资"}))
    ok(client.post(f"/api/v1/arrears/reports/{arrears['id']}/evidence", headers=bearer(worker),
                   data={"file": (io.BytesIO(png()), "photo.png")}, content_type="multipart/form-data"))
    ok(client.post(f"/api/v1/admin/arrears/reports/{arrears['id']}/accept", headers=bearer(admin)))
    return {"worker": worker, "admin": admin}


# Excluded: these two revoke the tokens every other operation uses (and ``DELETE /me``
# erases the seeded worker), and they take no input to fuzz.  Both are covered by
# tests/test_auth.py and the authorization matrix.
schema = _load_contract().exclude(method="POST", path="/api/v1/auth/logout").exclude(
    method="DELETE", path="/api/v1/me")


# Derandomized: CI runs the same cases every time (a failure reproduces); FUZZ_RANDOM=1
# draws new ones, for digging by hand.
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("FUZZ_RANDOM"),
          suppress_health_check=list(HealthCheck))
@schema.parametrize()
def test_every_operation_keeps_its_documented_contract(case, fuzz_app, tokens):
    token = tokens["admin"] if "/admin/" in case.path else tokens["worker"]
    case.call_and_validate(app=fuzz_app, headers=bearer(token), checks=CHECKS)
