"""Two instances of the service, one PostgreSQL database, one Redis: nothing lives in a process.

Each instance is gunicorn serving ``wsgi:app`` in its own interpreter,
configured only through the environment, exactly as production starts it.
The tests talk to them over real HTTP (``requests``), alternating between
instance A and instance B in the middle of each flow, as a load balancer
would: sessions, rate limits, the stations' search, the WeChat access token
and the notification outbox must all be shared through PostgreSQL and Redis,
never kept in one process.  Each instance has its own clock, so the flows
use real time (a point that serves all day, slots two days ahead).

Test data that no endpoint creates (staff accounts, organizations) is
arranged through an app object of the test's own on the same database.
"""
from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import time

import pytest
import requests

from service.common import clock
from tests.conftest import _migrate, build_app, clean
from tests.helpers import make_org, make_staff
from tests.support.servers import ROOT, ServiceProcess
from wechat import fake

pytestmark = pytest.mark.postgres

_codes = itertools.count(1)


class Instance:
    """One gunicorn process on its own port, called over HTTP."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.process = ServiceProcess(env, workers=2, threads=4, name=f"instance-{name}").start()
        self.base = self.process.url
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


def instance_env(pg_url: str, redis_url: str, wechat_url: str) -> dict[str, str]:
    return {"APP_ENV": "testing", "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "WECHAT_API_BASE": wechat_url}


@pytest.fixture(scope="module")
def arranger(pg_url, redis_server, fake_wechat_url):
    """The test's own app on the instances' database: for staff and organizations."""
    app = build_app(pg_url, redis_server.url, fake_wechat_url)
    _migrate(app)
    return app


@pytest.fixture(scope="module")
def instances(arranger, pg_url, redis_server, fake_wechat_url):
    env = instance_env(pg_url, redis_server.url, fake_wechat_url)
    pair = [Instance("A", env), Instance("B", env)]
    yield pair
    for instance in pair:
        instance.stop()


@pytest.fixture
def ab(instances, arranger, redis_client):
    clean(arranger, redis_client)
    # a serving window of 00:00–23:59: never let a flow straddle the last minute of the day
    if clock.local_now().strftime("%H:%M") == "23:59":
        time.sleep(61)
    yield instances


def ok(resp: requests.Response, status: int = 200) -> dict:
    assert resp.status_code == status, (resp.request.method, resp.url, resp.status_code, resp.text[:500])
    return resp.json() if resp.content else {}


def code(resp: requests.Response) -> str:
    return resp.json()["error"]["code"]


def outcome(resp: requests.Response) -> tuple[int, str | None]:
    return resp.status_code, code(resp) if resp.status_code >= 400 else None


def worker_login(instance: Instance, name: str) -> str:
    return ok(instance.call("POST", "/api/v1/auth/wechat/login", json={"code": f"dev-{name}.{next(_codes)}"}))["token"]


def staff(arranger, instance: Instance, role: str, org_id: int | None) -> str:
    """A staff account created in the database, signed in over HTTP on ``instance``."""
    username = f"{role}_{next(_codes)}"
    make_staff(arranger, username, role, org_id)
    return ok(instance.call("POST", "/api/v1/auth/staff/login",
                            json={"username": username, "password": "Passw0rd!"}))["token"]


def organization(arranger) -> int:
    return make_org(arranger, "扬州市总工会")


# --- flows across instances ----------------------------------------------------------------------

def test_enrollment_flow_hops_between_instances(ab, arranger):
    a, b = ab
    org = organization(arranger)
    reviewer = staff(arranger, b, "enrollment_reviewer", org)
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
    assert outcome(a.call("GET", "/api/v1/me", worker)) == (401, "unauthenticated")


def test_a_station_created_on_one_instance_is_found_near_by_on_the_other(ab, arranger):
    a, b = ab
    admin = staff(arranger, a, "admin", None)
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
    assert outcome(b.call("GET", f"/api/v1/stations/{station['id']}")) == (404, "not_found")


def test_a_breakfast_checked_in_on_one_instance_is_refused_on_the_other(ab, arranger):
    a, b = ab
    org = organization(arranger)
    manager = staff(arranger, a, "breakfast_manager", org)
    point = ok(a.call("POST", "/api/v1/admin/breakfast/points", manager, json={
        "name": "文昌中路爱心早餐点", "address": "扬州市文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
        "serving_start": "00:00", "serving_end": "23:59", "daily_quota": 100}), 201)
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


def test_a_booking_made_on_one_instance_is_cancelled_on_the_other(ab, arranger):
    a, b = ab
    org = organization(arranger)
    legal = staff(arranger, b, "legal_aid_staff", org)
    lawyer = ok(b.call("POST", "/api/v1/admin/legal-aid/providers", legal, json={
        "name": "王律师", "kind": "lawyer", "organization_id": org, "firm": "江苏某某律师事务所"}), 201)
    starts = (clock.now() + dt.timedelta(days=2, hours=3)).replace(microsecond=0)
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


def test_rate_limits_are_counted_across_instances(ab, arranger):
    a, b = ab
    worker = worker_login(a, "twolimited")
    limit = int(arranger.config["RATELIMIT_CHECKIN"].split()[0])
    outcomes = [outcome((a if i % 2 else b).call("POST", "/api/v1/breakfast/checkins", worker,
                                                 json={"scene": "not-a-scene"})) for i in range(limit)]
    assert outcomes == [(422, "qr_invalid")] * limit
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


def test_two_sender_processes_never_send_a_message_twice(ab, arranger, redis_client, pg_url, redis_server,
                                                         fake_wechat_url):
    """Two ``flask notifications work`` processes, WeChat slowed so that both are
    mid-send at once: every message is sent once, and each sender sent a share."""
    from models import Notification, db
    from service.notifications.outbox import enqueue

    a, b = ab
    worker_ids = []
    for i in range(3):
        token = worker_login(a, f"twonotify{i}")
        worker_ids.append(ok(b.call("GET", "/api/v1/me", token))["id"])
    queued = []
    with arranger.app_context():
        for n in range(30):
            text = f"消息{n:02d}"
            enqueue(worker_ids[n % 3], "booking_confirmed", {"thing1": text, "time2": clock.now()})
            queued.append(text)
        db.session.commit()
        db.session.remove()
    fake.set_mode(redis_client, "slow", delay=0.1)  # 3 s of sending for one sender alone
    env = {k: v for k, v in ServiceProcess({}).env.items()}
    env.update(instance_env(pg_url, redis_server.url, fake_wechat_url))
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "work",
               "--interval", "0.05", "--batch-size", "2", "--max-passes", "200"]
    senders = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [p.communicate(timeout=120)[1] for p in senders]
    fake.set_mode(redis_client, "normal")
    assert [p.returncode for p in senders] == [0, 0], outputs
    shares = []
    for output in outputs:
        totals = dict(item.split("=") for item in output.rsplit("stopped: ", 1)[1].strip().split(", "))
        shares.append(int(totals["sent"]))
    sent = [m["data"]["thing1"]["value"] for m in fake.sent_messages(redis_client)]
    assert sorted(sent) == sorted(queued)  # every message once: none lost, none twice
    assert sum(shares) == len(queued) and min(shares) > 0, shares  # both senders really took part
    assert fake.token_fetch_count(redis_client) == 1
    with arranger.app_context():
        statuses = {s for (s,) in db.session.query(Notification.status)}
        db.session.remove()
    assert statuses == {"sent"}
