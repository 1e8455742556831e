"""What an operator watches the service by: Prometheus metrics at ``/metrics`` and
JSON log lines (docs/contract.md §10, docs/deploy.md for the alerts).

- Metrics come from ``prometheus_client``.  Under gunicorn each worker writes
  its samples to ``PROMETHEUS_MULTIPROC_DIR`` (set by config/gunicorn.conf.py)
  and a scrape adds up every worker's; a single process (``make run``, tests)
  uses the library's default registry.
- ``/metrics`` answers only the clients in ``METRICS_ALLOW`` (the client taken
  as for rate limits, after ``PROXY_HOPS``); anyone else gets the ordinary 404.
- ``LOG_FORMAT=json`` writes one JSON object per line with the request id
  (``service/common/logjson.py``, also used for gunicorn's own lines).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from config import metrics_networks
from models import Notification, db
from service.common import clock
from service.extensions import limiter

blp = Blueprint("metrics", __name__)

REQUESTS = Counter("http_requests_total", "HTTP requests answered, by endpoint, method and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer a request, by endpoint", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
EVENTS = Counter("service_events_total",
                 "Things the service did for people: check-ins, bookings, applications, arrears reports, "
                 "by outcome (the error code when refused)", ["event", "outcome"])
WECHAT_CALLS = Counter("wechat_calls_total", "Calls to WeChat's API, by API and outcome (ok, or the errcode)",
                       ["api", "outcome"])

# Endpoints whose answers are counted as events (endpoint -> event name).
EVENT_ENDPOINTS = {
    "breakfast.check_in": "checkin",
    "legal_aid.book": "booking",
    "enrollment.apply": "application",
    "arrears.submit_report": "arrears_report",
}
NOT_MEASURED = {"health.livez", "metrics.metrics"}


def record_event(event: str, outcome: str) -> None:
    EVENTS.labels(event, outcome).inc()


def record_wechat_call(api: str, outcome: str) -> None:
    WECHAT_CALLS.labels(api, outcome).inc()


def measure(environ, status: str, seconds: float) -> None:
    """Count and time the request just answered (called by ``service/frame.py`` as the
    answer starts, the request's context still pushed)."""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    endpoint = rule.endpoint if rule is not None else "unmatched"
    if endpoint in NOT_MEASURED:
        return
    LATENCY.labels(endpoint).observe(seconds)
    code = status[:3]
    method = environ.get("REQUEST_METHOD", "").upper()
    REQUESTS.labels(endpoint, method, code).inc()
    event = EVENT_ENDPOINTS.get(endpoint)
    if event is not None and method == "POST":
        outcome = "ok" if code < "400" else g.get("error_code", code)
        record_event(event, outcome)


class _OutboxCollector:
    """The notification backlog, read from the database at scrape time."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        backlog = GaugeMetricFamily("notifications_pending", "Notifications waiting to be sent")
        oldest = GaugeMetricFamily("notifications_oldest_pending_age_seconds",
                                   "Age of the oldest notification still waiting to be sent (0 when none)")
        with self.app.app_context():
            try:
                count, first = db.session.execute(
                    select(func.count(Notification.id), func.min(Notification.created_at))
                    .where(Notification.status == "pending")).one()
            finally:
                db.session.remove()
        age = 0.0
        if first is not None:
            if first.tzinfo is None:
                first = first.replace(tzinfo=dt.UTC)
            age = max(0.0, (clock.now() - first).total_seconds())
        backlog.add_metric([], count)
        oldest.add_metric([], age)
        yield backlog
        yield oldest


def _allowed(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in current_app.extensions["metrics_allow"])


@blp.get("/metrics")
@limiter.exempt
def metrics():
    """Prometheus text format, for the addresses in ``METRICS_ALLOW`` only."""
    if not _allowed(request.remote_addr):
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(_OutboxCollector(current_app._get_current_object()))
    return Response(generate_latest(registry) + generate_latest(backlog), content_type=CONTENT_TYPE_LATEST)


def init_app(app) -> None:
    app.extensions["metrics_allow"] = metrics_networks(app.config)
