"""HTTP plumbing shared by the views: security headers, CORS (closed unless
CORS_ORIGINS names origins), upload size, rate limits read from config."""
from __future__ import annotations

import functools

from flask import current_app, request

from config import tile_sources


def add_security_headers(response):
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    path = request.path
    if path.startswith("/api/v1/docs") or path.startswith("/console"):
        # the console's map loads its tiles as images from the configured tile host, and nothing else
        tiles = tile_sources(current_app.config) if path.startswith("/console") else []
        images = " ".join(["'self'", "data:", *tiles])
        csp = (f"default-src 'self'; img-src {images}; style-src 'self' 'unsafe-inline'; "
               "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
    else:
        csp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    h.setdefault("Content-Security-Policy", csp)
    if path.startswith("/api/"):
        h.setdefault("Cache-Control", "no-store")
    if current_app.config.get("APP_ENV") == "production":
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
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
