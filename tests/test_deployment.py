"""The service deployed as docs/deploy.md says: gunicorn under the production profile,
behind a real nginx started with the guide's own configuration, on PostgreSQL and
Redis, with the notification worker beside it and ``/metrics`` scraped.

Clients are told apart by their own loopback addresses (127.0.0.2, 127.0.0.3 …):
nginx sees each as a different machine, exactly as it would see two phones.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI, build_app, clean
from tests.enrollment import form
from tests.helpers import make_org, make_staff
from tests.support.servers import ROOT, ServiceProcess, free_port, wait_port
from wechat import fake

pytestmark = pytest.mark.postgres

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def production_env(pg_url: str, redis_url: str, wechat_url: str, **extra) -> dict[str, str]:
    env = {"APP_ENV": "production", "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "WECHAT_API_BASE": wechat_url,
           "WECHAT_APPID": "wx0000000000000000", "SECRET_KEY": secrets.token_urlsafe(32),
           "PII_KEY": secrets.token_urlsafe(32), "QR_KEY": secrets.token_urlsafe(32),
           "WECHAT_SECRET": secrets.token_urlsafe(32)}
    env.update(extra)
    return env


def guide_nginx_block() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/deploy.md should hold exactly one nginx block"
    return blocks[0]


class Nginx:
    """Debian's nginx with the guide's block, on a free loopback port in front of ``upstream_port``."""

    def __init__(self, upstream_port: int):
        if not os.path.exists(NGINX):
            reason = "nginx not found (apt-get install nginx)"
            if IN_CI:
                pytest.fail(reason + " — required with CI=true")
            pytest.skip(reason)
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="test-nginx-"))
        block = guide_nginx_block()
        block, n = re.subn(r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};", block)
        assert n == 1
        block, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{self.port};", block)
        assert n == 1
        self.access_log = self.prefix / "access.log"
        for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / sub).mkdir()
        (self.prefix / "nginx.conf").write_text(f"""
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {self.access_log};
    client_body_temp_path {self.prefix}/client;
    proxy_temp_path {self.prefix}/proxy;
    fastcgi_temp_path {self.prefix}/fastcgi;
    uwsgi_temp_path {self.prefix}/uwsgi;
    scgi_temp_path {self.prefix}/scgi;
{block}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                                      "-g", "daemon off;"], stderr=subprocess.PIPE)
        wait_port(self.port)

    def request(self, method: str, path: str, *, source: str = "127.0.0.1", body=None,
                headers: dict | None = None) -> tuple[int, dict, dict | str]:
        """One request from the loopback address ``source``: (status, headers, JSON or text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        try:
            hdrs = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8", errors="replace")
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def deployed(pg_server, redis_server, fake_wechat_url):
    """PostgreSQL migrated by ``flask db upgrade`` (as the guide says), gunicorn in
    production behind nginx with ``PROXY_HOPS=1``, JSON logs and a tight login limit."""
    name = f"deployed_{secrets.token_hex(4)}"
    url = pg_server.create_database(name) if pg_server else os.environ["TEST_DATABASE_URL"]
    env = production_env(url, redis_server.url, fake_wechat_url, PROXY_HOPS="1", LOG_FORMAT="json",
                         RATELIMIT_LOGIN="3 per minute", GUNICORN_ACCESSLOG="-")
    cli_env = {k: v for k, v in ServiceProcess({}).env.items()}
    cli_env.update(env)
    upgrade = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                             env=cli_env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    service = ServiceProcess(env, workers=2, threads=4, name="deployed").start()
    nginx = Nginx(service.port)
    # the notification worker, as the guide runs it beside the web processes
    sender = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "work",
                               "--interval", "0.2"], cwd=ROOT, env=cli_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    arranger = build_app(url, redis_server.url, fake_wechat_url, PII_KEY=env["PII_KEY"])
    yield {"nginx": nginx, "service": service, "env": env, "cli_env": cli_env, "arranger": arranger}
    sender.terminate()
    sender.wait(20)
    nginx.stop()
    service.stop()


@pytest.fixture
def site(deployed, redis_client):
    clean(deployed["arranger"], redis_client)
    return deployed


def login(nginx: Nginx, source: str, n: int, **headers) -> tuple[int, str | None]:
    """A worker's login from ``source`` → (status, error code or None)."""
    status, _, body = nginx.request("POST", "/api/v1/auth/wechat/login", source=source, headers=headers,
                                    body={"code": f"dev-proxied{n}.{time.monotonic_ns()}"})
    return status, body["error"]["code"] if status >= 400 else None


def log_records(service: ServiceProcess, until) -> list[dict]:
    """The service's log lines as JSON records, read again until ``until(records)`` holds: gunicorn
    writes a request's access line after sending the answer, so it may come a little later."""
    deadline = time.monotonic() + 30
    while True:
        text = service.log()
        records = [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()]  # every line is JSON
        if until(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


OK, LIMITED = (200, None), (429, "rate_limited")


def test_the_production_profile_behind_nginx_answers_ready_with_hsts(site):
    status, headers, body = site["nginx"].request("GET", "/readyz", source="127.0.0.2")
    assert (status, body["status"]) == (200, "ready")
    assert headers["strict-transport-security"].startswith("max-age=")
    assert site["nginx"].request("GET", "/livez")[0] == 200


def test_two_clients_behind_nginx_have_separate_login_limits(site):
    nginx = site["nginx"]
    first = [login(nginx, "127.0.0.2", i) for i in range(4)]
    assert first == [OK, OK, OK, LIMITED]
    status, headers, body = nginx.request("POST", "/api/v1/auth/wechat/login", source="127.0.0.2",
                                          body={"code": "dev-proxied-late"})
    assert status == 429 and body["error"]["code"] == "rate_limited" and headers.get("retry-after")
    # another phone, another address: its own allowance
    assert [login(nginx, "127.0.0.3", i) for i in range(3)] == [OK, OK, OK]


def test_a_forged_forwarded_for_gains_nothing(site):
    nginx = site["nginx"]
    outcomes = [login(nginx, "127.0.0.4", i, **{"X-Forwarded-For": f"10.9.8.{i}"}) for i in range(4)]
    assert outcomes == [OK, OK, OK, LIMITED]


def test_the_audit_log_records_each_clients_address(site):
    arranger = site["arranger"]
    org = make_org(arranger, "扬州市总工会")
    make_staff(arranger, "proxied_admin", "admin", None)
    nginx = site["nginx"]
    status, _, body = nginx.request("POST", "/api/v1/auth/staff/login", source="127.0.0.5",
                                    body={"username": "proxied_admin", "password": "Passw0rd!"})
    assert status == 200, body
    token = body["token"]
    auth = {"Authorization": f"Bearer {token}"}
    status, _, body = nginx.request("POST", "/api/v1/admin/organizations", source="127.0.0.6", headers=auth,
                                    body={"name": "广陵区总工会", "parent_id": org, "region": "扬州市广陵区"})
    assert status == 201, body
    status, _, log = nginx.request("GET", "/api/v1/admin/audit-log", source="127.0.0.6", headers=auth)
    assert status == 200
    created = [e for e in log["items"] if e["action"].startswith("organization.")]
    assert created and {e["ip"] for e in created} == {"127.0.0.6"}


def test_metrics_answer_only_the_allowed_addresses_and_count_requests(site):
    nginx = site["nginx"]
    for i in range(3):
        nginx.request("GET", "/api/v1/stations/nearby?lat=32.39&lng=119.41", source="127.0.0.7")
    status, _, body = nginx.request("GET", "/metrics", source="127.0.0.8")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, headers, text = nginx.request("GET", "/metrics", source="127.0.0.1")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    counted = re.findall(r'^http_requests_total\{endpoint="stations.nearby",method="GET",status="200"\} (\S+)$',
                         text, re.M)
    assert counted and float(counted[0]) >= 3, text[:3000]
    assert re.search(r"^notifications_pending \d", text, re.M)
    assert re.search(r"^notifications_oldest_pending_age_seconds \d", text, re.M)


def test_every_log_line_is_json_with_a_request_id(site):
    nginx = site["nginx"]
    status, headers, _ = nginx.request("GET", "/api/v1/organizations", source="127.0.0.9")
    assert status == 200
    request_id = headers["x-request-id"]
    records = log_records(site["service"], lambda records: any(
        r.get("path") == "/api/v1/organizations" and r["request_id"] == request_id for r in records))
    for record in records:
        assert {"time", "level", "message", "request_id"} <= record.keys()
    # nginx set the request id; the service kept it, and its access log line carries it
    access = [r for r in records if r.get("path") == "/api/v1/organizations"]
    assert access and access[-1]["request_id"] == request_id and access[-1]["status"] == "200"


# --- configuration errors: one line, non-zero, from gunicorn and the CLI ---------------------------------

def _clean_env(**env) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "GUNICORN_", "DATABASE", "REDIS",
                                                                       "WECHAT", "SECRET", "PII", "QR_"))}
    base.update(env)
    return base


@pytest.mark.parametrize("env, says", [
    ({"APP_ENV": "production"}, "SECRET_KEY is missing"),
    ({"DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/none"}, "runs on SQLite only"),
    ({"APP_ENV": "production", "DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/none",
      "REDIS_URL": "redis://127.0.0.1:9/0", "WECHAT_APPID": "wx0000000000000000",
      "SECRET_KEY": "k" * 16, "PII_KEY": "k" * 16, "QR_KEY": "k" * 16, "WECHAT_SECRET": "k" * 16}, "too weak"),
    ({"APP_ENV": "staging"}, "APP_ENV must be"),
])
@pytest.mark.parametrize("command", [
    ["-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
    ["-m", "flask", "--app", "wsgi", "db", "upgrade"],
    ["-m", "flask", "--app", "wsgi", "notifications", "work"],
])
def test_a_configuration_error_is_one_line_and_a_non_zero_exit(env, says, command):
    env = _clean_env(GUNICORN_BIND=f"127.0.0.1:{free_port()}", **env)
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error:") and says in lines[0], done.stderr


def test_an_approval_reaches_the_worker_through_the_notification_worker(site, redis_client):
    """Through nginx: a worker applies, a reviewer approves; the notification worker
    beside the service sends the WeChat message, and /metrics shows the backlog empty."""
    arranger, nginx = site["arranger"], site["nginx"]
    org = make_org(arranger, "扬州市总工会")
    make_staff(arranger, "deployed_reviewer", "enrollment_reviewer", org)
    status, _, body = nginx.request("POST", "/api/v1/auth/wechat/login", source="127.0.0.10",
                                    body={"code": "dev-deployedworker.1"})
    worker = {"Authorization": f"Bearer {body['token']}"}
    assert nginx.request("POST", "/api/v1/auth/wechat/phone", source="127.0.0.10", headers=worker,
                         body={"code": "phone-13952719955"})[0] == 200
    status, _, application = nginx.request("POST", "/api/v1/enrollment/applications", source="127.0.0.10",
                                           headers=worker, body=form(org, phone="13952719955"))
    assert status == 201, application
    status, _, body = nginx.request("POST", "/api/v1/auth/staff/login", source="127.0.0.11",
                                    body={"username": "deployed_reviewer", "password": "Passw0rd!"})
    reviewer = {"Authorization": f"Bearer {body['token']}"}
    status, _, approved = nginx.request("POST", f"/api/v1/admin/enrollment/applications/{application['id']}/approve",
                                        source="127.0.0.11", headers=reviewer)
    assert status == 200 and approved["status"] == "approved", approved
    deadline = time.monotonic() + 60
    while not fake.sent_messages(redis_client):
        assert time.monotonic() < deadline, "the notification worker sent nothing"
        time.sleep(0.1)
    [message] = fake.sent_messages(redis_client)
    assert message["touser"] == "fake-deployedworker"
    deadline = time.monotonic() + 30
    while True:
        text = nginx.request("GET", "/metrics")[2]
        if re.search(r"^notifications_pending 0(\.0)?$", text, re.M):
            break
        assert time.monotonic() < deadline, "the backlog stayed above zero"
        time.sleep(0.1)
    counted = re.findall(r'^service_events_total\{event="application",outcome="ok"\} (\S+)$', text, re.M)
    assert counted and float(counted[0]) >= 1
