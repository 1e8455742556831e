"""What every request gets around it, in one WSGI middleware rather than Flask's
before- and after-request hooks (each a call Flask makes on every request,
``/livez`` included, through its hook machinery and the response's ``Headers``):

- the request id: the client's ``X-Request-ID`` when it looks like one, else a
  new one; ``g.request_id`` for the logs, the audit log and 500s, and the
  ``X-Request-ID`` header of the answer;
- the security headers (``service/common/http.py``, computed once per kind of
  path; a header the view set itself is kept) and, for an origin listed in
  ``CORS_ORIGINS``, the CORS headers;
- the request's metrics (``service/observability.py``).

The headers are appended to the list the answer is started with.  Flask's
request context is still pushed when the answer starts, so the endpoint and
``g`` are at hand there.  A CORS preflight is answered by ``ServiceFlask``
before any other check, as Flask answers ``OPTIONS`` itself.
"""
from __future__ import annotations

import os
import re
import time

from flask import Flask, request
from flask.ctx import _AppCtxGlobals

from service import observability
from service.common.http import CORS_HEADERS, allowed_origins, is_preflight, security_headers

REQUEST_ID_KEY = "service.request_id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _Globals(_AppCtxGlobals):
    """``g``, whose ``request_id`` is the one ``RequestFrame`` gave the request at hand."""

    @property
    def request_id(self) -> str:
        try:
            return request.environ[REQUEST_ID_KEY]
        except (RuntimeError, KeyError):  # outside a request, or a request context built by hand
            raise AttributeError("request_id") from None


class ServiceFlask(Flask):
    app_ctx_globals_class = _Globals

    def preprocess_request(self):
        if is_preflight(request.environ):
            return self.make_default_options_response()
        return super().preprocess_request()


class RequestFrame:
    """``app.wsgi_app = RequestFrame(app.wsgi_app, app)``: see the module's docstring."""

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.config = app.config

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        request_id = environ[REQUEST_ID_KEY] = (
            incoming if incoming and _REQUEST_ID.match(incoming) else os.urandom(16).hex())

        def start(status, headers, exc_info=None):
            self._finish(environ, status, headers, request_id)
            observability.measure(environ, status, time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)

    def _finish(self, environ, status: str, headers: list, request_id: str) -> None:
        present = {name.lower() for name, _ in headers}
        replaced = {"x-request-id"}
        origin = environ.get("HTTP_ORIGIN")
        cors = bool(origin) and origin in allowed_origins(self.config)
        if cors:
            replaced.update(("access-control-allow-origin", *(name.lower() for name, _ in CORS_HEADERS)))
        if not present.isdisjoint(replaced):
            headers[:] = [h for h in headers if h[0].lower() not in replaced]
        headers.append(("X-Request-ID", request_id))
        for name, value, lowered in security_headers(environ.get("PATH_INFO") or "/", self.config):
            if lowered not in present:
                headers.append((name, value))
        if cors:
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.extend(CORS_HEADERS)
