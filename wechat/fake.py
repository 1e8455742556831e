"""The fake WeChat (docs/contract.md §9): a small WSGI app speaking WeChat's own HTTP protocol.

Endpoints (matched on the path suffix, so any base path in front works):

* ``GET  sns/jscode2session``            -- login codes, see below
* ``GET  cgi-bin/token``                 -- access token (old style)
* ``POST cgi-bin/stable_token``          -- access token (stable style)
* ``POST wxa/business/getuserphonenumber?access_token=``
* ``POST cgi-bin/message/subscribe/send?access_token=``
* ``POST wxa/getwxacodeunlimit?access_token=`` -- a real (placeholder) PNG

Rules:

* Login codes: ``dev-<name>`` or ``dev-<name>.<anything>`` -> openid
  ``fake-<name>``, unionid ``fake-union-<name>``, a session_key stable per name
  (:func:`session_key_for`); no ``errcode`` key in the success answer. Each
  code works once (used codes kept a day), a second use is 40163.
  ``invalid-*`` -> 40029, ``limit-*`` -> 45011, ``blocked-*`` -> 40226,
  ``busy-*`` -> -1, anything else -> 40029.
* Tokens: every token request issues a new random token valid 7200 s and
  counts one fetch (:func:`token_fetch_count`). Calls with an unknown token
  answer 40001 (:func:`revoke_tokens` makes every issued token unknown).
* Phone codes: ``phone-<11 digits>`` -> that number, country code 86;
  anything else -> 40029.
* Subscribe messages: ``touser``, ``template_id`` and ``data`` (an object of
  ``{"key": {"value": ...}}``) are required, else 47003. Users whose openid
  contains ``refuse`` (or marked with :func:`refuse_user`) answer 43101.
  Accepted messages are kept (:func:`sent_messages`). Once templates are
  set (:func:`set_templates`: the mini-program's picks from WeChat's library,
  each a list of keywords), a message must name one of them (else 40037) and
  fill exactly its keywords, each value within its type's rules (``thing`` at
  most 20 characters, ``phrase`` 5, ``time`` a date and time …), else 47003.
* Modes (:func:`set_mode`): ``normal``; ``slow`` sleeps ``delay`` seconds
  before answering; ``down`` answers HTTP 503 with errcode -1; ``busy``
  answers HTTP 200 with errcode -1.

All state lives in the given Redis under keys prefixed ``fakewx:``, so
several processes see one WeChat. :func:`reset` wipes it.

Use it in process with :func:`mount_fake` (a requests transport adapter, no
network at all) or over real HTTP with :func:`make_server`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import struct
import threading
import time
import zlib
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server as _werkzeug_make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

logger = logging.getLogger(__name__)

KEY_PREFIX = "fakewx:"
_K_CODE = KEY_PREFIX + "code:{}"
_K_TOKEN = KEY_PREFIX + "token:{}"
_K_TOKENS = KEY_PREFIX + "tokens"
_K_TOKEN_FETCHES = KEY_PREFIX + "token_fetches"
_K_MESSAGES = KEY_PREFIX + "messages"
_K_MODE = KEY_PREFIX + "mode"
_K_REFUSING = KEY_PREFIX + "refusing"
_K_CALLS = KEY_PREFIX + "calls"
_K_TEMPLATES = KEY_PREFIX + "templates"

CODE_TTL = 86400
TOKEN_TTL = 7200
MODES = ("normal", "slow", "down", "busy")

#: WSGI environ key the in-process adapter uses to pass the client's read timeout.
ENVIRON_READ_TIMEOUT = "fakewx.read_timeout"

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PHONE_RE = re.compile(r"^phone-(\d{11})$")
_SESSION_KEY_SALT = b"fakewx:session_key:v1"


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


# --------------------------------------------------------------------------- helpers for tests


def session_key_for(name: str) -> str:
    """The session_key the fake gives user ``name`` (code ``dev-<name>``): base64 of 16 bytes."""
    digest = hmac.new(_SESSION_KEY_SALT, name.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest[:16]).decode("ascii")


def openid_for(name: str) -> str:
    """The openid the fake gives user ``name``."""
    return f"fake-{name}"


def reset(redis_client) -> None:
    """Forget everything the fake knows: used codes, tokens, messages, mode, counters."""
    keys = list(redis_client.scan_iter(match=KEY_PREFIX + "*", count=500))
    for i in range(0, len(keys), 500):
        redis_client.delete(*keys[i:i + 500])


def sent_messages(redis_client) -> list[dict]:
    """The subscribe messages the fake accepted, oldest first (each a dict as sent, plus
    ``appid`` and ``sent_at``)."""
    return [json.loads(_text(raw)) for raw in redis_client.lrange(_K_MESSAGES, 0, -1)]


def token_fetch_count(redis_client) -> int:
    """How many access tokens the fake issued (cgi-bin/token plus cgi-bin/stable_token)."""
    return int(_text(redis_client.get(_K_TOKEN_FETCHES)) or 0)


def call_counts(redis_client) -> dict[str, int]:
    """How many calls each endpoint received, e.g. ``{"sns/jscode2session": 2}``."""
    raw = redis_client.hgetall(_K_CALLS)
    return {_text(k): int(_text(v)) for k, v in raw.items()}


def revoke_tokens(redis_client) -> None:
    """Make every issued access token unknown (next calls using them answer 40001)."""
    for token in redis_client.smembers(_K_TOKENS):
        redis_client.delete(_K_TOKEN.format(_text(token)))
    redis_client.delete(_K_TOKENS)


def refuse_user(redis_client, openid: str) -> None:
    """Make subscribe messages to ``openid`` answer 43101 from now on."""
    redis_client.sadd(_K_REFUSING, openid)


def set_templates(redis_client, templates: dict[str, list[str]]) -> None:
    """The subscribe-message templates the mini-program picked: ``{template_id: [keyword, …]}``.
    From now on every message is checked against them (see the module's rules)."""
    redis_client.delete(_K_TEMPLATES)
    if templates:
        redis_client.hset(_K_TEMPLATES, mapping={tid: json.dumps(keys) for tid, keys in templates.items()})


# What WeChat accepts in a value, by keyword type (its documented rules, checked loosely).
_VALUE_RULES = {
    "thing": re.compile(r"^.{1,20}$", re.S),
    "number": re.compile(r"^[\d.]{1,32}$"),
    "letter": re.compile(r"^[A-Za-z]{1,32}$"),
    "symbol": re.compile(r"^[^\w\s]{1,5}$"),
    "character_string": re.compile(r"^[\x21-\x7e]{1,32}$"),
    "time": re.compile(r"^(\d{4}年\d{1,2}月\d{1,2}日 ?)?\d{1,2}:\d{2}$|^\d{4}年\d{1,2}月\d{1,2}日$"),
    "date": re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日( \d{1,2}:\d{2})?$"),
    "amount": re.compile(r"^[¥$]?\d{1,10}(\.\d{1,2})?元?$"),
    "phone_number": re.compile(r"^[\d+\-]{1,17}$"),
    "car_number": re.compile(r"^.{1,8}$"),
    "name": re.compile(r"^(.{1,10}|[A-Za-z ]{1,20})$"),
    "phrase": re.compile(r"^[\u4e00-\u9fff]{1,5}$"),
}
_KEYWORD = re.compile(r"^([a-z_]+?)\d+$")


def _value_ok(keyword: str, value) -> bool:
    match = _KEYWORD.match(keyword)
    rule = _VALUE_RULES.get(match.group(1)) if match else None
    return rule is not None and isinstance(value, str) and rule.match(value) is not None


def set_mode(redis_client, mode: str, delay: float = 1.0) -> None:
    """Switch the fake's behaviour for every endpoint.

    ``normal``; ``slow``: sleep ``delay`` seconds, then answer normally;
    ``down``: HTTP 503 with ``{"errcode": -1}``; ``busy``: HTTP 200 with
    ``{"errcode": -1}``. Raises ValueError for an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"unknown fake WeChat mode {mode!r}")
    if mode == "normal":
        redis_client.delete(_K_MODE)
    else:
        redis_client.hset(_K_MODE, mapping={"mode": mode, "delay": repr(float(delay))})


def get_mode(redis_client) -> tuple[str, float]:
    """The current ``(mode, delay)``."""
    raw = redis_client.hgetall(_K_MODE)
    if not raw:
        return "normal", 0.0
    data = {_text(k): _text(v) for k, v in raw.items()}
    return data.get("mode") or "normal", float(data.get("delay") or 0.0)


# --------------------------------------------------------------------------- PNG


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode 8-bit grayscale rows as a PNG file."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def placeholder_code_png(scene: str, width: int = 430) -> bytes:
    """A QR-looking placeholder PNG (not scannable) derived from ``scene``, about ``width`` px."""
    n, quiet = 25, 2
    bits = hashlib.sha256(scene.encode("utf-8")).digest() * 20
    grid = [[(bits[(y * n + x) // 8] >> ((y * n + x) % 8)) & 1 for x in range(n)] for y in range(n)]

    def finder(ox: int, oy: int) -> None:
        for dy in range(-1, 8):
            for dx in range(-1, 8):
                x, y = ox + dx, oy + dy
                if 0 <= x < n and 0 <= y < n:
                    ring = max(abs(dx - 3), abs(dy - 3))
                    grid[y][x] = 1 if ring in (0, 1, 3) else 0

    finder(0, 0)
    finder(n - 7, 0)
    finder(0, n - 7)
    size = n + 2 * quiet
    scale = max(1, int(width) // size)
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            gx, gy = x - quiet, y - quiet
            dark = 0 <= gx < n and 0 <= gy < n and grid[gy][gx]
            row.extend((b"\x00" if dark else b"\xff") * scale)
        rows.extend([bytes(row)] * scale)
    return _png(size * scale, size * scale, rows)


# --------------------------------------------------------------------------- the WSGI app


class _FakeTimeout(Exception):
    """Raised inside the app when the in-process caller's read timeout passes."""


class FakeWeChat:
    """WSGI app of the fake WeChat; state in ``redis_client`` under ``fakewx:``.

    ``appid``/``secret``, when given, are checked like WeChat does (40013
    invalid appid, 40125 invalid secret); when omitted any are accepted.
    """

    # Test helpers, also available as module functions.
    sent_messages = staticmethod(sent_messages)
    reset = staticmethod(reset)
    token_fetch_count = staticmethod(token_fetch_count)
    call_counts = staticmethod(call_counts)
    set_mode = staticmethod(set_mode)
    set_templates = staticmethod(set_templates)
    get_mode = staticmethod(get_mode)
    revoke_tokens = staticmethod(revoke_tokens)
    refuse_user = staticmethod(refuse_user)
    session_key_for = staticmethod(session_key_for)
    openid_for = staticmethod(openid_for)

    ROUTES = (
        ("sns/jscode2session", "GET", "_jscode2session"),
        ("cgi-bin/stable_token", "POST", "_stable_token"),
        ("cgi-bin/token", "GET", "_token"),
        ("wxa/business/getuserphonenumber", "POST", "_phone_number"),
        ("cgi-bin/message/subscribe/send", "POST", "_subscribe_send"),
        ("wxa/getwxacodeunlimit", "POST", "_wxa_code_unlimited"),
    )

    def __init__(self, redis_client, appid: str | None = None, secret: str | None = None):
        self.redis = redis_client
        self.appid = appid or None
        self.secret = secret or None

    # -- plumbing

    def __call__(self, environ, start_response):
        try:
            response = self._dispatch(Request(environ))
        except _FakeTimeout:
            raise
        except Exception:  # a broken fake answers like a broken WeChat
            logger.exception("fake WeChat failed")
            response = self._json({"errcode": -1, "errmsg": "system error"}, status=500)
        return response(environ, start_response)

    @staticmethod
    def _json(payload: dict, status: int = 200) -> Response:
        return Response(json.dumps(payload, ensure_ascii=False), status=status,
                        content_type="application/json; encoding=utf-8")

    def _err(self, errcode: int, errmsg: str) -> Response:
        return self._json({"errcode": errcode, "errmsg": errmsg})

    def _dispatch(self, request: Request) -> Response:
        path = "/" + request.path.strip("/")
        for route, method, handler in self.ROUTES:
            if path.endswith("/" + route):
                break
        else:
            return self._json({"errcode": 404, "errmsg": "not found"}, status=404)
        self.redis.hincrby(_K_CALLS, route, 1)

        mode, delay = get_mode(self.redis)
        if mode == "slow":
            limit = request.environ.get(ENVIRON_READ_TIMEOUT)
            if limit is not None and delay > limit:
                time.sleep(limit)
                raise _FakeTimeout()
            time.sleep(delay)
        elif mode == "down":
            return self._json({"errcode": -1, "errmsg": "system error"}, status=503)
        elif mode == "busy":
            return self._err(-1, "system error")

        if request.method != method:
            return self._err(43001 if method == "GET" else 43002, f"require {method} method")
        return getattr(self, handler)(request)

    def _body(self, request: Request):
        try:
            body = json.loads(request.get_data(cache=True).decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _check_app(self, appid: str | None, secret: str | None) -> Response | None:
        if not appid:
            return self._err(41002, "appid missing")
        if self.appid and appid != self.appid:
            return self._err(40013, "invalid appid")
        if not secret:
            return self._err(41004, "appsecret missing")
        if self.secret and secret != self.secret:
            return self._err(40125, "invalid appsecret")
        return None

    def _token_appid(self, request: Request):
        """The appid the request's access_token was issued to, or an error Response."""
        token = request.args.get("access_token")
        if not token:
            return None, self._err(41001, "access_token missing")
        appid = _text(self.redis.get(_K_TOKEN.format(token)))
        if appid is None:
            return None, self._err(40001, "invalid credential, access_token is invalid or not latest")
        return appid, None

    # -- endpoints

    def _jscode2session(self, request: Request) -> Response:
        args = request.args
        error = self._check_app(args.get("appid"), args.get("secret"))
        if error is not None:
            return error
        code = args.get("js_code") or ""
        if not code:
            return self._err(41008, "missing code")
        if code.startswith("dev-"):
            name = code[4:].split(".", 1)[0]
            if not _NAME_RE.match(name):
                return self._err(40029, "invalid code")
            if not self.redis.set(_K_CODE.format(code), "1", nx=True, ex=CODE_TTL):
                return self._err(40163, "code been used")
            return self._json({
                "session_key": session_key_for(name),
                "openid": openid_for(name),
                "unionid": f"fake-union-{name}",
            })
        if code.startswith("limit-"):
            return self._err(45011, "api minute-quota reach limit  mustslower  retry next minute")
        if code.startswith("blocked-"):
            return self._err(40226, "invalid user, user is high risk")
        if code.startswith("busy-"):
            return self._err(-1, "system error")
        return self._err(40029, "invalid code")

    def _issue_token(self, appid: str) -> Response:
        token = "fakewx-" + secrets.token_urlsafe(32)
        pipe = self.redis.pipeline()
        pipe.set(_K_TOKEN.format(token), appid, ex=TOKEN_TTL)
        pipe.sadd(_K_TOKENS, token)
        pipe.incr(_K_TOKEN_FETCHES)
        pipe.execute()
        return self._json({"access_token": token, "expires_in": TOKEN_TTL})

    def _token(self, request: Request) -> Response:
        args = request.args
        if args.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        error = self._check_app(args.get("appid"), args.get("secret"))
        return error if error is not None else self._issue_token(args["appid"])

    def _stable_token(self, request: Request) -> Response:
        body = self._body(request)
        if body is None:
            return self._err(47001, "data format error")
        if body.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        error = self._check_app(body.get("appid"), body.get("secret"))
        return error if error is not None else self._issue_token(body["appid"])

    def _phone_number(self, request: Request) -> Response:
        appid, error = self._token_appid(request)
        if error is not None:
            return error
        body = self._body(request)
        if body is None:
            return self._err(47001, "data format error")
        match = _PHONE_RE.match(str(body.get("code") or ""))
        if not match:
            return self._err(40029, "invalid code")
        phone = match.group(1)
        return self._json({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": appid},
            },
        })

    def _subscribe_send(self, request: Request) -> Response:
        appid, error = self._token_appid(request)
        if error is not None:
            return error
        body = self._body(request)
        if body is None:
            return self._err(47001, "data format error")
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not touser or not isinstance(touser, str):
            return self._err(47003, "argument invalid! touser invalid")
        if not template_id or not isinstance(template_id, str):
            return self._err(47003, "argument invalid! template_id invalid")
        if not data or not isinstance(data, dict) or not all(
                isinstance(v, dict) and "value" in v for v in data.values()):
            return self._err(47003, "argument invalid! data invalid")
        if self.redis.exists(_K_TEMPLATES):
            keywords = self.redis.hget(_K_TEMPLATES, template_id)
            if keywords is None:
                return self._err(40037, "invalid template_id")
            keywords = json.loads(_text(keywords))
            for key in sorted(set(keywords) | set(data)):
                if key not in data or key not in keywords:
                    return self._err(47003, f"argument invalid! data.{key}.value is empty or not in the template")
                if not _value_ok(key, data[key]["value"]):
                    return self._err(47003, f"argument invalid! data.{key}.value invalid")
        if "refuse" in touser or self.redis.sismember(_K_REFUSING, touser):
            return self._err(43101, "user refuse to accept the msg")
        record = dict(body)
        record["appid"] = appid
        record["sent_at"] = time.time()
        msgid = self.redis.rpush(_K_MESSAGES, json.dumps(record, ensure_ascii=False))
        return self._json({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def _wxa_code_unlimited(self, request: Request) -> Response:
        appid, error = self._token_appid(request)
        if error is not None:
            return error
        body = self._body(request)
        if body is None:
            return self._err(47001, "data format error")
        scene = body.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
            return self._err(47003, "argument invalid! scene invalid")
        try:
            width = min(max(int(body.get("width") or 430), 280), 1280)
        except (TypeError, ValueError):
            return self._err(47003, "argument invalid! width invalid")
        return Response(placeholder_code_png(scene, width), status=200, content_type="image/png")


# --------------------------------------------------------------------------- in-process transport


class FakeWeChatAdapter(BaseAdapter):
    """A requests transport adapter answering every request with the fake WSGI app.

    The read timeout is honoured: in ``slow`` mode with a delay longer than
    the timeout, ``requests.exceptions.ReadTimeout`` is raised after the timeout.
    """

    def __init__(self, app: FakeWeChat):
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # a file-like or generator body
            body = body.read() if hasattr(body, "read") else b"".join(body)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        builder = EnvironBuilder(
            method=request.method,
            path=parts.path or "/",
            query_string=parts.query,
            headers=headers,
            data=body,
            base_url=f"{parts.scheme}://{parts.netloc}/",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        if read_timeout is not None:
            environ[ENVIRON_READ_TIMEOUT] = float(read_timeout)
        try:
            app_iter, status, resp_headers = run_wsgi_app(self.app, environ, buffered=True)
        except _FakeTimeout:
            raise requests.exceptions.ReadTimeout("fake WeChat read timed out", request=request) from None
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()

        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(list(resp_headers.items()))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(content)
        response._content = content
        response._content_consumed = True
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        pass


def mount_fake(requests_session: requests.Session, redis_client,
               appid: str | None = None, secret: str | None = None) -> FakeWeChatAdapter:
    """Route every http:// and https:// request of ``requests_session`` to the fake.

    No network is used at all by that session afterwards. Returns the adapter.
    """
    adapter = FakeWeChatAdapter(FakeWeChat(redis_client, appid=appid, secret=secret))
    requests_session.mount("http://", adapter)
    requests_session.mount("https://", adapter)
    return adapter


# --------------------------------------------------------------------------- real HTTP server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # no access log (URLs carry tokens)
        pass


def make_server(redis_client, host: str = "127.0.0.1", port: int = 0,
                appid: str | None = None, secret: str | None = None):
    """Start the fake on a threaded werkzeug server in a daemon thread and return it.

    The server has ``.server_port`` and ``.base_url`` (``http://host:port/``);
    stop it with ``server.shutdown(); server.server_close()``.
    """
    app = FakeWeChat(redis_client, appid=appid, secret=secret)
    server = _werkzeug_make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.base_url = f"http://{host}:{server.server_port}/"
    thread = threading.Thread(target=server.serve_forever, name="fake-wechat", daemon=True)
    thread.start()
    server.thread = thread
    return server
