"""Who gets in where: every API endpoint, every kind of caller, one table.

For each route: anonymous callers get 401 unless it is public; the wrong kind
of user (a worker on a staff endpoint, staff on a worker endpoint) and staff
without the role get 403; the right caller gets past authorization (any
answer but 401/403: the body sent is empty, so 404/409/422 are expected).
"""
from __future__ import annotations

import importlib
import pkgutil
import re

import tests.authz
from models.user import STAFF_ROLES
from tests.helpers import bearer, login_staff, login_worker, make_org, make_staff, outcome

SKIP_PREFIXES = ("/api/v1/openapi.json", "/api/v1/docs")


def all_rows():
    rows = []
    for mod in pkgutil.iter_modules(tests.authz.__path__):
        module = importlib.import_module(f"tests.authz.{mod.name}")
        rows.extend(module.ROWS)
    return rows


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "999999" if m.group(1) == "int" else "X999999", rule)


def test_every_api_route_is_in_the_matrix(app):
    listed = {(m, r) for m, r, _ in all_rows()}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.startswith(SKIP_PREFIXES):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, rule.rule) not in listed:
                missing.append(f"{method} {rule.rule}")
    assert missing == [], "add these to tests/authz/: " + ", ".join(sorted(missing))
    registered = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods}
    stale = [f"{m} {r}" for m, r in listed if (m, r) not in registered]
    assert stale == [], "listed but not registered: " + ", ".join(sorted(stale))


def test_authorization_matrix(app, client):
    org = make_org(app)
    tokens = {"anonymous": None, "worker": login_worker(client, "matrix")}
    for role in STAFF_ROLES:
        make_staff(app, f"m_{role}", role, org)
        tokens[role] = login_staff(client, f"m_{role}")
    failures = []
    for method, rule, who in all_rows():
        path = _concrete(rule)
        for caller, token in tokens.items():
            if who == "public":
                allowed = True
            elif caller == "anonymous":
                allowed = None  # expect 401
            elif who == "any":
                allowed = True
            elif who == "worker":
                allowed = caller == "worker"
            else:
                allowed = caller != "worker" and (caller == "admin" or caller in who)
            headers = bearer(token) if token else {}
            kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            resp = client.open(path, method=method, headers=headers, **kwargs)
            got = outcome(resp)
            resp.close()
            if allowed is None and got != (401, "unauthenticated"):
                failures.append(f"{method} {rule} as {caller}: {got}, expected (401, 'unauthenticated')")
            elif allowed is False and got != (403, "forbidden"):
                failures.append(f"{method} {rule} as {caller}: {got}, expected (403, 'forbidden')")
            elif allowed is True and got[0] in (401, 403):
                failures.append(f"{method} {rule} as {caller}: {got}, expected to get past auth")
            elif got[0] >= 500:
                failures.append(f"{method} {rule} as {caller}: {got}")
            if (method, rule) in (("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/me")) and token:
                # logout / erasure revoked the token: sign in again for the next rows
                if caller == "worker":
                    tokens["worker"] = login_worker(client, "matrix")
                else:
                    tokens[caller] = login_staff(client, f"m_{caller}")
    assert failures == []
