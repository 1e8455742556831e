"""The WeChat gateway: wechatpy's real client, rebased on a configurable API base,
with its access token shared by every process through Redis, and every failure
translated into :mod:`wechat.errors`.

``api_base`` is either WeChat's own ``https://api.weixin.qq.com/``, any base URL
speaking the same protocol (e.g. the fake over HTTP, ``http://127.0.0.1:8765/``),
or ``"fake"``: every HTTP request of the gateway then goes to the in-process
fake WeChat (:mod:`wechat.fake`) through a requests transport adapter, with no
network at all.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import requests
from redis.exceptions import LockError
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from .errors import (
    ACCESS_TOKEN_ERRCODES,
    WeChatBadData,
    WeChatCodeInvalid,
    WeChatError,
    WeChatUnavailable,
    error_from_errcode,
)

logger = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com/"
FAKE_API_BASE = "fake"
#: Base URL used in fake mode; every scheme is routed to the fake anyway.
FAKE_ROOT = "http://fake-wechat.invalid/"
#: What wechatpy 1.8.18 hard-codes (token URL, wxa API_BASE_URL, cgi-bin API_BASE_URL).
_WECHATPY_ROOT = "https://api.weixin.qq.com/"
#: Endpoints that take no access_token (wechatpy would add one, fetching a token).
_NO_TOKEN_ENDPOINTS = ("sns/jscode2session",)


def normalize_api_base(api_base: str) -> str:
    """Return ``api_base`` ending with one ``/``; raise ValueError unless it is http(s)."""
    base = (api_base or "").strip()
    if not base.startswith(("http://", "https://")):
        raise ValueError("WeChat api_base must be 'fake' or an http(s) URL")
    return base.rstrip("/") + "/"


def _token_in_request(request) -> str | None:
    """The access_token query parameter of a prepared request, if any."""
    url = getattr(request, "url", None)
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("access_token")
    return values[0] if values else None


class RoutedWeChatClient(WeChatClient):
    """wechatpy's ``WeChatClient`` with every URL rebased on ``api_root`` and the
    access token kept in Redis (``RedisStorage``), refreshed under a Redis lock.

    ``auto_retry`` is off: the gateway retries once itself after an
    invalid-token errcode, instead of wechatpy's unbounded recursion.
    """

    def __init__(self, appid: str, secret: str, api_root: str, redis_client,
                 timeout: float, token_lock_timeout: float, key_prefix: str = "wechat"):
        storage = RedisStorage(redis_client, prefix=key_prefix)
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)
        self.api_root = api_root
        # Instance attribute: wechatpy reads self.API_BASE_URL for cgi-bin endpoints.
        self.API_BASE_URL = api_root + "cgi-bin/"
        self.redis = redis_client
        self.token_lock_timeout = float(token_lock_timeout)
        self.lock_name = storage.key_name(self.access_token_key) + ":lock"

    # -- URL routing

    def rebase(self, url: str) -> str:
        """Move a URL wechatpy hard-codes on WeChat's host onto ``api_root``."""
        if url.startswith(_WECHATPY_ROOT):
            return self.api_root + url[len(_WECHATPY_ROOT):]
        return url

    def _request(self, method, url_or_endpoint, **kwargs):
        api_base_url = kwargs.pop("api_base_url", None)
        if url_or_endpoint.startswith(("http://", "https://")):
            url = self.rebase(url_or_endpoint)
        else:
            base = self.rebase(api_base_url) if api_base_url else self.API_BASE_URL
            url = base + url_or_endpoint
        if url.split("?", 1)[0].endswith(_NO_TOKEN_ENDPOINTS):
            params = kwargs.setdefault("params", {})
            if isinstance(params, dict):
                # Present, so wechatpy fetches no token; None, so requests sends none.
                params.setdefault("access_token", None)
        return super()._request(method, url, **kwargs)

    # -- access token shared through Redis

    @property
    def access_token(self) -> str:
        """The cached token, or a freshly fetched one (see :meth:`fetch_access_token`)."""
        token = self.session.get(self.access_token_key)
        if token:
            return token
        return self.fetch_access_token()

    def fetch_access_token(self, stale: str | None = None) -> str:
        """Return a valid access token, fetching one only when Redis holds none.

        ``stale``: a token WeChat just rejected; it is not returned again and is
        dropped from the cache. The fetch runs under a Redis lock and the cache
        is re-checked after acquiring it, so concurrent processes fetch once.
        Raises WeChatUnavailable if the lock cannot be had within
        ``token_lock_timeout`` and no token appeared meanwhile; HTTP and WeChat
        errors propagate as wechatpy/requests exceptions (translated by the gateway).
        """
        cached = self.session.get(self.access_token_key)
        if cached and cached != stale:
            return cached
        lock = self.redis.lock(self.lock_name, timeout=self.token_lock_timeout + 2 * (self.timeout or 0))
        acquired = lock.acquire(blocking=True, blocking_timeout=self.token_lock_timeout)
        try:
            cached = self.session.get(self.access_token_key)
            if cached and cached != stale:
                return cached
            if not acquired:
                raise WeChatUnavailable(errmsg="timed out waiting for the access token lock")
            if cached:
                self.session.delete(self.access_token_key)
            token, expires_in = self._request_token()
            margin = min(300, expires_in // 5)
            ttl = max(1, expires_in - margin)
            self.session.set(self.access_token_key, token, ttl)
            self.expires_at = int(time.time()) + ttl
            return token
        finally:
            if acquired:
                try:
                    lock.release()
                except LockError:
                    pass

    def _request_token(self) -> tuple[str, int]:
        """Fetch a token over HTTP: ``cgi-bin/stable_token``, or ``cgi-bin/token`` when the
        server does not know stable_token (HTTP 404)."""
        res = self._http.post(
            self.api_root + "cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": self.appid,
                  "secret": self.secret, "force_refresh": False},
            timeout=self.timeout,
        )
        if res.status_code == 404:
            res = self._http.get(
                self.api_root + "cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
                timeout=self.timeout,
            )
        try:
            res.raise_for_status()
        except requests.RequestException as exc:
            raise WeChatClientException(None, None, client=self, request=exc.request,
                                        response=exc.response) from None
        result = self._handle_result(res)  # raises WeChatClientException on errcode != 0
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token or not isinstance(token, str):
            raise WeChatUnavailable(errmsg="token answer without access_token")
        try:
            expires_in = int(result.get("expires_in") or 7200)
        except (TypeError, ValueError):
            expires_in = 7200
        return token, max(expires_in, 1)


class WeChatGateway:
    """Our one door to WeChat. Every method raises only :class:`WeChatError` subclasses
    (and redis errors when Redis itself fails while handling the access token).

    * requests timeouts, refused connections, any other transport error, HTTP
      5xx, errcode -1 and undecodable answers -> WeChatUnavailable;
    * other errcodes -> :func:`wechat.errors.error_from_errcode`;
    * an invalid/expired access token (40001, 40014, 42001) is refreshed once
      and the call retried once.
    """

    def __init__(self, appid: str, secret: str, api_base: str, redis_client,
                 timeout: float = 5.0, token_lock_timeout: float = 10.0,
                 key_prefix: str = "wechat"):
        self.appid = appid
        self.is_fake = api_base == FAKE_API_BASE
        api_root = FAKE_ROOT if self.is_fake else normalize_api_base(api_base)
        self.api_root = api_root
        self.redis = redis_client
        self.timeout = timeout
        self.client = RoutedWeChatClient(appid, secret, api_root, redis_client, timeout,
                                         token_lock_timeout, key_prefix=key_prefix)
        if self.is_fake:
            from .fake import mount_fake
            mount_fake(self.client._http, redis_client, appid=appid, secret=secret)

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.client._http.close()

    # -- error translation

    @contextmanager
    def _translated(self, endpoint: str):
        try:
            yield
        except WeChatError as exc:
            self._log_error(endpoint, exc)
            raise
        except WeChatClientException as exc:
            error = self._from_client_exception(exc)
            self._log_error(endpoint, error)
            raise error from None
        except requests.RequestException as exc:
            # Never chain: requests' messages contain the URL with the access token.
            logger.warning("WeChat %s unreachable: %s", endpoint, type(exc).__name__)
            raise WeChatUnavailable(errmsg=type(exc).__name__) from None
        except ValueError:  # undecodable body (e.g. res.json())
            logger.warning("WeChat %s gave an undecodable answer", endpoint)
            raise WeChatUnavailable(errmsg="undecodable answer") from None

    @staticmethod
    def _log_error(endpoint: str, error: WeChatError) -> None:
        # Failures on WeChat's side are warnings; the user's own (bad code, refusal) are info.
        level = logging.WARNING if error.retryable else logging.INFO
        logger.log(level, "WeChat %s failed: %s errcode=%s", endpoint, error.code, error.errcode)

    @staticmethod
    def _from_client_exception(exc: WeChatClientException) -> WeChatError:
        if exc.errcode is None:  # HTTP error status
            status = getattr(exc.response, "status_code", None)
            if status is None or status >= 500:
                return WeChatUnavailable(errmsg=f"HTTP {status}")
            return WeChatError(errmsg=f"HTTP {status}")
        return error_from_errcode(exc.errcode, exc.errmsg or "")

    def _with_token(self, call):
        """Run ``call`` (which uses the access token); refresh and retry once on 40001/40014/42001."""
        try:
            return call()
        except WeChatClientException as exc:
            if exc.errcode not in ACCESS_TOKEN_ERRCODES:
                raise
            stale = _token_in_request(exc.request) or self.client.session.get(self.client.access_token_key)
            logger.info("WeChat rejected the access token (errcode=%s); refreshing", exc.errcode)
            self.client.fetch_access_token(stale=stale)
            return call()

    # -- API

    def fetch_access_token(self) -> str:
        """Return a valid access token, shared through Redis: fetched (via
        ``cgi-bin/stable_token``) only when Redis holds none, once for all
        processes thanks to a Redis lock. Raises WeChatUnavailable or WeChatError."""
        with self._translated("cgi-bin/stable_token"):
            return self.client.fetch_access_token()

    def code_to_session(self, js_code: str) -> dict:
        """Exchange a ``wx.login()`` code (``sns/jscode2session``).

        Returns ``{"openid", "session_key", "unionid"}`` (unionid None when WeChat
        gives none). An empty code raises WeChatCodeInvalid without a call;
        40029/40163 WeChatCodeInvalid, 45011 WeChatRateLimited, 40226
        WeChatUserBlocked, -1/timeouts/unreachable WeChatUnavailable. The
        session_key must never leave the server.
        """
        if not js_code or not isinstance(js_code, str):
            raise WeChatCodeInvalid()
        with self._translated("sns/jscode2session"):
            result = self.client.wxa.code_to_session(js_code)
        if not isinstance(result, dict) or not result.get("openid") or not result.get("session_key"):
            logger.warning("WeChat sns/jscode2session answered without openid/session_key")
            raise WeChatUnavailable(errmsg="unexpected jscode2session answer")
        return {
            "openid": result["openid"],
            "session_key": result["session_key"],
            "unionid": result.get("unionid") or None,
        }

    def get_phone_number(self, code: str) -> dict:
        """Exchange a ``getPhoneNumber`` code (``wxa/business/getuserphonenumber``).

        Returns WeChat's ``phone_info``: ``{phoneNumber, purePhoneNumber,
        countryCode, watermark: {timestamp, appid}}``. An empty code raises
        WeChatCodeInvalid without a call; 40029 WeChatCodeInvalid; others as
        for every call.
        """
        if not code or not isinstance(code, str):
            raise WeChatCodeInvalid()
        with self._translated("wxa/business/getuserphonenumber"):
            result = self._with_token(lambda: self.client.post(
                "wxa/business/getuserphonenumber", data={"code": code}, api_base_url=self.api_root))
        info = result.get("phone_info") if isinstance(result, dict) else None
        if not isinstance(info, dict) or not info.get("purePhoneNumber") and not info.get("phoneNumber"):
            raise WeChatUnavailable(errmsg="unexpected getuserphonenumber answer")
        return info

    def send_subscribe_message(self, openid: str, template_id: str, data: dict,
                               page: str | None = None) -> None:
        """Send a subscribe message (``cgi-bin/message/subscribe/send``).

        ``data`` like ``{"thing1": {"value": "..."}}``. Missing openid,
        template_id or data raise WeChatBadData without a call. 43101
        WeChatUserRefused and 47003 WeChatBadData are final; WeChatUnavailable
        and WeChatRateLimited are worth retrying later (``exc.retryable``).
        """
        if not openid or not template_id or not isinstance(data, dict) or not data:
            raise WeChatBadData(errmsg="touser, template_id and data are required")
        with self._translated("cgi-bin/message/subscribe/send"):
            self._with_token(lambda: self.client.wxa.send_subscribe_message(
                openid, template_id, data, page=page))

    def get_wxa_code_unlimited(self, scene: str, page: str | None = None, width: int = 430) -> bytes:
        """Make a mini-program code (``wxa/getwxacodeunlimit``) and return its PNG bytes.

        WeChat answers an image on success and errcode JSON on failure (raised
        as usual, e.g. 47003 WeChatBadData for a bad scene); any other answer
        raises WeChatUnavailable.
        """
        with self._translated("wxa/getwxacodeunlimit"):
            result = self._with_token(lambda: self.client.wxa.get_wxa_code_unlimited(
                scene, width=width, page=page))
        if isinstance(result, requests.Response):
            content_type = result.headers.get("Content-Type", "")
            if content_type.startswith("image/") or result.content.startswith(b"\x89PNG"):
                return result.content
        logger.warning("WeChat wxa/getwxacodeunlimit answered something that is not an image")
        raise WeChatUnavailable(errmsg="unexpected getwxacodeunlimit answer")
