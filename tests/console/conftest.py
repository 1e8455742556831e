"""Fixtures of the console tests: a clerk's browser over Flask's test client,
staff accounts with cheap password hashes, and the demo city's organizations."""
from __future__ import annotations

import io
import itertools
import os
import re
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from service.common import clock
from tests.conftest import IN_CI
from tests.helpers import make_org

PASSWORD = "Passw0rd!"
_numbers = itertools.count(1)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_clerk(app, roles, org_id=None, username=None, display_name=None) -> str:
    """A staff account (cheap hash: tests stay fast) → its username.

    ``roles``: one role or a list; each over ``org_id`` (None: the whole federation).
    """
    from werkzeug.security import generate_password_hash

    from models import StaffRole, StaffUser, db

    roles = [roles] if isinstance(roles, str) else list(roles)
    username = username or f"clerk_{roles[0]}_{next(_numbers)}"
    with app.app_context():
        staff = StaffUser(username=username, display_name=display_name or username, created_at=clock.now(),
                          password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
        staff.roles = [StaffRole(role=r, organization_id=org_id) for r in roles]
        db.session.add(staff)
        db.session.commit()
    return username


class Browser:
    """A clerk at the console: pages by GET, forms by POST with the page's CSRF token."""

    def __init__(self, client):
        self.client = client

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def csrf(self) -> str:
        with self.client.session_transaction("/console/") as session:
            token = session.get("csrf_token")
        if token is None:
            page = self.client.get("/console/login").get_data(as_text=True)
            token = _CSRF.search(page).group(1)
        return token

    def post(self, path, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        return self.client.post(path, data=data, **kwargs)

    def login(self, username, password=PASSWORD):
        return self.post("/console/login", {"username": username, "password": password})

    def text(self, path, status=200, **kwargs) -> str:
        resp = self.get(path, **kwargs)
        assert resp.status_code == status, (path, resp.status_code, resp.get_data(as_text=True)[:2000])
        return resp.get_data(as_text=True)


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def city(app):
    """Yangzhou's federation, a district union under it and a sibling district."""
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(app, "扬州市总工会")
    district = make_org(app, "广陵区总工会", root)
    other = make_org(app, "邗江区总工会", root)
    return {"root": root, "district": district, "other": other}


def signed_in(app, client, roles, org_id=None) -> Browser:
    """A browser signed in as a new clerk holding ``roles``."""
    b = Browser(client)
    resp = b.login(make_clerk(app, roles, org_id))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    b.text(resp.headers["Location"])  # the welcome message is read
    return b


def api_token(app, role, org_id=None) -> str:
    """A bearer token of a new staff member signed in over the API, to arrange data."""
    username = make_clerk(app, role, org_id, username=f"api_{role}_{next(_numbers)}")
    resp = app.test_client().post("/api/v1/auth/staff/login", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def flashes(html: str) -> list[str]:
    """The flash messages on a page."""
    return [m.strip() for m in re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', html, re.S)]


# --- browser tests: a live server and headless Chromium -------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures know whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(reason + " — required with CI=true")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium driven by Playwright (skipped where missing, except in CI)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Error as err:
        manager.stop()
        _unavailable(f"Chromium cannot be launched: {str(err).splitlines()[0]}")
    yield browser
    browser.close()
    manager.stop()


def _tile(z: int, x: int, y: int) -> bytes:
    """A 256-pixel map tile: a pale square with its edges and its z/x/y, so a screenshot shows the grid."""
    image = Image.new("RGB", (256, 256), (236, 240, 232))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 255, 255), outline=(200, 208, 196))
    draw.text((8, 8), f"{z}/{x}/{y}", fill=(150, 160, 150))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def tile_server():
    """A map tile server of its own origin (another port), as an operator's MAP_TILE_URL points at."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    @Request.application
    def tiles(request):
        match = re.fullmatch(r"/tiles/(\d+)/(\d+)/(\d+)\.png", request.path)
        if match is None:
            return Response("not found", status=404)
        return Response(_tile(*map(int, match.groups())), mimetype="image/png")

    server = make_server("127.0.0.1", 0, tiles, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-tile-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_app(sqlite_url, redis_server, fake_wechat_url, tile_server):
    """The app on the session's SQLite database, served on a free port from a thread, its maps on
    the tile server's tiles."""
    from werkzeug.serving import make_server

    from tests.conftest import _migrate, build_app

    application = build_app(sqlite_url, redis_server.url, fake_wechat_url,
                            MAP_TILE_URL=tile_server + "/tiles/{z}/{x}/{y}.png", MAP_TILE_ATTRIBUTION="测试底图")
    _migrate(application)
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-live-server", daemon=True)
    thread.start()
    application.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield application
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def live(live_app, redis_client):
    """The live app with empty tables and Redis, and the clock running."""
    from tests.conftest import clean

    clean(live_app, redis_client)
    yield live_app
    clock.freeze(None)


@pytest.fixture
def page(request, chromium, live):
    """A fresh browser tab (tablet-sized, Chinese, asking for reduced motion: a map zooms at once)
    on the live server; a screenshot is saved under tests/artifacts/ when the test fails."""
    context = chromium.new_context(base_url=live.config["LIVE_URL"], locale="zh-CN",
                                   viewport={"width": 1024, "height": 768}, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def screenshots(page, name: str) -> None:
    """The page as a laptop (1280 px) and a phone (390 px) show it, under tests/artifacts/, to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(size)


_PREVIEW_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def preview_token(html: str) -> str | None:
    """The token of an import's preview page (None when it offers nothing to confirm)."""
    found = _PREVIEW_TOKEN.search(html)
    return found.group(1) if found else None


def upload_and_confirm(clerk: Browser, path: str, content: bytes, filename: str, **form):
    """An import page as a clerk uses it: upload (the preview), then confirm; → the last response
    (the preview's when it was refused or offered nothing to confirm)."""
    resp = clerk.post(path, {"file": (io.BytesIO(content), filename), **form}, content_type="multipart/form-data")
    token = preview_token(resp.get_data(as_text=True)) if resp.status_code == 200 else None
    if token is None:
        return resp
    return clerk.post(path.rstrip("/") + "/confirm", {"token": token})
