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


def _security_headers(kind: str, production: bool, tiles: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """The headers every answer carries, by kind of path, as ``(name, value, lowercase name)``.  The
    console's map loads its tiles as images from the configured tile hosts, and nothing else."""
    page = kind in ("docs", "console")
    csp = _PAGE_CSP.format(images=" ".join(["'self'", "data:", *tiles])) if page else _API_CSP
    out = list(_COMMON_HEADERS) + [("Content-Security-Policy", csp)]
    if kind in ("docs", "api"):
        out.append(("Cache-Control", "no-store"))
    if production:
        out.append(_HSTS)
    return tuple((name, value, name.lower()) for name, value in out)


_HEADER_SETS: dict[tuple, tuple[tuple[str, str, str], ...]] = {}


def security_headers(path: str, config) -> tuple[tuple[str, str, str], ...]:
    """The security headers of an answer at ``path``, computed once per kind of path
    (and per tile hosts for the console, whose ``MAP_TILE_URL`` may change)."""
    kind = "docs" if path.startswith("/api/v1/docs") else "console" if path.startswith("/console") else \
        "api" if path.startswith("/api/") else "other"
    production = config["APP_ENV"] == "production"
    key = (kind, production, tuple(tile_sources(config)) if kind == "console" else ())
    found = _HEADER_SETS.get(key)
    if found is None:
        found = _HEADER_SETS[key] = _security_headers(*key)
    return found


# CORS, for an origin listed in CORS_ORIGINS: bearer tokens, never cookies (no Allow-Credentials).
CORS_HEADERS = (("Vary", "Origin"),
                ("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID"),
                ("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS"),
                ("Access-Control-Expose-Headers", "X-Request-ID, Retry-After"),
                ("Access-Control-Max-Age", "600"))
_ORIGINS: dict[str, frozenset[str]] = {}


def allowed_origins(config) -> frozenset[str]:
    """``CORS_ORIGINS`` as a set, parsed once per value (empty: CORS closed)."""
    raw = config.get("CORS_ORIGINS") or ""
    found = _ORIGINS.get(raw)
    if found is None:
        found = _ORIGINS[raw] = frozenset(o.strip() for o in raw.split(",") if o.strip())
    return found


def is_preflight(environ) -> bool:
    """A browser's CORS preflight: answered with the route's allowed methods before any other check."""
    return (environ.get("REQUEST_METHOD") == "OPTIONS" and bool(environ.get("HTTP_ORIGIN"))
            and bool(environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")))


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
    time; the API (bearer tokens) and the probes never touch it, so they get
    Flask's null session, which is never saved, and the console's serializer is
    built once.
    """

    def open_session(self, app, request):
        if not request.path.startswith("/console"):
            return None
        return super().open_session(app, request)

    def get_signing_serializer(self, app):
        cached = app.extensions.get("session_serializer")
        if cached is None or cached[0] != app.secret_key:
            cached = app.extensions["session_serializer"] = (app.secret_key, super().get_signing_serializer(app))
        return cached[1]
