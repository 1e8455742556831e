"""The application factory: ``create_app()`` is a list of ``register_*`` steps."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import load_config
from models import db
from service import cli, console, docs, errors, health, observability, pii_rotation
from service.arrears import views as arrears_views
from service.audit import views as audit_views
from service.auth import views as auth_views
from service.breakfast import views as breakfast_views
from service.common.http import ConsoleSessionInterface
from service.common.logjson import JsonFormatter
from service.common.schemas import MAX_ID
from service.enrollment import views as enrollment_views
from service.extensions import api, db_migrate, limiter, redis_store
from service.frame import RequestFrame, ServiceFlask
from service.imports import views as imports_views
from service.legal_aid import views as legal_aid_views
from service.notifications import commands as notifications_commands
from service.notifications import views as notifications_views
from service.organizations import views as organizations_views
from service.stations import views as stations_views
from service.stats import views as stats_views
from service.wechat_gateway import wechat_gateway


def create_app(config_overrides: dict | None = None, env: str | None = None) -> Flask:
    app = ServiceFlask(__name__, instance_relative_config=False)
    register_config(app, env, config_overrides)
    register_logging(app)
    register_extensions(app)
    register_request_frame(app)
    register_proxy(app)
    register_url_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_config(app: Flask, env: str | None, overrides: dict | None) -> None:
    app.config.update(load_config(env, overrides))
    app.config.update({
        "API_TITLE": "工会职工服务 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "工会职工服务小程序后端：入会、驿站、环卫工人免费早餐、法律咨询预约。"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
        "RATELIMIT_HEADERS_ENABLED": False,  # saves a Redis round trip per request; 429s carry Retry-After
        "RATELIMIT_SWALLOW_ERRORS": True,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    })
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.session_interface = ConsoleSessionInterface()


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        try:
            record.request_id = getattr(g, "request_id", "-")
        except RuntimeError:
            record.request_id = "-"
        return True


def register_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    root = logging.getLogger()
    if not any(getattr(h, "_service_handler", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._service_handler = True
        handler.addFilter(_RequestIdFilter())
        root.addHandler(handler)
    for handler in root.handlers:
        if getattr(handler, "_service_handler", False):
            handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else
                                 logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root.setLevel(level)
    app.logger.setLevel(level)
    # urllib3 logs whole request URLs at DEBUG, and WeChat's carry the app secret
    # and the access token: never below INFO, whatever the service's level.
    logging.getLogger("urllib3").setLevel(max(level, logging.INFO))


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    db_migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    redis_store.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = _limiter_uri(redis_store.url_for(app))
    limiter.init_app(app)
    api.init_app(app)
    wechat_gateway.init_app(app)


def _migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"


def _limiter_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def register_proxy(app: Flask) -> None:
    """Behind ``PROXY_HOPS`` trusted reverse proxies the client's address and scheme
    are taken from exactly that many ``X-Forwarded-For`` / ``-Proto`` entries,
    so that rate limits, lockouts, ``/metrics`` and the audit log see the real
    client and a header forged by the client gains nothing."""
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_request_frame(app: Flask) -> None:
    """No before- or after-request hook of the app's own: one WSGI middleware gives every
    request its id and every answer its request id, security and CORS headers, and
    counts it in the metrics (``service/frame.py``)."""
    observability.init_app(app)
    app.wsgi_app = RequestFrame(app.wsgi_app, app)


class Int32Converter(IntegerConverter):
    """``<int:id>`` limited to the database's 32-bit ids: a larger number is a 404, not an overflow."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min=1 if min is None else min,
                         max=MAX_ID if max is None else max, signed=signed)


def register_url_converters(app: Flask) -> None:
    app.url_map.converters["int"] = Int32Converter


def register_blueprints(app: Flask) -> None:
    """Every blueprint, by name: the API's under ``/api/v1`` (documented in the
    OpenAPI document), then the probes, the docs' assets and the staff console
    (with, in development only, its page of what the fake WeChat received)."""
    for blp in (auth_views.blp, organizations_views.blp, enrollment_views.blp, legal_aid_views.blp,
                stations_views.blp, breakfast_views.blp, stats_views.blp, audit_views.blp, arrears_views.blp,
                notifications_views.blp, imports_views.blp):
        api.register_blueprint(blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(observability.blp)
    app.register_blueprint(docs.blp)
    app.register_blueprint(console.blp)
    if app.config["APP_ENV"] == "development":
        app.register_blueprint(console.dev_blp)


def register_error_handlers(app: Flask) -> None:
    errors.register_error_handlers(app)


def register_cli(app: Flask) -> None:
    for command in (cli.staff_cli, cli.seed_demo, notifications_commands.notifications_group, pii_rotation.pii_cli):
        app.cli.add_command(command)
