"""A worker's request costs one Redis round trip: the session (with its sliding
expiry) and the worker's own limit of that kind, read and counted together.
Limits are per worker — a fresh login gives no fresh allowance — and cover
every action that costs the service or WeChat something."""
from __future__ import annotations

from service.common import clock
from tests.breakfast.helpers import PEAK, check_in, create_point, eligible_worker, scene_of, setup_city
from tests.helpers import bearer, error_code, login_worker


def _redis_calls(redis_client) -> dict[str, int]:
    stats = redis_client.info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def test_a_check_in_is_one_redis_round_trip(client, app, redis_client):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    scene = scene_of(client, staff, point["id"])
    first, second = eligible_worker(client, staff, "first"), eligible_worker(client, staff, "second")
    clock.freeze(PEAK)
    assert check_in(client, first, scene).status_code == 201  # the script is loaded, the point read once
    redis_client.config_resetstat()
    assert check_in(client, second, scene).status_code == 201
    calls = _redis_calls(redis_client)
    for ours in ("config|resetstat", "config", "info"):
        calls.pop(ours, None)
    # one script call; every other command counted ran inside it (session, its index, the limit)
    assert calls.pop("evalsha") == 1, calls
    assert calls == {"hmget": 1, "expire": 3, "incr": 1}, calls


def test_the_check_in_limit_is_per_worker_not_per_login(client, app):
    org, staff = setup_city(app, client)
    token = eligible_worker(client, staff, "limited")
    limit = int(app.config["RATELIMIT_CHECKIN"].split()[0])
    for _ in range(limit):
        assert error_code(check_in(client, token, "nope")) == "qr_invalid"
    again = login_worker(client, "limited")  # a new login, the same worker
    resp = check_in(client, again, "nope")
    assert resp.status_code == 429 and error_code(resp) == "rate_limited"
    assert 0 < int(resp.headers["Retry-After"]) <= 60


def test_phone_binding_is_limited_per_worker(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PHONE", "3 per hour")
    token = login_worker(client, "binder")
    for n in range(3):
        resp = client.post("/api/v1/auth/wechat/phone", json={"code": f"phone-1395271000{n}"}, headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": "phone-13952710009"}, headers=bearer(token))
    assert resp.status_code == 429 and error_code(resp) == "rate_limited"
    assert 3000 < int(resp.headers["Retry-After"]) <= 3600
    other = login_worker(client, "otherbinder")
    assert client.post("/api/v1/auth/wechat/phone", json={"code": "phone-13952710008"},
                       headers=bearer(other)).status_code == 200


def test_applications_and_bookings_are_limited_per_worker(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_APPLY", "2 per hour")
    monkeypatch.setitem(app.config, "RATELIMIT_BOOKING", "2 per hour")
    token = login_worker(client, "spammer")
    for path in ("/api/v1/enrollment/applications", "/api/v1/legal-aid/bookings"):
        codes = [error_code(client.post(path, json={}, headers=bearer(token))) for _ in range(3)]
        assert codes == ["validation_error", "validation_error", "rate_limited"], (path, codes)


def test_a_session_index_slides_with_the_session(client, app, redis_client):
    """Revoking all of a worker's sessions must find a session kept alive for weeks:
    each use renews the worker's session index as well as the session."""
    token = login_worker(client, "slider")
    worker_id = client.get("/api/v1/me", headers=bearer(token)).get_json()["id"]
    index = f"usess:worker:{worker_id}"
    redis_client.pexpire(index, 1000)  # as if the index were about to expire
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert redis_client.ttl(index) > 6 * 24 * 3600
