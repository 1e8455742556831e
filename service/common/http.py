"""HTTP plumbing shared by the views: security headers, CORS (closed unless
CORS_ORIGINS names origins), upload size, rate limits read from config."""
from __future__ import annotations

import functools

from flask import current_app, request
from flask.sessions import SecureCookieSessionInterface

from config import tile_sources

_COMMON_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                   ("Referrer-Policy", "no-referrer"), ("Cross-Origin-Opener-Policy", "same-origin"))
_PAGE_CSP = ("default-src 'self'; img-src {images}; style-src 'self' 'unsafe-inline'; "
             "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(path: str, production: bool, tiles: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The headers every answer carries, by kind of path (computed once per kind).  The
    console's map loads its tiles as images from the configured tile hosts, and nothing else."""
    page = path.startswith("/api/v1/docs") or path.startswith("/console")
    csp = _PAGE_CSP.format(images=" ".join(["'self'", "data:", *tiles])) if page else _API_CSP
    out = list(_COMMON_HEADERS) + [("Content-Security-Policy", csp)]
    if path.startswith("/api/"):
        out.append(("Cache-Control", "no-store"))
    if production:
        out.append(_HSTS)
    return tuple(out)


_HEADER_SETS: dict[tuple, tuple[tuple[str, str], ...]] = {}


def add_security_headers(response):
    """Security headers on every answer; a header the view set itself is kept."""
    path = request.path
    kind = "docs" if path.startswith("/api/v1/docs") else "console" if path.startswith("/console") else \
        "api" if path.startswith("/api/") else "other"
    production = current_app.config["APP_ENV"] == "production"
    tiles = tuple(tile_sources(current_app.config)) if kind == "console" else ()
    wanted = _HEADER_SETS.get((kind, production, tiles))
    if wanted is None:
        wanted = _HEADER_SETS[(kind, production, tiles)] = _security_headers(path, production, tiles)
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def _allowed_origins() -> set[str]:
    raw = current_app.config.get("CORS_ORIGINS") or ""
    return {o.strip() for o in raw.split(",") if o.strip()}


def handle_preflight():
    if request.method == "OPTIONS" and request.headers.get("Origin") and request.headers.get(
            "Access-Control-Request-Method"):
        resp = current_app.make_default_options_response()
        return resp
    return None


def add_cors_headers(response):
    origin = request.headers.get("Origin")
    if not origin or origin not in _allowed_origins():
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Request-ID"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
    response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def allow_large_upload() -> None:
    """Raise this request's body limit from 1 MB to ``UPLOAD_MAX_BYTES`` (spreadsheet imports)."""
    request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]


def large_upload(fn):
    """View decorator: ``allow_large_upload()`` before the multipart body is parsed."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        allow_large_upload()
        return fn(*args, **kwargs)
    return wrapper


def config_limit(key: str):
    """A Flask-Limiter limit read from the app's config at request time (``RATELIMIT_*``)."""
    return lambda: current_app.config[key]


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only where it is used: the staff console.

    Flask opens the session on every request, building a signing serializer each
    time; the API (bearer tokens) and the probes never touch it, so they get an
    empty session that is never saved, and the console's serializer is built once.
    """

    def open_session(self, app, request):
        if not request.path.startswith("/console"):
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app):
        cached = app.extensions.get("session_serializer")
        if cached is None or cached[0] != app.secret_key:
            cached = app.extensions["session_serializer"] = (app.secret_key, super().get_signing_serializer(app))
        return cached[1]
