"""The console's framework: who is signed in, CSRF, role-gated pages, forms and errors.

The console is a second face on the same services as the API:

- A staff member signs in with ``authenticate_staff`` (same lockout) and gets a
  session from ``service.auth.sessions`` (same 8-hour absolute expiry); only
  the opaque token is kept, in Flask's signed, ``HttpOnly``, ``SameSite=Lax``
  session cookie.  Every request resolves it again, so logging out, a
  disabled account or an expired session ends the console session too.
- ``staff_page(*roles)`` gates a page like ``require_staff`` gates an
  endpoint: ``scope_for(staff, roles)`` (admin always qualifies) sets
  ``g.scope``; no role → 403 page; the services answer 404 for records
  outside the scope, shown as the 404 page.
- Every POST carries the session's CSRF token (constant-time compare;
  mismatch → 400 page, nothing done).
- Form and query input is loaded with the API's own marshmallow schemas, so
  the console never checks a field differently from the API.
- A ``ServiceError`` is shown as a flash message with its Chinese message
  (404/403 as their pages), never as JSON.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import urlsplit

import marshmallow as ma
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from service.auth import permissions, sessions
from service.auth.permissions import ROLE_LABELS, scope_for
from service.common import clock
from service.common.http import allow_large_upload
from service.errors import ServiceError, Unauthenticated, ValidationFailed

TOKEN_KEY = "staff_token"
CSRF_KEY = "csrf_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# (endpoint, label, roles needed: empty = every staff member)
MENU = (
    ("console.home.dashboard", "工作台", ()),
    ("console.enrollment.queue", "入会审核", ("enrollment_reviewer",)),
    ("console.stations.index", "驿站管理", ("station_manager",)),
    ("console.legal_aid.bookings", "法律援助", ("legal_aid_staff",)),
    ("console.breakfast.points", "爱心早餐", ("breakfast_manager",)),
    ("console.arrears.queue", "欠薪报工", ("rights_staff",)),
    ("console.imports.index", "导入记录", ("station_manager", "breakfast_manager")),
    ("console.reports.annual", "年度统计", ("admin",)),
    ("console.reports.audit_log", "操作日志", ("admin",)),
    ("console_dev.wechat_messages", "微信消息（开发）", ()),  # registered in development only
)

# Chinese names of form fields, for messages such as "驳回原因：必填".
FIELD_LABELS = {
    "_schema": "", "file": "文件", "reason": "原因", "note": "处理说明", "notes": "咨询记录", "outcome": "处理结果",
    "ids": "申请", "action": "操作", "name": "名称", "code": "编码", "address": "地址", "lat": "纬度",
    "lng": "经度", "phone": "电话", "amenities": "设施", "opening_hours": "开放时间", "closure": "临时闭站",
    "organization_id": "所属工会", "kind": "类型", "firm": "律师事务所", "provider_id": "服务提供方",
    "weekdays": "星期", "start": "开始时间", "end": "结束时间", "capacity": "名额", "mode": "咨询方式",
    "location": "地点", "from": "起始日期", "until": "截止日期", "serving_start": "供餐开始",
    "serving_end": "供餐结束", "daily_quota": "每日份数", "geofence_m": "签到范围", "active": "启用",
    "month": "月份", "year": "年份", "date": "日期", "status": "状态", "occupation": "职业", "q": "关键词",
    "submitted_from": "提交日期起", "submitted_to": "提交日期止", "date_from": "日期起", "date_to": "日期止",
    "topic": "咨询事项", "point_id": "早餐点", "page": "页码", "per_page": "每页条数", "bbox": "地图范围",
    "to": "办理结果", "referred_to": "移交部门", "amount_recovered": "追回金额", "resolved_on": "解决日期",
    "hours_daily": "每天", "hours_mon": "周一", "hours_tue": "周二", "hours_wed": "周三", "hours_thu": "周四",
    "hours_fri": "周五", "hours_sat": "周六", "hours_sun": "周日",
}


def child(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """A section of the console, nested under ``service.console.blp``."""
    return Blueprint(name, import_name, url_prefix=url_prefix)


# --- who is signed in -------------------------------------------------------------------

def signed_in_staff():
    """The staff member behind the session cookie, or None (cached for the request).

    Resolving the token again on every request is what makes logout, a
    disabled account and the 8-hour expiry end console sessions too.
    """
    if "console_staff" in g:
        return g.console_staff
    g.console_staff = None
    token = session.get(TOKEN_KEY)
    identity = sessions.resolve(token) if isinstance(token, str) else None
    if identity is None:
        session.pop(TOKEN_KEY, None)
        return None
    g.identity = identity  # the audit log's actor
    try:
        g.console_staff = permissions.load_staff()  # rejects workers and disabled accounts
    except ServiceError:
        g.pop("identity", None)
        session.pop(TOKEN_KEY, None)
    return g.console_staff


def sign_in(staff) -> None:
    """A new session for ``staff``; the cookie is reissued (no fixation) with a fresh CSRF token."""
    token, _ttl = sessions.create("staff", staff.id, staff.username)
    session.clear()
    session[TOKEN_KEY] = token
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def sign_out() -> None:
    token = session.get(TOKEN_KEY)
    if isinstance(token, str):
        sessions.revoke(sessions.token_hash(token))
    session.clear()


def scope_of(*roles: str):
    """The signed-in staff member's ``Scope`` for ``roles`` (None without them), cached for the request."""
    staff = signed_in_staff()
    if staff is None:
        return None
    cache = g.setdefault("console_scopes", {})
    if roles not in cache:
        cache[roles] = scope_for(staff, roles)
    return cache[roles]


def may(*roles: str) -> bool:
    """Whether the signed-in staff member holds one of ``roles`` (admin always does); any staff for none."""
    if not roles:
        return signed_in_staff() is not None
    return scope_of(*roles) is not None


def choices(items) -> list[tuple[int, str]]:
    """(id, name) pairs of records (dicts or objects), for select boxes."""
    def get(item, key):
        return item[key] if isinstance(item, dict) else getattr(item, key)
    return [(get(item, "id"), get(item, "name")) for item in items]


def org_choices(scope) -> list[tuple[int, str]]:
    """The organizations of a scope, as (id, indented name) in tree order, for select boxes."""
    from service.organizations.services import all_organizations
    return [(o.id, "　" * (o.path.count("/") - 2) + o.name)
            for o in all_organizations() if scope.allows(o.id)]


def staff_page(*roles: str, upload: bool = False):
    """Gate a console view: signed in (else the login page), holding one of ``roles``
    (else the 403 page); sets ``g.staff`` and, with roles, ``g.scope``.

    ``upload=True`` lets the request body reach ``UPLOAD_MAX_BYTES`` (spreadsheets).
    """
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            staff = signed_in_staff()
            if staff is None:
                wanted = request.full_path if request.method == "GET" else None
                return redirect(url_for("console.account.login", next=wanted))
            if roles:
                scope = scope_of(*roles)
                if scope is None:
                    abort(403)
                g.scope = scope
            return fn(*args, **kwargs)
        wrapper.console_upload = upload
        return wrapper
    return deco


# --- CSRF -------------------------------------------------------------------------------

def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing request carries the session's token (400 otherwise)."""
    if request.method in SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "console_upload", False):
        allow_large_upload()
    sent = request.form.get(CSRF_KEY) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_KEY)
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(
            sent.encode("utf-8", "replace"), expected.encode()):
        abort(400)


# --- navigation ---------------------------------------------------------------------------

def safe_target(value: str | None) -> str | None:
    """``value`` if it is a path inside the console (never another site), else None."""
    if not value or "\\" in value or "//" in value or not (value + "/").startswith("/console/"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def back(default_endpoint: str = "console.home.dashboard", **values) -> str:
    """Where a form goes after its action: its ``back`` field (the page it was on) or a default."""
    return safe_target(request.form.get("back")) or url_for(default_endpoint, **values)


def menu() -> list[tuple[str, str, bool]]:
    """(endpoint, label, current) of the tabs the signed-in staff member may open.

    The current tab is the page's own, else the tab of the page's section (a
    booking's page under 法律援助): one tab, even when a section has several."""
    tabs = [(endpoint, label) for endpoint, label, roles in MENU
            if endpoint in current_app.view_functions and may(*roles)]
    page = request.endpoint or ""
    current = next((e for e, _ in tabs if e == page), None) or next(
        (e for e, _ in tabs if e.rsplit(".", 1)[0] == page.rsplit(".", 1)[0]), None)
    return [(endpoint, label, endpoint == current) for endpoint, label in tabs]


# --- input through the API's schemas ---------------------------------------------------------

def _validation_failed(err: ma.ValidationError) -> ValidationFailed:
    from service.errors import flatten_messages
    return ValidationFailed(flatten_messages(err.messages))


def load(schema: ma.Schema | type[ma.Schema], data: dict, parts: dict[str, dict[str, list[str]]] | None = None):
    """``data`` through an API schema; its messages become a ``ValidationFailed``.

    ``parts`` maps a body field built from several form fields (a station's
    ``opening_hours`` from 每天 or 周一 … 周日) to those form fields' own
    problems: when the schema refuses that body field, its messages are
    replaced by theirs, so each stands next to the field the clerk typed in."""
    if isinstance(schema, type):
        schema = schema()
    try:
        return schema.load(data)
    except ma.ValidationError as err:
        failed = _validation_failed(err)
    fields = failed.details["fields"]
    for body_field, problems in (parts or {}).items():
        if body_field in fields and problems:
            del fields[body_field]
            fields.update(problems)
    raise failed


def form_data(*multi: str, skip_blank: bool = True) -> dict:
    """The posted form as a dict (without the CSRF token and ``back``); ``multi`` fields as lists."""
    out: dict = {}
    for key in request.form:
        if key in (CSRF_KEY, "back"):
            continue
        if key in multi:
            out[key] = [v for v in request.form.getlist(key) if v.strip()]
            continue
        value = request.form.get(key, "").strip()
        if value or not skip_blank:
            out[key] = value
    return out


def query_raw(**defaults) -> dict:
    """The query string as a dict, blank filters left out; ``defaults`` fill absent
    filters, and a filter set to ``all`` is dropped (how a list shows more than its default)."""
    raw = {k: v for k, v in request.args.items() if v.strip()}
    for key, value in defaults.items():
        raw.setdefault(key, value)
    return {k: v for k, v in raw.items() if v != "all"}


def query_args(schema: ma.Schema | type[ma.Schema], raw: dict | None = None) -> dict:
    """The query string (or ``raw``) through an API schema.  Bad filters are
    dropped with a flash message, so a list page always renders."""
    if isinstance(schema, type):
        schema = schema()
    raw = query_raw() if raw is None else raw
    try:
        return schema.load(raw)
    except ma.ValidationError as err:
        flash_error(_validation_failed(err))
        bad = set(err.messages) if isinstance(err.messages, dict) else set()
        return schema.load({k: v for k, v in raw.items() if k not in bad})


def page_of(fetch, args: dict) -> dict:
    """``fetch(args)``: a page of a list.  A page past the end (an old bookmark, a number
    typed in the jump box) shows the last page rather than an empty one."""
    page = fetch(args)
    last = max(1, -(-page["total"] // page["per_page"]))
    if page["page"] > last:
        page = fetch({**args, "page": last})
    return page


# --- messages and errors ------------------------------------------------------------------

def field_errors(err: ServiceError) -> dict[str, list[str]]:
    return dict((err.details or {}).get("fields") or {})


def error_text(err: ServiceError) -> str:
    """The message a clerk reads: the error's message, then each field's problems."""
    parts = []
    for field, messages in field_errors(err).items():
        label = FIELD_LABELS.get(field.split(".")[0], field)
        text = "，".join(str(m) for m in messages)
        parts.append(f"{label}：{text}" if label else text)
    if parts and err.code == "validation_error":
        return "；".join(parts)
    return err.message + (("（" + "；".join(parts) + "）") if parts else "")


def flash_error(err: ServiceError) -> None:
    flash(error_text(err), "error")


def flash_result(headline: str, problems: list[str] = (), shown: int = 20) -> None:
    """A batch's outcome: the headline, then the first ``shown`` problems."""
    flash(headline, "info" if problems else "success")
    if problems:
        more = f"；另有 {len(problems) - shown} 项未列出" if len(problems) > shown else ""
        flash("；".join(problems[:shown]) + more, "error")


def run(action, success: str | None, target: str):
    """Call a service use case for a form: on success flash ``success`` and go to
    ``target``; a domain error is flashed and the clerk goes back to the same
    ``target`` (403/404 are raised to their pages)."""
    try:
        action()
    except ServiceError as err:
        if err.status in (401, 403, 404):
            raise
        flash_error(err)
        return redirect(target)
    if success:
        flash(success, "success")
    return redirect(target)


def form_page(template: str, action, **context):
    """A create/edit form: GET renders it; POST calls ``action()`` → a response
    (usually a redirect).  A domain error re-renders the form with what was
    typed, the message flashed and the field messages next to the fields."""
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            return action()
        except ServiceError as err:
            if err.status in (401, 403, 404):
                raise
            flash_error(err)
            errors, status = field_errors(err), err.status
            context["values"] = request.form
            context["error_code"] = err.code
    return render_template(template, errors=errors, **context), status


def error_page(status: int, message: str | None = None):
    titles = {400: "请求无效", 403: "没有权限", 404: "页面不存在", 405: "不支持的操作",
              413: "文件过大", 429: "操作太频繁", 503: "服务暂时不可用"}
    defaults = {400: "页面已过期或请求来源无法验证，请刷新页面后重试。", 403: "您的账号没有访问此页面的权限。",
                404: "您要找的内容不存在，或不在您的管辖范围内。", 405: "不支持该操作。",
                413: "上传的文件过大。", 429: "操作太频繁，请稍后再试。"}
    return render_template("console/error.html", status=status, title=titles.get(status, "出错了"),
                           message=message or defaults.get(status, "请求无法完成。")), status


def handle_http_error(err: HTTPException):
    return error_page(err.code or 500)


def as_page(api_handler):
    """One of the API's error handlers (logging, rollback, the Chinese message), answering
    with the console's error page instead of the JSON envelope."""
    def handle(err):
        response = api_handler(err)
        body = response.get_json(silent=True) or {}
        return error_page(response.status_code, (body.get("error") or {}).get("message"))
    return handle


def handle_service_error(err: ServiceError):
    """A domain error that no view caught: 401 → sign in, 403/404 → their pages,
    otherwise the message flashed on the page the clerk came from."""
    if isinstance(err, Unauthenticated) or err.status == 401:
        session.pop(TOKEN_KEY, None)
        return redirect(url_for("console.account.login"))
    if err.status in (403, 404):
        return error_page(err.status, err.message)
    if request.method in SAFE_METHODS:
        return error_page(err.status, error_text(err))
    flash_error(err)
    return redirect(back())


# --- templates ------------------------------------------------------------------------------

def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "astimezone") and getattr(value, "tzinfo", None) is not None:
        value = clock.to_local(value)
    return value.strftime(fmt)


def signed_in_as(staff) -> tuple[str, str]:
    """The top bar's name and roles, each said once: a role is left out when the name
    already says it (the demo's 入会审核员 holds the role 入会审核员)."""
    name = staff.display_name or staff.username
    labels = dict.fromkeys(ROLE_LABELS.get(r.role, r.role) for r in staff.roles)
    return name, "、".join(label for label in labels if label not in name)


def template_context() -> dict:
    return {"console_menu": menu, "may": may, "staff": signed_in_staff(), "signed_in_as": signed_in_as,
            "today": clock.today_local()}


def no_store(response):
    """Console pages carry personal data: never cached."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response
