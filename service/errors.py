"""One error contract for the whole API.

Every 4xx/5xx leaves as ``{"error": {"code", "message", "details"}}``: domain
errors (``ServiceError``), HTTP errors raised by Flask, webargs or
Flask-Limiter, WeChat errors, infrastructure outages (503) and unexpected
exceptions (500, with only the request id; the traceback goes to the log).
"""
from __future__ import annotations

import logging

import marshmallow as ma
import redis.exceptions
import sqlalchemy.exc
from flask import g, has_request_context, jsonify
from werkzeug.exceptions import HTTPException

from wechat.errors import WeChatError

log = logging.getLogger("service.errors")


class ServiceError(Exception):
    """A rule of the service said no.  Subclasses fix ``code``/``status``."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, details: dict | None = None, *,
                 code: str | None = None, status: int | None = None, headers: dict | None = None):
        super().__init__(code or self.code)
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.headers = headers or {}


def error_type(code: str, status: int, message: str) -> type[ServiceError]:
    """Declare a domain error: ``SlotFull = error_type("slot_full", 409, "…")``."""
    name = "".join(part.title() for part in code.split("_")) + "Error"
    return type(name, (ServiceError,), {"code": code, "status": status, "message": message})


BadRequest = error_type("bad_request", 400, "请求格式有误")
Unauthenticated = error_type("unauthenticated", 401, "请先登录")
Forbidden = error_type("forbidden", 403, "没有权限进行此操作")
NotFound = error_type("not_found", 404, "请求的内容不存在")
InvalidState = error_type("invalid_state", 409, "当前状态不允许此操作")
RateLimited = error_type("rate_limited", 429, "操作太频繁，请稍后再试")
SessionStoreUnavailable = error_type("session_store_unavailable", 503, "服务暂时不可用，请稍后再试")
DatabaseUnavailable = error_type("database_unavailable", 503, "服务暂时不可用，请稍后再试")


class ValidationFailed(ServiceError):
    """422 with ``details.fields = {"field": ["message", …]}``."""

    status = 422
    code = "validation_error"
    message = "提交的信息有误，请检查后重试"

    def __init__(self, fields: dict[str, list[str] | str], message: str | None = None):
        fields = {k: ([v] if isinstance(v, str) else list(v)) for k, v in fields.items()}
        super().__init__(message, {"fields": fields})


HTTP_CODES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthenticated", "请先登录"),
    403: ("forbidden", "没有权限进行此操作"),
    404: ("not_found", "请求的内容不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "无法提供所请求的格式"),
    409: ("conflict", "操作与当前状态冲突"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "提交的信息有误，请检查后重试"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
    500: ("internal_error", "服务器开小差了，请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
}


def envelope(code: str, message: str, details: dict | None = None, status: int = 400, headers=None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    if has_request_context():
        g.error_code = code  # for the request metrics: a refusal is counted by its code
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow messages → ``{"a.b": ["…"]}`` (locations dropped)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            if not prefix and key in ("json", "query", "form", "files", "headers", "view_args", "json_or_form",
                                      "querystring"):
                sub = flatten_messages(value, "")
            else:
                name = key if key != "_schema" else "_schema"
                sub = flatten_messages(value, f"{prefix}.{name}" if prefix else name)
            for k, v in sub.items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            out.setdefault(prefix or "_schema", []).extend(messages)
        else:
            for m in messages:
                for k, v in flatten_messages(m, prefix).items():
                    out.setdefault(k, []).extend(v)
    elif messages is not None:
        out.setdefault(prefix or "_schema", []).append(str(messages))
    return out


def handle_service_error(err: ServiceError):
    return envelope(err.code, err.message, err.details, err.status, err.headers)


def handle_wechat_error(err: WeChatError):
    headers = {}
    if err.http_status == 429:
        headers["Retry-After"] = str(getattr(err, "retry_after", 60))
    log.warning("wechat error %s (errcode %s)", err.code, err.errcode)
    return envelope(err.code, err.message, {}, err.http_status, headers)


def handle_http_exception(err: HTTPException):
    status = err.code or 500
    code, message = HTTP_CODES.get(status, ("http_error", "请求无法完成"))
    details: dict = {}
    headers = {}
    data = getattr(err, "data", None) or {}
    if status == 422:
        fields = flatten_messages(data.get("messages") or data.get("errors") or {})
        details = {"fields": fields}
    elif status == 400 and data.get("messages"):
        message = "请求体不是有效的 JSON"
    if data.get("headers"):
        headers.update(data["headers"])
    valid_methods = getattr(err, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    if status == 429:
        retry = None
        try:
            limit = getattr(err, "limit", None)
            if limit is not None:
                retry = limit.limit.get_expiry()
        except Exception:  # pragma: no cover - defensive
            retry = None
        headers.setdefault("Retry-After", str(retry or 60))
    return envelope(code, message, details, status, headers)


def handle_redis_error(err: Exception):
    log.error("redis unavailable: %s", type(err).__name__)
    return handle_service_error(SessionStoreUnavailable())


def handle_database_error(err: sqlalchemy.exc.DBAPIError):
    from models import db  # the lowest layer; no cycle
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - the connection is gone
        pass
    if isinstance(err, sqlalchemy.exc.DataError):
        # A value the database refuses (out of range, a NUL byte …) that no schema caught: bad input, not a fault.
        log.warning("database refused a value: %s", type(err.orig).__name__ if err.orig else "DataError")
        return handle_service_error(ValidationFailed({"_schema": ["提交的数据格式有误"]}))
    if isinstance(err, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)) or err.connection_invalidated:
        log.error("database unavailable: %s", type(err.orig).__name__ if err.orig else type(err).__name__)
        return handle_service_error(DatabaseUnavailable())
    return handle_unexpected(err)


def handle_recursion(err: RecursionError):
    """JSON nested thousands deep exhausts the parser's recursion: malformed input, a 400."""
    return handle_service_error(BadRequest("请求体嵌套层级过深"))


def handle_unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    rid = getattr(g, "request_id", None)
    log.exception("unhandled error, request_id=%s", rid)
    try:
        from models import db
        db.session.rollback()
    except Exception:  # pragma: no cover
        pass
    return envelope("internal_error", f"服务器开小差了，请稍后再试（请求编号 {rid}）",
                    {"request_id": rid}, 500)


def register_error_handlers(app) -> None:
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(WeChatError, handle_wechat_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(redis.exceptions.ConnectionError, handle_redis_error)
    app.register_error_handler(redis.exceptions.TimeoutError, handle_redis_error)
    app.register_error_handler(sqlalchemy.exc.DBAPIError, handle_database_error)
    app.register_error_handler(RecursionError, handle_recursion)
    app.register_error_handler(Exception, handle_unexpected)


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "stable English snake_case code"})
    message = ma.fields.String(required=True, metadata={"description": "Chinese message shown to the user"})
    details = ma.fields.Dict(required=True)


class ErrorEnvelopeSchema(ma.Schema):
    """The error shape of every 4xx/5xx."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)
