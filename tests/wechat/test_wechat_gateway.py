"""The WeChat gateway against the fake WeChat, over real HTTP and in process."""
from __future__ import annotations

import base64
import socket
import threading

import pytest
import requests
from werkzeug.test import Client

from tests.helpers import wechat_calls
from wechat import (
    WeChatBadData,
    WeChatCodeInvalid,
    WeChatDecryptError,
    WeChatError,
    WeChatGateway,
    WeChatRateLimited,
    WeChatUnavailable,
    WeChatUserBlocked,
    WeChatUserRefused,
    decrypt_user_data,
    encrypt_user_data,
    error_from_errcode,
    fake,
)
from wechat.fake import FakeWeChat

# Same values as in conftest.py (not imported from there: "conftest" is ambiguous).
WX_APPID = "wx-test-appid"
WX_SECRET = "wx-test-secret"


def free_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


MSG_DATA = {"thing1": {"value": "入会申请已通过"}, "time2": {"value": "2024-05-01 10:00"}}


# --------------------------------------------------------------------------- login


def test_login_gives_openid_session_key_unionid_without_a_token(wx_gateway, wx_redis):
    result = wx_gateway.code_to_session("dev-alice")
    assert result == {
        "openid": "fake-alice",
        "session_key": fake.session_key_for("alice"),
        "unionid": "fake-union-alice",
    }
    assert len(base64.b64decode(result["session_key"])) == 16
    # jscode2session needs no access token: none fetched
    assert fake.token_fetch_count(wx_redis) == 0


def test_login_code_works_once_and_suffix_keeps_the_user(wx_gateway):
    assert wx_gateway.code_to_session("dev-alice.1")["openid"] == "fake-alice"
    with pytest.raises(WeChatCodeInvalid) as info:
        wx_gateway.code_to_session("dev-alice.1")
    assert (info.value.errcode, info.value.http_status, info.value.code) == (40163, 401, "wechat_code_invalid")
    assert wx_gateway.code_to_session("dev-alice.2")["openid"] == "fake-alice"


@pytest.mark.parametrize("code, cls, errcode, status, api_code", [
    ("invalid-1", WeChatCodeInvalid, 40029, 401, "wechat_code_invalid"),
    ("whatever", WeChatCodeInvalid, 40029, 401, "wechat_code_invalid"),
    ("limit-1", WeChatRateLimited, 45011, 429, "rate_limited"),
    ("blocked-1", WeChatUserBlocked, 40226, 403, "wechat_user_blocked"),
    ("busy-1", WeChatUnavailable, -1, 503, "wechat_unavailable"),
])
def test_login_errcodes_map_to_api_errors(wx_gateway, code, cls, errcode, status, api_code):
    with pytest.raises(cls) as info:
        wx_gateway.code_to_session(code)
    err = info.value
    assert (err.errcode, err.http_status, err.code) == (errcode, status, api_code)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.message)  # Chinese, for the user
    if cls is WeChatRateLimited:
        assert err.retry_after == 60


def test_empty_code_is_invalid_without_a_call(wx_gateway, wx_redis):
    with pytest.raises(WeChatCodeInvalid):
        wx_gateway.code_to_session("")
    assert fake.call_counts(wx_redis) == {}


def test_unknown_errcode_is_plain_wechat_error(wx_server, wx_redis):
    # Over HTTP only: the in-process fake is mounted with the gateway's own appid/secret.
    gateway = WeChatGateway(WX_APPID, "wrong-secret", wx_server.base_url, wx_redis, timeout=2.0)
    with pytest.raises(WeChatError) as info:
        gateway.code_to_session("dev-alice")
    assert type(info.value) is WeChatError
    assert (info.value.code, info.value.http_status, info.value.errcode) == ("wechat_error", 502, 40125)
    gateway.close()


# --------------------------------------------------------------------------- WeChat unreachable


def test_timeout_is_unavailable_after_one_try(wx_make_gateway, wx_redis):
    gateway = wx_make_gateway(timeout=0.2)
    # WeChat answers, but only after five times the timeout: the gateway must give up waiting (a read
    # timeout, not the 40029 of its answer) after its one call. Over HTTP the fake answers after the
    # test has ended: an invalid code, so that it writes nothing then.
    fake.set_mode(wx_redis, "slow", delay=5 * gateway.timeout)
    with pytest.raises(WeChatUnavailable) as info:
        gateway.code_to_session("invalid-slowwechat")
    assert (info.value.http_status, info.value.errcode, info.value.errmsg) == (503, None, "ReadTimeout")
    assert wechat_calls(wx_redis, "sns/jscode2session") == {"sns/jscode2session": 1}


def test_slow_but_within_timeout_succeeds(wx_make_gateway, wx_redis):
    fake.set_mode(wx_redis, "slow", delay=0.05)
    assert wx_make_gateway(timeout=1.0).code_to_session("dev-alice")["openid"] == "fake-alice"


@pytest.mark.parametrize("mode", ["down", "busy"])
def test_down_or_busy_is_unavailable(wx_gateway, wx_redis, mode):
    fake.set_mode(wx_redis, mode)
    with pytest.raises(WeChatUnavailable):
        wx_gateway.code_to_session("dev-alice")
    with pytest.raises(WeChatUnavailable):
        wx_gateway.send_subscribe_message("fake-alice", "tpl", MSG_DATA)
    fake.set_mode(wx_redis, "normal")
    assert wx_gateway.code_to_session("dev-alice")["openid"] == "fake-alice"


def test_refused_connection_is_unavailable(wx_redis):
    gateway = WeChatGateway(WX_APPID, WX_SECRET, f"http://127.0.0.1:{free_port()}/", wx_redis, timeout=1.0)
    with pytest.raises(WeChatUnavailable) as info:
        gateway.code_to_session("dev-alice")
    with pytest.raises(WeChatUnavailable) as sending:
        gateway.send_subscribe_message("fake-alice", "tpl", MSG_DATA)
    # refused at once, not waited out: a connection error, not a timeout (ConnectTimeout, ReadTimeout)
    assert info.value.errmsg == sending.value.errmsg == "ConnectionError"
    # nothing from requests (whose messages carry URLs with tokens) is chained
    assert info.value.__cause__ is None and info.value.__suppress_context__
    gateway.close()


# --------------------------------------------------------------------------- phone number


def test_phone_number_flow(wx_gateway):
    info = wx_gateway.get_phone_number("phone-13800138000")
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13800138000"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == WX_APPID
    assert isinstance(info["watermark"]["timestamp"], int)


@pytest.mark.parametrize("code", ["phone-1380013800", "13800138000", "nope"])
def test_bad_phone_code(wx_gateway, code):
    with pytest.raises(WeChatCodeInvalid) as info:
        wx_gateway.get_phone_number(code)
    assert info.value.errcode == 40029


# --------------------------------------------------------------------------- subscribe messages


def test_subscribe_message_is_recorded(wx_gateway, wx_redis):
    assert wx_gateway.send_subscribe_message("fake-alice", "tpl-enroll", MSG_DATA, page="pages/me/index") is None
    [sent] = fake.sent_messages(wx_redis)
    assert sent["touser"] == "fake-alice"
    assert sent["template_id"] == "tpl-enroll"
    assert sent["data"] == MSG_DATA
    assert sent["page"] == "pages/me/index"
    assert FakeWeChat.sent_messages(wx_redis) == [sent]


def test_subscribe_refusal_is_final(wx_gateway, wx_redis):
    openid = wx_gateway.code_to_session("dev-refuse.1")["openid"]
    with pytest.raises(WeChatUserRefused) as info:
        wx_gateway.send_subscribe_message(openid, "tpl", MSG_DATA)
    assert (info.value.errcode, info.value.http_status, info.value.code) == (43101, 409, "wechat_user_refused")
    assert info.value.retryable is False
    fake.refuse_user(wx_redis, "fake-bob")
    with pytest.raises(WeChatUserRefused):
        wx_gateway.send_subscribe_message("fake-bob", "tpl", MSG_DATA)
    assert fake.sent_messages(wx_redis) == []


def test_subscribe_bad_data_is_47003(wx_gateway, wx_redis):
    with pytest.raises(WeChatBadData) as info:
        wx_gateway.send_subscribe_message("fake-alice", "tpl", {"thing1": "not an object"})
    assert (info.value.errcode, info.value.http_status, info.value.code) == (47003, 422, "wechat_bad_data")
    assert info.value.retryable is False
    with pytest.raises(WeChatBadData):  # checked before calling
        wx_gateway.send_subscribe_message("fake-alice", "tpl", {})
    assert fake.sent_messages(wx_redis) == []


# --------------------------------------------------------------------------- wxa code


def test_wxa_code_is_png(wx_gateway):
    png = wx_gateway.get_wxa_code_unlimited("bf=12&d=3", page="pages/breakfast/scan")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.endswith(b"IEND\xaeB`\x82")


def test_wxa_code_errcode_raises(wx_gateway):
    with pytest.raises(WeChatBadData):
        wx_gateway.get_wxa_code_unlimited("x" * 33)


# --------------------------------------------------------------------------- access token


def test_access_token_fetched_once_by_concurrent_processes(wx_make_gateway, wx_redis):
    gateways = [wx_make_gateway() for _ in range(8)]
    barrier = threading.Barrier(len(gateways))
    tokens, errors = [], []

    def run(gateway):
        try:
            barrier.wait()
            tokens.append(gateway.fetch_access_token())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(g,)) for g in gateways]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert fake.token_fetch_count(wx_redis) == 1
    # every later call, from any "process", reuses the shared token
    wx_make_gateway().send_subscribe_message("fake-alice", "tpl", MSG_DATA)
    gateways[3].get_wxa_code_unlimited("s=1")
    assert fake.token_fetch_count(wx_redis) == 1
    assert fake.call_counts(wx_redis)["cgi-bin/stable_token"] == 1


def test_access_token_lives_in_redis_with_ttl(wx_gateway, wx_redis):
    token = wx_gateway.fetch_access_token()
    keys = [k.decode() for k in wx_redis.keys("wechat:*")]
    assert keys == [f"wechat:{WX_APPID}_access_token"]
    assert 0 < wx_redis.ttl(keys[0]) <= 7200
    assert token in wx_redis.get(keys[0]).decode()


def test_rejected_token_is_refreshed_once_and_call_retried(wx_gateway, wx_redis):
    old = wx_gateway.fetch_access_token()
    fake.revoke_tokens(wx_redis)
    wx_gateway.send_subscribe_message("fake-alice", "tpl", MSG_DATA)
    assert fake.token_fetch_count(wx_redis) == 2
    assert wx_gateway.fetch_access_token() != old
    assert len(fake.sent_messages(wx_redis)) == 1


def test_token_endpoint_failure_is_unavailable(wx_gateway, wx_redis):
    fake.set_mode(wx_redis, "down")
    with pytest.raises(WeChatUnavailable):
        wx_gateway.fetch_access_token()
    with pytest.raises(WeChatUnavailable):
        wx_gateway.get_phone_number("phone-13800138000")


def test_fake_mode_uses_no_network(wx_redis, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network used in fake mode")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", no_network)
    gateway = WeChatGateway(WX_APPID, WX_SECRET, "fake", wx_redis)
    assert gateway.code_to_session("dev-carol")["openid"] == "fake-carol"
    gateway.get_phone_number("phone-13900139000")
    gateway.send_subscribe_message("fake-carol", "tpl", MSG_DATA)
    assert gateway.get_wxa_code_unlimited("s=2").startswith(b"\x89PNG")
    gateway.close()


# --------------------------------------------------------------------------- the fake itself


def test_fake_matches_path_suffix_and_checks_app(wx_redis):
    client = Client(FakeWeChat(wx_redis, appid="wxA", secret="sA"))
    ok = client.get("/any/base/sns/jscode2session?appid=wxA&secret=sA&js_code=dev-dan&grant_type=authorization_code")
    assert ok.status_code == 200 and "errcode" not in ok.json and ok.json["openid"] == "fake-dan"
    assert client.get("/sns/jscode2session?appid=wxA&secret=bad&js_code=dev-x").json["errcode"] == 40125
    assert client.get("/sns/jscode2session?appid=wxB&secret=sA&js_code=dev-x").json["errcode"] == 40013
    token = client.get("/cgi-bin/token?grant_type=client_credential&appid=wxA&secret=sA").json
    assert token["expires_in"] == 7200
    assert client.post("/wxa/business/getuserphonenumber?access_token=nope",
                       json={"code": "phone-13800138000"}).json["errcode"] == 40001
    assert client.post("/wxa/business/getuserphonenumber?access_token=" + token["access_token"],
                       json={"code": "phone-13800138000"}).json["errcode"] == 0
    elsewhere = client.get("/elsewhere")
    assert (elsewhere.status_code, elsewhere.json["errcode"]) == (404, 404)
    fake.reset(wx_redis)
    assert wx_redis.keys("fakewx:*") == []


# --------------------------------------------------------------------------- errors


def test_error_from_errcode_table():
    assert type(error_from_errcode(40029)) is WeChatCodeInvalid
    assert type(error_from_errcode(40163)) is WeChatCodeInvalid
    assert type(error_from_errcode(45011)) is WeChatRateLimited
    assert type(error_from_errcode(40226)) is WeChatUserBlocked
    assert type(error_from_errcode(-1)) is WeChatUnavailable
    assert type(error_from_errcode(43101)) is WeChatUserRefused
    assert type(error_from_errcode(47003)) is WeChatBadData
    other = error_from_errcode(48001, "api unauthorized")
    assert type(other) is WeChatError
    assert (other.code, other.http_status, other.errcode) == ("wechat_error", 502, 48001)
    assert WeChatDecryptError().code == "wechat_decrypt_failed" and WeChatDecryptError.http_status == 422
    body = error_from_errcode(45011).to_dict()
    assert body["error"]["code"] == "rate_limited" and body["error"]["message"] == "操作太频繁，请稍后再试"


# --------------------------------------------------------------------------- decryption

SAMPLE_APPID = "wx4f4bc4dec97d474b"
SAMPLE_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
SAMPLE_IV = "r7BXXKkLb8qrSNn05n0qiA=="
SAMPLE_DATA = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)


def test_decrypt_published_sample():
    data = decrypt_user_data(SAMPLE_KEY, SAMPLE_DATA, SAMPLE_IV, SAMPLE_APPID)
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["nickName"] == "Band"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    assert data["watermark"] == {"timestamp": 1477314187, "appid": SAMPLE_APPID}


def test_decrypt_wrong_appid():
    with pytest.raises(WeChatDecryptError) as info:
        decrypt_user_data(SAMPLE_KEY, SAMPLE_DATA, SAMPLE_IV, "wx-someone-else")
    assert (info.value.code, info.value.http_status) == ("wechat_decrypt_failed", 422)
    assert SAMPLE_KEY not in str(info.value)


@pytest.mark.parametrize("key, data, iv", [
    (SAMPLE_KEY, SAMPLE_DATA[:-24] + "AAAAAAAAAAAAAAAAAAAAAA==", SAMPLE_IV),  # last block corrupt
    (SAMPLE_KEY, SAMPLE_DATA[:-4], SAMPLE_IV),                                # truncated
    (SAMPLE_KEY, "not base64 !!", SAMPLE_IV),
    (SAMPLE_KEY, "", SAMPLE_IV),
    ("AAAAAAAAAAAAAAAAAAAAAA==", SAMPLE_DATA, SAMPLE_IV),                       # wrong key
    (base64.b64encode(b"k" * 24).decode(), SAMPLE_DATA, SAMPLE_IV),            # not AES-128
    (SAMPLE_KEY, SAMPLE_DATA, "short"),
    (SAMPLE_KEY, SAMPLE_DATA, None),
])
def test_decrypt_corrupt_input(key, data, iv):
    with pytest.raises(WeChatDecryptError):
        decrypt_user_data(key, data, iv, SAMPLE_APPID)


def test_encrypt_roundtrip_with_fake_session_key():
    key = fake.session_key_for("alice")
    payload = {"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
               "watermark": {"timestamp": 1, "appid": WX_APPID}}
    encrypted, iv = encrypt_user_data(key, payload)
    assert decrypt_user_data(key, encrypted, iv, WX_APPID) == payload
    with pytest.raises(WeChatDecryptError):
        decrypt_user_data(fake.session_key_for("bob"), encrypted, iv, WX_APPID)
