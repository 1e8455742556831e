"""Small helpers the tests use as a person would: log in, create staff, build orgs."""
from __future__ import annotations

import itertools
import threading
import time

_codes = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login_worker(client, name: str = "alice") -> str:
    """Log in through the fake WeChat (a fresh code each time) → token."""
    resp = client.post("/api/v1/auth/wechat/login", json={"code": f"dev-{name}.{next(_codes)}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def bind_phone(client, token: str, phone: str = "13800138000") -> None:
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": f"phone-{phone}"}, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()


def make_org(app, name: str = "测试市总工会", parent_id: int | None = None, occupations=None) -> int:
    from models import Organization, db
    from service.organizations.services import create_root_or_child

    with app.app_context():
        parent = db.session.get(Organization, parent_id) if parent_id else None
        org = create_root_or_child(name, parent, "测试市", occupations or
                                   ["courier", "food_delivery", "ride_hailing", "truck_driver", "other"])
        db.session.commit()
        return org.id


def make_staff(app, username: str, role: str | list[str], org_id: int | None = None,
               password: str = "Passw0rd!") -> int:
    from service.auth.services import create_staff

    roles = [role] if isinstance(role, str) else role
    with app.app_context():
        staff = create_staff(username, password, [(r, org_id) for r in roles])
        return staff.id


def login_staff(client, username: str, password: str = "Passw0rd!") -> str:
    resp = client.post("/api/v1/auth/staff/login", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def staff_token(app, client, role: str | list[str], org_id: int | None = None, username: str | None = None) -> str:
    """Create a staff account with ``role`` over ``org_id`` and log in."""
    name = username or f"{role if isinstance(role, str) else role[0]}_{next(_codes)}"
    make_staff(app, name, role, org_id)
    return login_staff(client, name)


def error_code(resp) -> str:
    body = resp.get_json()
    assert body and "error" in body, (resp.status_code, resp.data[:300])
    return body["error"]["code"]


def outcome(resp) -> tuple[int, str | None]:
    """``(status, error code)`` of a response; the code is None for a success."""
    return resp.status_code, error_code(resp) if resp.status_code >= 400 else None


def race(app, calls) -> list:
    """Run ``calls`` (each ``client -> response``) at once, behind a barrier, each on its own test
    client; → each response's (status, error code or None), in the order of ``calls``.  A call that
    raised is ``("exception", repr)``; one that did not finish in time stays None."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        client = app.test_client()
        barrier.wait()
        try:
            resp = call(client)
            results[i] = outcome(resp)
        except Exception as exc:  # reported by the caller's assertion on the outcomes
            results[i] = ("exception", repr(exc))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def wechat_calls(redis_client, endpoint: str, at_least: int = 1) -> dict[str, int]:
    """The fake WeChat's call counts, once it has counted ``at_least`` calls to ``endpoint``.

    Over HTTP the fake counts a call in its own thread, which a busy machine may
    schedule only after the caller has given up waiting for the answer.
    """
    from wechat import fake

    deadline = time.monotonic() + 30
    while True:
        counts = fake.call_counts(redis_client)
        if counts.get(endpoint, 0) >= at_least or time.monotonic() > deadline:
            return counts
        time.sleep(0.01)


def link_wechat(client, staff_token_: str, worker_name: str) -> str:
    """A staff member links the WeChat account ``worker_name`` signs in with, as they would:
    a binding code from the staff API, entered in the mini-program → the worker's token."""
    resp = client.post("/api/v1/admin/me/wechat-binding", headers=bearer(staff_token_))
    assert resp.status_code == 201, resp.get_json()
    worker = login_worker(client, worker_name)
    resp = client.post("/api/v1/me/staff-binding", json={"code": resp.get_json()["code"]}, headers=bearer(worker))
    assert resp.status_code == 200, resp.get_json()
    return worker
