"""Signing in and out of the console, its cookie, CSRF and the lockout."""
from __future__ import annotations

from tests.conftest import build_app
from tests.console.conftest import PASSWORD, Browser, make_clerk, signed_in


def test_login_shows_the_dashboard_and_logout_ends_the_server_session(app, client, city, redis_client):
    name = make_clerk(app, "enrollment_reviewer", city["root"], display_name="李审核")
    b = Browser(client)
    assert b.get("/console/").headers["Location"].startswith("/console/login")

    resp = b.login(name)
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/"
    page = b.text("/console/")
    assert "李审核" in page and "待审核入会申请" in page
    assert len(redis_client.keys("sess:*")) == 1

    resp = b.post("/console/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/login"
    assert redis_client.keys("sess:*") == []
    assert b.get("/console/").status_code == 302


def test_wrong_password_stays_on_the_login_page_with_a_message(app, client, city):
    name = make_clerk(app, "admin")
    resp = Browser(client).login(name, "wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(app, client, city):
    name = make_clerk(app, "admin")
    b = Browser(client)
    first = b.get("/console/enrollment/?status=all")
    assert first.headers["Location"] == "/console/login?next=/console/enrollment/?status%3Dall"
    resp = b.post("/console/login", {"username": name, "password": PASSWORD, "next": "/console/enrollment/"})
    assert resp.headers["Location"] == "/console/enrollment/"
    b.post("/console/logout")
    resp = b.post("/console/login", {"username": name, "password": PASSWORD, "next": "https://evil.example/"})
    assert resp.headers["Location"] == "/console/"
    b.post("/console/logout")
    resp = b.post("/console/login", {"username": name, "password": PASSWORD, "next": "/console//evil.example"})
    assert resp.headers["Location"] == "/console/"


def test_five_failures_lock_the_account_even_for_the_right_password(app, client, city):
    name = make_clerk(app, "admin")
    b = Browser(client)
    for _ in range(5):
        assert b.login(name, "nope").status_code == 401
    resp = b.login(name)
    assert resp.status_code == 429
    assert "登录失败次数过多" in resp.get_data(as_text=True)
    assert b.get("/console/").status_code == 302  # not signed in


def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(app, client, city, redis_client):
    b = signed_in(app, client, "admin")
    for token in (None, "forged-token"):
        data = {"csrf_token": token} if token else {}
        resp = client.post("/console/logout", data=data)
        assert resp.status_code == 400
        assert "请刷新页面" in resp.get_data(as_text=True)
        assert len(redis_client.keys("sess:*")) == 1  # still signed in
    assert b.get("/console/").status_code == 200
    # The login form needs its token too.
    resp = client.post("/console/login", data={"username": "x", "password": "y"})
    assert resp.status_code == 400


def test_the_session_cookie_is_httponly_and_lax_and_holds_no_readable_token(app, client, city, redis_client):
    name = make_clerk(app, "admin")
    resp = Browser(client).login(name)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing profile: SESSION_COOKIE_SECURE is off
    stored = redis_client.keys("sess:*")[0].decode()[5:]
    assert stored not in cookie


def test_the_cookie_is_secure_when_the_profile_says_so(app, client, city, redis_server, fake_wechat_url):
    secure_app = build_app(app.config["SQLALCHEMY_DATABASE_URI"], redis_server.url, fake_wechat_url,
                           SESSION_COOKIE_SECURE=True)
    name = make_clerk(app, "admin")
    resp = Browser(secure_app.test_client()).login(name)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_disabling_the_account_ends_its_console_session(app, client, city):
    from service.auth.services import disable_staff

    name = make_clerk(app, "admin")
    b = Browser(client)
    b.login(name)
    assert b.get("/console/").status_code == 200
    with app.app_context():
        disable_staff(name)
    assert b.get("/console/").headers["Location"].startswith("/console/login")


def test_console_pages_are_not_cached(app, client, city):
    b = signed_in(app, client, "admin")
    resp = b.get("/console/")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
