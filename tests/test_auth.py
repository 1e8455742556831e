"""Signing in as a worker through WeChat and as staff; sessions; the caller's own data."""
from __future__ import annotations

import threading

import pytest

from tests.helpers import (
    bearer,
    bind_phone,
    error_code,
    login_staff,
    login_worker,
    make_org,
    make_staff,
    outcome,
    wechat_calls,
)
from wechat import fake
from wechat.crypto import encrypt_user_data


def test_worker_login_creates_then_finds_the_user(client):
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-alice"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["is_new_user"] is True
    assert len(body["token"]) >= 43
    assert body["expires_in"] == 7 * 24 * 3600
    assert body["user"]["kind"] == "worker"
    assert "session_key" not in resp.get_data(as_text=True)
    again = client.post("/api/v1/auth/wechat/login", json={"code": "dev-alice.2"}).get_json()
    assert again["is_new_user"] is False
    assert again["user"]["id"] == body["user"]["id"]


@pytest.mark.parametrize("code,status,err", [
    ("invalid-x", 401, "wechat_code_invalid"),
    ("limit-x", 429, "rate_limited"),
    ("blocked-x", 403, "wechat_user_blocked"),
    ("busy-x", 503, "wechat_unavailable"),
])
def test_wechat_refusals_map_to_the_contract(client, code, status, err):
    resp = client.post("/api/v1/auth/wechat/login", json={"code": code})
    assert resp.status_code == status
    assert error_code(resp) == err
    if status == 429:
        assert int(resp.headers["Retry-After"]) > 0


def test_a_login_code_works_once(client):
    assert client.post("/api/v1/auth/wechat/login", json={"code": "dev-bob.x1"}).status_code == 200
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-bob.x1"})
    assert resp.status_code == 401
    assert error_code(resp) == "wechat_code_invalid"


def test_wechat_down_or_slow_is_503_within_the_timeout(app, client, redis_client):
    # WeChat answers, but only after twice the timeout: a 503, not the 401 of its answer (an invalid
    # code, which the fake answers without writing anything after the test), means the service gave up
    # waiting, and the one call WeChat saw means it gave up after a single timeout, without retrying.
    fake.set_mode(redis_client, "slow", delay=2 * app.config["WECHAT_TIMEOUT"])
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "invalid-slowwechat"})
    assert resp.status_code == 503
    assert error_code(resp) == "wechat_unavailable"
    assert wechat_calls(redis_client, "sns/jscode2session") == {"sns/jscode2session": 1}
    fake.set_mode(redis_client, "down")
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-downwechat"})
    assert resp.status_code == 503
    assert error_code(resp) == "wechat_unavailable"
    assert fake.call_counts(redis_client) == {"sns/jscode2session": 2}
    fake.set_mode(redis_client, "normal")
    assert client.post("/api/v1/auth/wechat/login", json={"code": "dev-downwechat.2"}).status_code == 200


def test_refused_connection_is_503(app):
    from tests.conftest import build_app
    from tests.support.servers import free_port

    other = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"],
                      f"http://127.0.0.1:{free_port()}/")
    resp = other.test_client().post("/api/v1/auth/wechat/login", json={"code": "dev-dave"})
    assert resp.status_code == 503
    assert error_code(resp) == "wechat_unavailable"


def test_bind_phone_with_code_and_see_it_masked(client):
    token = login_worker(client, "alice")
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": "phone-13800138000"}, headers=bearer(token))
    assert resp.status_code == 200
    assert resp.get_json() == {"phone": "138****8000"}
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["phone"] == "138****8000"
    assert me["kind"] == "worker"
    data = client.get("/api/v1/me/data", headers=bearer(token)).get_json()
    assert data["account"]["phone"] == "13800138000"


def test_a_failed_phone_authorization_is_422_and_the_session_stays(client):
    token = login_worker(client, "alice")
    before = client.get("/api/v1/me", headers=bearer(token)).get_json()
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": "nonsense"}, headers=bearer(token))
    # not 401: a mini-program answers 401 by logging in again, and this session is still good
    assert resp.status_code == 422
    assert resp.get_json()["error"] == {"code": "wechat_code_invalid", "message": "手机号授权失败，请重新授权",
                                        "details": {}}
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 200 and after.get_json() == before
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": "phone-13800138000"}, headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json() == {"phone": "138****8000"}  # authorizing again works
    resp = client.post("/api/v1/auth/wechat/phone", json={}, headers=bearer(token))
    assert outcome(resp) == (422, "validation_error")
    # a bad login code keeps its 401
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "invalid-again"})
    assert outcome(resp) == (401, "wechat_code_invalid")


def test_bind_phone_with_encrypted_data_of_older_clients(client, app):
    token = login_worker(client, "erin")
    key = fake.session_key_for("erin")
    enc, iv = encrypt_user_data(key, {"phoneNumber": "13912345678", "purePhoneNumber": "13912345678",
                                      "countryCode": "86",
                                      "watermark": {"appid": app.config["WECHAT_APPID"], "timestamp": 1}})
    resp = client.post("/api/v1/auth/wechat/phone", json={"encrypted_data": enc, "iv": iv}, headers=bearer(token))
    assert resp.status_code == 200
    assert resp.get_json()["phone"] == "139****5678"
    enc, iv = encrypt_user_data(key, {"phoneNumber": "13912345678", "purePhoneNumber": "13912345678",
                                      "countryCode": "86", "watermark": {"appid": "wxOTHER", "timestamp": 1}})
    resp = client.post("/api/v1/auth/wechat/phone", json={"encrypted_data": enc, "iv": iv}, headers=bearer(token))
    assert resp.status_code == 422
    assert error_code(resp) == "wechat_decrypt_failed"


def test_published_wechat_decryption_sample():
    from wechat.crypto import decrypt_user_data

    data = decrypt_user_data(
        "tiihtNczf5v6AKRyjwEUhQ==",
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRg"
        "v+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7U"
        "L/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3"
        "g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKF"
        "dlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/Xcxx"
        "mK01EpqOyuxINew==",
        "r7BXXKkLb8qrSNn05n0qiA==", "wx4f4bc4dec97d474b")
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"


def test_missing_bad_and_revoked_tokens_are_401(client):
    assert error_code(client.get("/api/v1/me")) == "unauthenticated"
    assert outcome(client.get("/api/v1/me", headers=bearer("not-a-token"))) == (401, "unauthenticated")
    token = login_worker(client)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401
    assert error_code(resp) == "unauthenticated"


def test_tokens_are_stored_only_as_hashes(client, redis_client):
    token = login_worker(client)
    keys = [k.decode() for k in redis_client.keys("*")]
    assert not any(token in k for k in keys)
    for k in keys:
        if redis_client.type(k) == b"hash":
            assert token.encode() not in b"".join(redis_client.hgetall(k).values())


def test_worker_session_slides_and_staff_session_is_absolute(app, client, redis_client):
    token = login_worker(client)
    key = next(k for k in redis_client.keys("sess:*"))
    redis_client.expire(key, 100)
    client.get("/api/v1/me", headers=bearer(token))
    assert redis_client.ttl(key) > 7 * 24 * 3600 - 10
    redis_client.pexpire(key, 0)  # the session's time runs out now (a non-positive TTL expires the key)
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401
    assert error_code(resp) == "unauthenticated"

    make_staff(app, "clerk", "enrollment_reviewer")
    staff = login_staff(client, "clerk")
    skey = [k for k in redis_client.keys("sess:*")][0]
    assert 8 * 3600 - 10 < redis_client.ttl(skey) <= 8 * 3600
    redis_client.expire(skey, 100)
    client.get("/api/v1/me", headers=bearer(staff))
    assert redis_client.ttl(skey) <= 100


def test_staff_login_and_lockout(app, client):
    make_staff(app, "clerk", "enrollment_reviewer")
    resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "Passw0rd!"})
    assert resp.status_code == 200
    assert resp.get_json()["expires_in"] == 8 * 3600
    for _ in range(5):
        resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "wrong"})
        assert resp.status_code == 401
        assert error_code(resp) == "invalid_credentials"
    resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "Passw0rd!"})
    assert resp.status_code == 429
    assert error_code(resp) == "rate_limited"
    assert 0 < int(resp.headers["Retry-After"]) <= 900


def test_twenty_simultaneous_wrong_passwords_try_at_most_five(pg_app):
    """The attempt is counted before the password is checked, in one atomic step: however
    many guesses arrive at once, five are tried and the rest are locked out unheard."""
    make_staff(pg_app, "clerk", "enrollment_reviewer")
    barrier = threading.Barrier(20)
    answers: list[tuple[int, str]] = []

    def guess(n: int) -> None:
        client = pg_app.test_client()
        barrier.wait()
        resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": f"guess-{n}"})
        answers.append((resp.status_code, error_code(resp)))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [(401, "invalid_credentials")] * 5 + [(429, "rate_limited")] * 15
    resp = pg_app.test_client().post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "Passw0rd!"})
    assert (resp.status_code, error_code(resp)) == (429, "rate_limited")
    assert resp.get_json()["error"]["message"] == "登录失败次数过多，请 15 分钟后再试"


def test_a_successful_login_clears_the_failures(client, app):
    make_staff(app, "clerk", "enrollment_reviewer")
    for _ in range(4):
        assert client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "no"}).status_code == 401
    login_staff(client, "clerk")
    for _ in range(5):
        assert client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "no"}).status_code == 401
    resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "no"})
    assert (resp.status_code, error_code(resp)) == (429, "rate_limited")


def test_unknown_staff_user_gets_the_same_answer(client):
    resp = client.post("/api/v1/auth/staff/login", json={"username": "ghost", "password": "whatever"})
    assert resp.status_code == 401
    assert error_code(resp) == "invalid_credentials"


def test_disabling_staff_revokes_every_session(app, client):
    make_staff(app, "clerk", "admin")
    t1 = login_staff(client, "clerk")
    t2 = login_staff(client, "clerk")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "disable", "clerk"])
    assert result.exit_code == 0, result.output
    assert "revoked 2" in result.output
    for t in (t1, t2):
        assert outcome(client.get("/api/v1/me", headers=bearer(t))) == (401, "unauthenticated")
    resp = client.post("/api/v1/auth/staff/login", json={"username": "clerk", "password": "Passw0rd!"})
    assert outcome(resp) == (401, "invalid_credentials")


def test_staff_cli_create(app, client):
    org = make_org(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "--username", "zhang", "--password", "Str0ngPass!",
                                 "--role", "station_manager", "--org", str(org)])
    assert result.exit_code == 0, result.output
    token = login_staff(client, "zhang", "Str0ngPass!")
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["kind"] == "staff"
    assert me["roles"] == [{"role": "station_manager", "organization_id": org}]
    bad = runner.invoke(args=["staff", "create", "--username", "li", "--password", "short", "--role", "admin"])
    assert bad.exit_code != 0


def test_passwords_are_hashed_with_an_adaptive_hash(app):
    from models import StaffUser, db

    make_staff(app, "clerk", "admin")
    with app.app_context():
        staff = db.session.query(StaffUser).one()
        assert staff.password_hash.startswith("scrypt:")
        assert "Passw0rd!" not in staff.password_hash


def test_staff_cannot_use_worker_endpoints_and_vice_versa(app, client):
    make_staff(app, "clerk", "admin")
    staff = login_staff(client, "clerk")
    resp = client.post("/api/v1/auth/wechat/phone", json={"code": "phone-13800138000"}, headers=bearer(staff))
    assert outcome(resp) == (403, "forbidden")
    worker = login_worker(client)
    resp = client.get("/api/v1/admin/audit-log", headers=bearer(worker))
    assert resp.status_code == 403
    assert error_code(resp) == "forbidden"


def test_delete_me_erases_and_revokes(app, client):
    token = login_worker(client, "frank")
    bind_phone(client, token, "13700001111")
    other = login_worker(client, "frank")
    assert client.delete("/api/v1/me", headers=bearer(token)).status_code == 204
    for t in (token, other):
        assert outcome(client.get("/api/v1/me", headers=bearer(t))) == (401, "unauthenticated")
    from models import Worker, db
    with app.app_context():
        w = db.session.query(Worker).one()
        assert w.openid is None and w.phone_enc is None and w.erased_at is not None
    # the same WeChat user can start again as a new, empty account
    again = client.post("/api/v1/auth/wechat/login", json={"code": "dev-frank.again"}).get_json()
    assert again["is_new_user"] is True
    assert again["user"]["phone"] is None


def test_access_token_fetched_once_for_several_gateways(app, redis_client):
    """Processes share WeChat's access token through Redis."""
    import threading

    from wechat import WeChatGateway

    barrier = threading.Barrier(6)
    tokens = []

    def fetch():
        gw = WeChatGateway(app.config["WECHAT_APPID"], app.config["WECHAT_SECRET"],
                           app.config["WECHAT_API_BASE"], redis_client, timeout=2)
        barrier.wait()
        tokens.append(gw.fetch_access_token())

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1
    assert fake.token_fetch_count(redis_client) == 1


def test_login_rate_limited_per_client_address(app, client):
    saved = app.config["RATELIMIT_LOGIN"]
    app.config["RATELIMIT_LOGIN"] = "3 per minute"
    try:
        outcomes = [outcome(client.post("/api/v1/auth/wechat/login", json={"code": f"dev-rl.{i}"}))
                    for i in range(4)]
    finally:
        app.config["RATELIMIT_LOGIN"] = saved
    assert outcomes == [(200, None)] * 3 + [(429, "rate_limited")]


def test_rate_limited_answer_carries_retry_after(app, client):
    saved = app.config["RATELIMIT_LOGIN"]
    app.config["RATELIMIT_LOGIN"] = "1 per minute"
    try:
        client.post("/api/v1/auth/wechat/login", json={"code": "dev-ra.1"})
        resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-ra.2"})
    finally:
        app.config["RATELIMIT_LOGIN"] = saved
    assert resp.status_code == 429
    assert error_code(resp) == "rate_limited"
    assert 0 < int(resp.headers["Retry-After"]) <= 60
