"""``LOG_FORMAT=json``: one JSON object per log line, with the request id.

Imports nothing of the service, so that gunicorn's master can format its own
lines (start, worker exits, the access log) the same way.
"""
from __future__ import annotations

import datetime as dt
import json
import logging


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request id (and the error, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
               "request_id": getattr(record, "request_id", "-")}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


# gunicorn's access log as JSON: the request id is the one the service answered
# with (nginx's X-Request-ID when it set one).  The query string is left out:
# no URL of the service carries personal data, and none should reach a log.
GUNICORN_ACCESS_FORMAT = json.dumps({
    "time": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "remote": "%(h)s", "method": "%(m)s",
    "path": "%(U)s", "status": "%(s)s", "bytes": "%(B)s", "duration_ms": "%(M)s",
    "request_id": "%({x-request-id}o)s", "message": "%(m)s %(U)s %(s)s"})


def gunicorn_logconfig() -> dict:
    """gunicorn's ``logconfig_dict`` writing every line (error log and access log) as JSON to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter},
                       "access": {"format": "%(message)s"}},
        "handlers": {"error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
                     "access": {"class": "logging.StreamHandler", "formatter": "access",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": []},  # the service adds its own (service/__init__.py)
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
                    "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False}},
    }
