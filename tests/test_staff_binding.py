"""A staff member links their own WeChat (docs/contract.md §2): a one-time code from the staff
API or the console, entered by the signed-in worker account in the mini-program."""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select

from models import AuditLog, StaffUser, db
from service.common import clock
from tests.console.conftest import flashes, signed_in
from tests.helpers import bearer, link_wechat, login_worker, make_org, outcome, race, staff_token

ISSUE = "/api/v1/admin/me/wechat-binding"
BIND = "/api/v1/me/staff-binding"


def new_code(client, staff) -> dict:
    resp = client.post(ISSUE, headers=bearer(staff))
    assert outcome(resp) == (201, None), resp.get_json()
    return resp.get_json()


def enter(client, worker, code):
    return client.post(BIND, json={"code": code}, headers=bearer(worker))


def me(client, token) -> dict:
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert outcome(resp) == (200, None)
    return resp.get_json()


def linked_worker(app, username: str) -> int | None:
    with app.app_context():
        try:
            return db.session.scalar(select(StaffUser.worker_id).where(StaffUser.username == username))
        finally:
            db.session.remove()


def test_a_staff_member_links_their_wechat_once_and_unlinks_it(app, client, redis_client):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    org = make_org(app, "广陵区总工会")
    staff = staff_token(app, client, "admin", org, username="zhang")
    assert me(client, staff)["wechat_bound"] is False

    issued = new_code(client, staff)
    assert re.fullmatch(r"\d{6}", issued["code"])
    assert issued["expires_in"] == 600 and issued["expires_at"] == "2026-03-02T09:40:00+08:00"

    worker = login_worker(client, "zhangwx")
    resp = enter(client, worker, issued["code"])
    assert outcome(resp) == (200, None)
    assert resp.get_json() == {"bound": True, "staff_name": "zhang"}
    assert me(client, staff)["wechat_bound"] is True
    worker_id = me(client, worker)["id"]
    assert linked_worker(app, "zhang") == worker_id
    # the worker sees the link among their own data
    data = client.get("/api/v1/me/data", headers=bearer(worker)).get_json()
    assert data["staff_binding"]["staff_username"] == "zhang"
    assert data["staff_binding"]["bound_at"] == "2026-03-02T09:30:00+08:00"

    # a code works once, for anyone
    resp = enter(client, login_worker(client, "other"), issued["code"])
    assert outcome(resp) == (422, "binding_code_invalid")
    assert resp.get_json()["error"]["message"] == "绑定码错误或已过期，请在工作人员控制台重新获取绑定码"

    assert outcome(client.delete(ISSUE, headers=bearer(staff))) == (204, None)
    assert me(client, staff)["wechat_bound"] is False and linked_worker(app, "zhang") is None
    assert client.get("/api/v1/me/data", headers=bearer(worker)).get_json()["staff_binding"] is None
    assert outcome(client.delete(ISSUE, headers=bearer(staff))) == (204, None)  # nothing left to unlink

    with app.app_context():
        actions = list(db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("staff.wechat%"))
                                          .order_by(AuditLog.id)))
        db.session.remove()
    assert actions == ["staff.wechat_bind", "staff.wechat_unbind"]
    assert not redis_client.keys("staffbind:*")


def test_a_new_code_replaces_the_old_one_and_a_code_expires(app, client, redis_client):
    org = make_org(app)
    staff = staff_token(app, client, "rights_staff", org)
    worker = login_worker(client, "li")
    first = new_code(client, staff)["code"]
    second = new_code(client, staff)["code"]
    if second != first:  # the same six digits twice in a row is a one-in-a-million chance
        assert outcome(enter(client, worker, first)) == (422, "binding_code_invalid")
    redis_client.pexpire(f"staffbind:code:{second}", 0)  # its ten minutes are up
    assert outcome(enter(client, worker, second)) == (422, "binding_code_invalid")
    assert me(client, staff)["wechat_bound"] is False

    third = new_code(client, staff)["code"]
    # typed with blanks or full-width digits, it is the same code
    typed = " ".join(third[:3]) + " " + third[3:].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert outcome(enter(client, worker, typed)) == (200, None)
    assert me(client, staff)["wechat_bound"] is True


def test_wrong_codes_are_refused_with_their_code(app, client):
    org = make_org(app)
    staff = staff_token(app, client, "admin", org)
    worker = login_worker(client, "wang")
    live = new_code(client, staff)["code"]
    wrong = f"{(int(live) + 1) % 1_000_000:06d}"
    for code in (wrong, "12345", "1234567", "abcdef", "12 34 5x"):
        assert outcome(enter(client, worker, code)) == (422, "binding_code_invalid"), code
    resp = client.post(BIND, json={}, headers=bearer(worker))
    assert outcome(resp) == (422, "validation_error")
    assert "code" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post(BIND, json={"code": live, "staff_id": 1}, headers=bearer(worker))
    assert outcome(resp) == (422, "validation_error")
    # staff link their WeChat from the mini-program's worker account, not from a staff session
    assert outcome(enter(client, staff, live)) == (403, "forbidden")
    assert outcome(client.post(ISSUE, headers=bearer(worker))) == (403, "forbidden")
    assert outcome(enter(client, worker, live)) == (200, None)  # the wrong tries did not spend it


def test_guessing_codes_is_limited_per_worker(app, client):
    org = make_org(app)
    staff = staff_token(app, client, "admin", org)
    worker = login_worker(client, "guesser")
    live = new_code(client, staff)["code"]
    guesses = [f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" != live][:10]
    for guess in guesses:
        assert outcome(enter(client, worker, guess)) == (422, "binding_code_invalid")
    resp = enter(client, worker, live)  # even the right code, past the limit
    assert outcome(resp) == (429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0
    # signing in again gives no fresh allowance: the limit is the worker's, not the session's
    assert outcome(enter(client, login_worker(client, "guesser"), live)) == (429, "rate_limited")
    assert me(client, staff)["wechat_bound"] is False
    # another worker is not held back, and the code is still live for them
    assert outcome(enter(client, login_worker(client, "owner"), live)) == (200, None)


def test_a_wechat_account_links_to_one_staff_account(app, client):
    org = make_org(app)
    first = staff_token(app, client, "admin", org, username="first")
    second = staff_token(app, client, "admin", org, username="second")
    worker = link_wechat(client, first, "shared")
    code = new_code(client, second)["code"]
    resp = enter(client, worker, code)
    assert outcome(resp) == (409, "wechat_already_bound")
    assert linked_worker(app, "second") is None
    # the first staff account's own new code may be entered again
    assert outcome(enter(client, worker, new_code(client, first)["code"])) == (200, None)
    # a staff account linked again moves to the new WeChat account
    other = login_worker(client, "newphone")
    assert outcome(enter(client, other, new_code(client, first)["code"])) == (200, None)
    assert linked_worker(app, "first") == me(client, other)["id"]
    # the old WeChat account is free now, and the second staff member's code still works for it
    assert outcome(enter(client, worker, code)) == (200, None)
    assert linked_worker(app, "second") == me(client, worker)["id"]


def test_a_disabled_staff_accounts_code_is_refused(app, client):
    from service.auth.services import disable_staff

    org = make_org(app)
    staff = staff_token(app, client, "admin", org, username="leaving")
    code = new_code(client, staff)["code"]
    with app.app_context():
        disable_staff("leaving")
        db.session.remove()
    assert outcome(enter(client, login_worker(client, "someone"), code)) == (422, "binding_code_invalid")


def test_the_workers_erasure_unlinks_the_staff_account(app, client):
    org = make_org(app)
    staff = staff_token(app, client, "admin", org, username="erased")
    worker = link_wechat(client, staff, "erasedwx")
    assert me(client, staff)["wechat_bound"] is True
    assert outcome(client.delete("/api/v1/me", headers=bearer(worker))) == (204, None)
    assert me(client, staff)["wechat_bound"] is False and linked_worker(app, "erased") is None
    # the staff member may link another account
    link_wechat(client, staff, "freshwx")
    assert me(client, staff)["wechat_bound"] is True


def test_the_console_shows_the_code_and_the_binding(app, client):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    org = make_org(app, "广陵区总工会")
    clerk = signed_in(app, app.test_client(), "admin", org)
    page = clerk.text("/console/me")
    assert "未绑定" in page and "管理员 · 广陵区总工会" in page and "binding-code-digits" not in page
    assert 'href="/console/me"' in clerk.text("/console/")  # the top bar's name leads here

    resp = clerk.post("/console/me/wechat-binding")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/me")
    page = clerk.text("/console/me")
    assert "绑定码已生成" in " ".join(flashes(page))
    code = re.search(r'class="binding-code-digits">(\d{6})<', page).group(1)
    assert "在工会小程序「我的」中输入绑定码" in page and "09:40 前有效" in page

    worker = login_worker(client, "clerkwx")
    assert outcome(enter(client, worker, code)) == (200, None)
    page = clerk.text("/console/me")
    assert "已绑定" in page and "binding-code-digits" not in page and "2026-03-02 09:30 绑定" in page

    resp = clerk.post("/console/me/wechat-binding/delete")
    assert "已解除微信绑定" in flashes(clerk.text(resp.headers["Location"]))
    assert "未绑定" in clerk.text("/console/me")


# --- under concurrency (PostgreSQL, threads behind a barrier) ------------------------------------

def test_one_code_entered_by_ten_workers_at_once_links_one(pg_app, pg_client):
    org = make_org(pg_app)
    staff = staff_token(pg_app, pg_client, "admin", org, username="raced")
    code = new_code(pg_client, staff)["code"]
    workers = [login_worker(pg_client, f"racer{i}") for i in range(10)]

    results = race(pg_app, [lambda c, w=w: enter(c, w, code) for w in workers])

    assert Counter(results) == Counter({(200, None): 1, (422, "binding_code_invalid"): 9}), Counter(results)
    assert linked_worker(pg_app, "raced") in {me(pg_client, w)["id"] for w in workers}


def test_one_worker_entering_two_staff_codes_at_once_is_linked_to_one(pg_app, pg_client):
    org = make_org(pg_app)
    codes = [new_code(pg_client, staff_token(pg_app, pg_client, "admin", org, username=f"twin{i}"))["code"]
             for i in range(2)]
    worker = login_worker(pg_client, "twinwx")

    results = race(pg_app, [lambda c, code=code: enter(c, worker, code) for code in codes])

    assert Counter(results) == Counter({(200, None): 1, (409, "wechat_already_bound"): 1}), Counter(results)
    assert sorted(w is not None for w in (linked_worker(pg_app, "twin0"), linked_worker(pg_app, "twin1"))) == [
        False, True]
