"""Two instances of the service, one PostgreSQL database, one Redis: nothing lives in a process.

Two separate app objects are built with ``build_app`` and each is served by
its own threaded werkzeug server on its own port.  The tests talk to them over
real HTTP (``requests``), alternating between instance A and instance B in
the middle of each flow, as a load balancer would: sessions, rate limits, the
stations' GEO index, the WeChat access token and the notification outbox must
all be shared through PostgreSQL and Redis, never kept in one process.
"""
from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from service.common import clock
from tests.conftest import _migrate, build_app, clean
from wechat import fake

pytestmark = pytest.mark.postgres

# Tuesday 10 March 2026, 06:00 in Yangzhou: breakfast is served, next week's slots are bookable.
NOW = clock.local(2026, 3, 10, 6, 0)
_codes = itertools.count(1)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Instance:
    """One app on its own port, called over HTTP."""

    def __init__(self, name: str, app):
        self.name, self.app = name, app
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"instance-{name}", daemon=True)
        self.thread.start()
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self.http.close()
        self.server.shutdown()
        self.server.server_close()
        from models import db
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def instances(pg_url, redis_server, fake_wechat_url):
    apps = [build_app(pg_url, redis_server.url, fake_wechat_url) for _ in range(2)]
    _migrate(apps[0])
    pair = [Instance("A", apps[0]), Instance("B", apps[1])]
    yield pair
    for instance in pair:
        instance.stop()


@pytest.fixture
def ab(instances, redis_client):
    clean(instances[0].app, redis_client)
    instances[1].app.extensions["wechat"].reset()  # clean() reset A's gateway; B's too
    clock.freeze(NOW)
    yield instances
    clock.freeze(None)


def ok(resp: requests.Response, status: int = 200) -> dict:
    assert resp.status_code == status, (resp.request.method, resp.url, resp.status_code, resp.text[:500])
    return resp.json() if resp.content else {}


def code(resp: requests.Response) -> str:
    return resp.json()["error"]["code"]


def worker_login(instance: Instance, name: str) -> str:
    return ok(instance.call("POST", "/api/v1/auth/wechat/login", json={"code": f"dev-{name}.{next(_codes)}"}))["token"]


def staff(instance: Instance, role: str, org_id: int | None) -> str:
    """A staff account created in the database, signed in over HTTP on ``instance``."""
    from tests.helpers import make_staff

    username = f"{role}_{next(_codes)}"
    make_staff(instance.app, username, role, org_id)
    return ok(instance.call("POST", "/api/v1/auth/staff/login",
                            json={"username": username, "password": "Passw0rd!"}))["token"]


def organization(instance: Instance) -> int:
    from tests.helpers import make_org
    return make_org(instance.app, "扬州市总工会")


# --- flows across instances ----------------------------------------------------------------------

def test_enrollment_flow_hops_between_instances(ab):
    a, b = ab
    org = organization(a)
    reviewer = staff(b, "enrollment_reviewer", org)
    worker = worker_login(a, "twoalice")
    assert ok(b.call("GET", "/api/v1/me", worker))["kind"] == "worker"  # A's session is valid on B
    assert ok(b.call("POST", "/api/v1/auth/wechat/phone", worker, json={"code": "phone-13952719901"})) == {
        "phone": "139****9901"}
    assert ok(a.call("GET", "/api/v1/me", worker))["phone"] == "139****9901"
    application = ok(a.call("POST", "/api/v1/enrollment/applications", worker, json={
        "name": "张三", "gender": "female", "id_number": "11010519491231002X", "phone": "13952719901",
        "occupation": "courier", "employer": "顺丰", "work_region": "广陵区", "organization_id": org,
        "consent": True}), 201)
    queue = ok(b.call("GET", "/api/v1/admin/enrollment/applications", reviewer, params={"status": "pending"}))
    assert [item["id"] for item in queue["items"]] == [application["id"]]
    approved = ok(b.call("POST", f"/api/v1/admin/enrollment/applications/{application['id']}/approve", reviewer))
    assert approved["status"] == "approved"
    card = ok(a.call("GET", "/api/v1/enrollment/membership", worker))
    assert card["member_no"] == approved["member_no"] and card["status"] == "active"
    # approving twice, once on each instance, is one approval
    assert code(a.call("POST", f"/api/v1/admin/enrollment/applications/{application['id']}/approve",
                       reviewer)) == "invalid_state"
    # logging out on B ends the session on A
    assert b.call("POST", "/api/v1/auth/logout", worker).status_code == 204
    assert a.call("GET", "/api/v1/me", worker).status_code == 401


def test_a_station_created_on_one_instance_is_found_near_by_on_the_other(ab):
    a, b = ab
    admin = staff(a, "admin", None)
    near = {"lat": 32.394, "lng": 119.413, "radius_m": 3000}
    station = ok(a.call("POST", "/api/v1/admin/stations", admin, json={
        "code": "TWO-1", "name": "双实例驿站", "address": "扬州市文昌中路 1 号", "lat": 32.3945, "lng": 119.4135,
        "amenities": ["water", "charging"], "opening_hours": "24h"}), 201)
    found = ok(b.call("GET", "/api/v1/stations/nearby", params=near))["items"]
    assert [s["id"] for s in found] == [station["id"]]
    assert ok(b.call("GET", f"/api/v1/stations/{station['id']}"))["name"] == "双实例驿站"
    # moved far away on B: A no longer finds it near by
    ok(b.call("PATCH", f"/api/v1/admin/stations/{station['id']}", admin, json={"lat": 32.2, "lng": 119.9}))
    assert ok(a.call("GET", "/api/v1/stations/nearby", params=near))["items"] == []
    assert a.call("DELETE", f"/api/v1/admin/stations/{station['id']}", admin).status_code == 204
    assert b.call("GET", f"/api/v1/stations/{station['id']}").status_code == 404


def test_a_breakfast_checked_in_on_one_instance_is_refused_on_the_other(ab):
    a, b = ab
    org = organization(a)
    manager = staff(a, "breakfast_manager", org)
    point = ok(a.call("POST", "/api/v1/admin/breakfast/points", manager, json={
        "name": "文昌中路爱心早餐点", "address": "扬州市文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
        "serving_start": "05:30", "serving_end": "08:30", "daily_quota": 100}), 201)
    scene = ok(b.call("GET", f"/api/v1/admin/breakfast/points/{point['id']}/qr", manager))["scene"]
    roster = "姓名,手机号,单位\r\n王环卫,13952719902,扬州市环境卫生管理处\r\n".encode()
    result = ok(b.call("POST", "/api/v1/admin/breakfast/roster/import", manager,
                       files={"file": ("roster.csv", roster, "text/csv")}))
    assert result["created"] == 1 and result["errors"] == []
    worker = worker_login(b, "twosweeper")
    ok(a.call("POST", "/api/v1/auth/wechat/phone", worker, json={"code": "phone-13952719902"}))
    assert ok(b.call("POST", "/api/v1/breakfast/eligibility/claim", worker))["eligible"] is True

    first = ok(a.call("POST", "/api/v1/breakfast/checkins", worker, json={"scene": scene}), 201)
    again = b.call("POST", "/api/v1/breakfast/checkins", worker, json={"scene": scene})
    assert again.status_code == 409 and code(again) == "already_checked_in"
    assert again.json()["error"]["details"]["point_name"] == "文昌中路爱心早餐点"
    assert ok(b.call("GET", "/api/v1/breakfast/checkins/mine", worker))["total"] == 1
    today = ok(a.call("GET", f"/api/v1/admin/breakfast/points/{point['id']}/today", manager))
    assert today["served"] == 1 and first["point"]["id"] == point["id"]


def test_a_booking_made_on_one_instance_is_cancelled_on_the_other(ab):
    a, b = ab
    org = organization(a)
    legal = staff(b, "legal_aid_staff", org)
    lawyer = ok(b.call("POST", "/api/v1/admin/legal-aid/providers", legal, json={
        "name": "王律师", "kind": "lawyer", "organization_id": org, "firm": "江苏某某律师事务所"}), 201)
    starts = NOW + dt.timedelta(days=2, hours=3)
    slot = ok(a.call("POST", "/api/v1/admin/legal-aid/slots", legal, json={
        "provider_id": lawyer["id"], "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=1)).isoformat(), "capacity": 1, "mode": "offline",
        "location": "市总工会法律服务室"}), 201)["slot"]
    alice, bob = worker_login(a, "twobooker"), worker_login(b, "twoother")
    booking = ok(a.call("POST", "/api/v1/legal-aid/bookings", alice, json={
        "slot_id": slot["id"], "topic": "wage_arrears", "description": "老板拖欠三个月工资"}), 201)
    full = b.call("POST", "/api/v1/legal-aid/bookings", bob, json={
        "slot_id": slot["id"], "topic": "labor_contract", "description": "没有签劳动合同"})
    assert full.status_code == 409 and code(full) == "slot_full"
    cancelled = ok(b.call("POST", f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", alice))
    assert cancelled["status"] == "cancelled"
    assert ok(a.call("GET", f"/api/v1/legal-aid/bookings/{booking['id']}", alice))["status"] == "cancelled"
    # the seat freed on B is bookable on A
    ok(a.call("POST", "/api/v1/legal-aid/bookings", bob, json={
        "slot_id": slot["id"], "topic": "labor_contract", "description": "没有签劳动合同"}), 201)


def test_rate_limits_are_counted_across_instances(ab):
    a, b = ab
    worker = worker_login(a, "twolimited")
    limit = int(a.app.config["RATELIMIT_CHECKIN"].split()[0])
    statuses = [(a if i % 2 else b).call("POST", "/api/v1/breakfast/checkins", worker,
                                         json={"scene": "not-a-scene"}).status_code for i in range(limit)]
    assert 429 not in statuses
    over = a.call("POST", "/api/v1/breakfast/checkins", worker, json={"scene": "not-a-scene"})
    assert over.status_code == 429 and code(over) == "rate_limited" and over.headers.get("Retry-After")


# --- WeChat: one access token, one sending of each message ------------------------------------------

def test_the_wechat_access_token_is_fetched_once_for_both_instances(ab, redis_client):
    a, b = ab
    for i, instance in enumerate([a, b, a, b]):
        worker = worker_login(instance, f"twotoken{i}")
        other = b if instance is a else a
        ok(other.call("POST", "/api/v1/auth/wechat/phone", worker, json={"code": f"phone-1395271990{i}"}))
    assert fake.call_counts(redis_client).get("wxa/business/getuserphonenumber") == 4
    assert fake.token_fetch_count(redis_client) == 1


def test_two_senders_never_send_a_message_twice(ab, redis_client):
    from models import Notification, db
    from service.notifications.outbox import enqueue
    from service.notifications.sender import send_due

    a, b = ab
    worker_ids = []
    for i in range(3):
        token = worker_login(a, f"twonotify{i}")
        worker_ids.append(ok(b.call("GET", "/api/v1/me", token))["id"])
    queued = []
    with a.app.app_context():
        for n in range(45):
            text = f"消息{n:02d}"
            enqueue(worker_ids[n % 3], "booking_confirmed", {"thing1": text, "time2": clock.now()})
            queued.append(text)
        db.session.commit()
        db.session.remove()
    fake.set_mode(redis_client, "slow", delay=0.02)  # both senders are mid-send at the same time

    barrier = threading.Barrier(4)
    passes, errors = [], []  # (instance, messages sent) per pass

    def sender(instance: Instance):  # two sender threads per instance, each with the instance's app
        try:
            with instance.app.app_context():
                barrier.wait(timeout=30)
                for _ in range(2):
                    passes.append((instance.name, send_due(batch_size=4).sent))
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=sender, args=(instance,)) for instance in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    fake.set_mode(redis_client, "normal")
    assert errors == []
    sent = [m["data"]["thing1"]["value"] for m in fake.sent_messages(redis_client)]
    assert sorted(sent) == sorted(queued)  # every message once: none lost, none twice
    sent_by = {name: sum(n for who, n in passes if who == name) for name in ("A", "B")}
    assert sent_by["A"] + sent_by["B"] == len(queued)
    assert sent_by["A"] > 0 and sent_by["B"] > 0, sent_by  # both instances really took part
    assert fake.token_fetch_count(redis_client) == 1
    with a.app.app_context():
        statuses = {s for (s,) in db.session.query(Notification.status)}
        db.session.remove()
    assert statuses == {"sent"}
