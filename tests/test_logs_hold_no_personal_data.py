"""No ID number or phone in a URL or a log line: a day's worth of requests through the
real gunicorn (its access log on, the service's own log at DEBUG), then every line
of both logs searched for every ID number and phone the requests used, in clear.

What travels in a body stays out of the access log only if the service never asks
for it in a URL: searches by ID number or phone are POST bodies, the console's
search forms are POSTed, and a phone bound through WeChat is a code, not a number.
"""
from __future__ import annotations

import datetime as dt
import secrets

import pytest
import requests
from flask_migrate import upgrade

from service.common import clock
from service.common.validators import check_digit
from tests.breakfast.helpers import roster_csv
from tests.conftest import build_app
from tests.helpers import make_staff
from tests.legal_aid.helpers import World
from tests.support.servers import ServiceProcess

pytestmark = pytest.mark.postgres


def id_number(birth: str, seq: int) -> str:
    first17 = f"321002{birth}{seq:03d}"
    return first17 + check_digit(first17)


@pytest.fixture
def service(pg_server, redis_server, redis_client, fake_wechat_url):
    url = (pg_server.create_database(f"logs_{secrets.token_hex(4)}") if pg_server
           else pytest.skip("needs its own database on the test PostgreSQL server"))
    keys = {name: secrets.token_urlsafe(32) for name in ("SECRET_KEY", "PII_KEY", "QR_KEY", "WECHAT_SECRET")}
    arranger = build_app(url, redis_server.url, fake_wechat_url, PII_KEY=keys["PII_KEY"])
    with arranger.app_context():
        upgrade()
    redis_client.flushall()
    env = {"APP_ENV": "production", "DATABASE_URL": url, "REDIS_URL": redis_server.url,
           "WECHAT_API_BASE": fake_wechat_url, "WECHAT_APPID": "wx0000000000000000", "LOG_LEVEL": "DEBUG",
           "GUNICORN_ACCESSLOG": "-", "SESSION_COOKIE_SECURE": "false", **keys}  # plain HTTP on loopback
    process = ServiceProcess(env, workers=1, threads=2, name="logs").start()
    yield arranger, process
    process.stop()


def csrf_of(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


class Caller:
    """One HTTP client against the running service."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.http = base, requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, expect: int = 200, **kwargs) -> requests.Response:
        resp = self.http.request(method, self.base + path, timeout=30, **kwargs)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text[:500])
        return resp


def worker(base: str, name: str, phone: str | None = None) -> Caller:
    token = Caller(base)("POST", "/api/v1/auth/wechat/login", json={"code": f"dev-{name}"}).json()["token"]
    caller = Caller(base, token)
    if phone:
        caller("POST", "/api/v1/auth/wechat/phone", json={"code": f"phone-{phone}"})
    return caller


def staff(base: str, username: str) -> Caller:
    login = Caller(base)("POST", "/api/v1/auth/staff/login", json={"username": username, "password": "Passw0rd!"})
    return Caller(base, login.json()["token"])


def test_a_days_requests_leave_no_id_number_or_phone_in_any_log_line(service):
    arranger, process = service
    base = process.url
    world = World(arranger, arranger.test_client())  # the city, a lawyer and a slot, arranged in-process
    city = world.city
    slot = world.slot((clock.local_now() + dt.timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0))
    for username, role in (("reviewer", "enrollment_reviewer"), ("manager", "breakfast_manager"),
                           ("boss", "admin")):
        make_staff(arranger, username, role, city)

    valid = id_number("19900101", 31)
    used = {"applicant ID": id_number("19900101", 11), "applicant phone": "13912345601",
            "bound phone": "13952790001", "roster phone": "13952790002", "roster ID": id_number("19700101", 21),
            "contact phone": "13912345603", "bad ID": valid[:-1] + ("0" if valid[-1] != "0" else "1")}

    reviewer, manager, boss = staff(base, "reviewer"), staff(base, "manager"), staff(base, "boss")
    # the breakfast roster, imported and searched by phone
    rows = [("王建国", used["bound phone"], "扬州市环境卫生管理处", ""),
            ("李秀英", used["roster phone"], "扬州市环境卫生管理处", used["roster ID"])]
    manager("POST", "/api/v1/admin/breakfast/roster/import",
            files={"file": ("roster.csv", roster_csv(rows), "text/csv")})
    found = manager("POST", "/api/v1/admin/breakfast/roster/search", json={"q": used["roster phone"]})
    assert found.json()["total"] == 1
    manager("GET", "/api/v1/admin/breakfast/roster", params={"q": "建国"})

    # a worker binds a phone, claims breakfast, applies to join, books a lawyer
    alice = worker(base, "alice", used["bound phone"])
    alice("POST", "/api/v1/breakfast/eligibility/claim")
    form = {"name": "张三", "gender": "male", "id_number": used["bad ID"], "phone": used["applicant phone"],
            "occupation": "courier", "employer": "顺丰", "work_region": "广陵区", "organization_id": city,
            "consent": True}
    alice("POST", "/api/v1/enrollment/applications", expect=422, json=form)
    application = alice("POST", "/api/v1/enrollment/applications", expect=201,
                        json={**form, "id_number": used["applicant ID"]}).json()
    alice("POST", "/api/v1/enrollment/applications", expect=409, json={**form, "id_number": used["applicant ID"]})
    alice("POST", "/api/v1/legal-aid/bookings", expect=201,
          json={"slot_id": slot, "topic": "wage_arrears", "description": "老板拖欠工资",
                "contact_phone": used["contact phone"]})
    for path in ("/api/v1/me", "/api/v1/me/data", "/api/v1/enrollment/applications/mine",
                 f"/api/v1/enrollment/applications/{application['id']}", "/api/v1/legal-aid/bookings/mine"):
        alice("GET", path)

    # the reviewer finds the application by ID number and by phone, approves, exports
    for q in (used["applicant ID"], used["applicant phone"], "张三"):
        assert reviewer("POST", "/api/v1/admin/enrollment/applications/search", json={"q": q}).json()["total"] == 1
    reviewer("GET", "/api/v1/admin/enrollment/applications", params={"q": "张三", "status": "pending"})
    reviewer("POST", f"/api/v1/admin/enrollment/applications/{application['id']}/approve")
    reviewer("POST", "/api/v1/admin/enrollment/members.xlsx", json={"q": used["applicant ID"]})
    boss("POST", "/api/v1/admin/enrollment/members.xlsx", json={"full": True, "q": used["applicant phone"]})
    boss("GET", "/api/v1/admin/audit-log")
    # another worker with the same ID number is refused
    bob = worker(base, "bob")
    bob("POST", "/api/v1/enrollment/applications", expect=409, json={**form, "id_number": used["applicant ID"]})

    # the console: sign in, search by ID number through the form
    console = requests.Session()
    resp = console.post(base + "/console/login", timeout=30, data={
        "csrf_token": csrf_of(console.get(base + "/console/login", timeout=30).text),
        "username": "reviewer", "password": "Passw0rd!"})
    assert resp.status_code == 200 and "退出" in resp.text
    resp = console.post(base + "/console/enrollment/search", timeout=30,
                        data={"csrf_token": csrf_of(resp.text), "q": used["applicant ID"], "status": "all"})
    assert resp.status_code == 200 and "张三" in resp.text
    alice("DELETE", "/api/v1/me", expect=204)

    process.stop()  # every line written
    log = process.log()
    assert '"POST /api/v1/admin/enrollment/applications/search HTTP/1.1" 200' in log  # the access log is on
    leaks = [f"{what} in: {line}" for line in log.splitlines() for what, value in used.items() if value in line]
    assert leaks == []
