"""The platform: one error contract, health probes, docs, config, migrations."""
from __future__ import annotations

import threading
import warnings

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

from tests.conftest import _migrate, build_app
from tests.helpers import error_code, outcome


def test_livez_and_readyz(client):
    assert client.get("/livez").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "ready"


def test_every_response_has_a_request_id(client):
    resp = client.get("/livez")
    assert len(resp.headers["X-Request-ID"]) >= 8
    resp = client.get("/livez", headers={"X-Request-ID": "abc-123-def-456"})
    assert resp.headers["X-Request-ID"] == "abc-123-def-456"
    resp = client.get("/nope", headers={"X-Request-ID": "<script>"})
    assert resp.headers["X-Request-ID"] != "<script>"


def test_unknown_route_is_404_in_the_envelope(client):
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]
    assert body["error"]["details"] == {}


def test_wrong_method_is_405_in_the_envelope(client):
    resp = client.delete("/livez")
    assert resp.status_code == 405
    assert error_code(resp) == "method_not_allowed"


def test_malformed_json_is_400(client):
    resp = client.post("/api/v1/auth/wechat/login", data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert error_code(resp) == "bad_request"


def test_validation_is_422_with_fields_in_chinese(client):
    resp = client.post("/api/v1/auth/wechat/login", json={})
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["code"] == "validation_error"
    assert body["details"]["fields"]["code"] == ["必填"]


def test_unknown_body_field_is_refused(client):
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-a", "roles": ["admin"]})
    assert outcome(resp) == (422, "validation_error")
    assert "roles" in resp.get_json()["error"]["details"]["fields"]


def test_wrong_type_is_422(client):
    resp = client.post("/api/v1/auth/wechat/login", json={"code": 12})
    assert outcome(resp) == (422, "validation_error") and "code" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post("/api/v1/auth/wechat/login", json=["code"])
    assert outcome(resp) == (422, "validation_error")


def test_body_over_one_megabyte_is_413(client):
    resp = client.post("/api/v1/auth/wechat/login", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                       content_type="application/json")
    assert resp.status_code == 413
    assert error_code(resp) == "payload_too_large"


def test_unhandled_error_is_500_with_only_the_request_id(sqlite_url, redis_server, fake_wechat_url, caplog):
    app = build_app(sqlite_url, redis_server.url, fake_wechat_url)

    @app.get("/__boom__")
    def boom():
        raise RuntimeError("SELECT secret FROM internals")

    client = app.test_client()
    with caplog.at_level("ERROR"):
        resp = client.get("/__boom__")
    assert resp.status_code == 500
    body = resp.get_json()["error"]
    assert body["code"] == "internal_error"
    rid = resp.headers["X-Request-ID"]
    assert body["details"] == {"request_id": rid}
    assert "SELECT" not in resp.get_data(as_text=True)
    assert "RuntimeError" not in resp.get_data(as_text=True)
    assert any("SELECT secret" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_security_headers_and_closed_cors(client):
    resp = client.get("/api/v1/organizations", headers={"Origin": "https://evil.example"})
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in resp.headers
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_openapi_and_docs_served_without_a_cdn(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    doc = spec.get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/auth/wechat/login" in doc["paths"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    asset = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


def test_error_envelope_is_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert "ErrorEnvelope" in schemas
    assert "error" in schemas["ErrorEnvelope"]["properties"]


def test_readyz_names_redis_when_down(sqlite_url, fake_wechat_url):
    from tests.support.servers import free_port

    app = build_app(sqlite_url, f"redis://127.0.0.1:{free_port()}/0", fake_wechat_url)
    resp = app.test_client().get("/readyz")
    assert outcome(resp) == (503, "not_ready")
    assert resp.get_json()["error"]["details"]["unavailable"] == ["redis"]
    # an endpoint that needs Redis answers 503 in the envelope, not 500
    resp = app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer x" * 3})
    assert resp.status_code == 503
    assert error_code(resp) == "session_store_unavailable"


def test_readyz_names_the_database_when_down(redis_server, fake_wechat_url):
    from tests.support.servers import free_port

    app = build_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", redis_server.url,
                    fake_wechat_url)
    client = app.test_client()
    resp = client.get("/readyz")
    assert outcome(resp) == (503, "not_ready")
    assert resp.get_json()["error"]["details"]["unavailable"] == ["database"]
    resp = client.get("/api/v1/organizations")
    assert resp.status_code == 503
    assert error_code(resp) == "database_unavailable"


def test_migrations_match_the_models(app):
    """No autogenerate diff: every model change came with its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models import db
    from models.station import include_in_autogenerate

    with app.app_context(), warnings.catch_warnings():
        # the PostGIS column the models leave out is reflected without a type of its own
        warnings.filterwarnings("ignore", "Did not recognize type 'geography'", SAWarning)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True,
                                                         "include_object": include_in_autogenerate})
            diff = compare_metadata(ctx, db.metadata)
    assert diff == []


def test_sqlite_concurrent_writers_do_not_lock(sqlite_url, redis_server, fake_wechat_url):
    from models import Organization, db
    from service.common import clock

    app = build_app(sqlite_url, redis_server.url, fake_wechat_url)
    _migrate(app)  # the tables exist whether or not another test built them first
    errors = []
    barrier = threading.Barrier(6)

    def write(n):
        with app.app_context():
            barrier.wait()
            try:
                for i in range(10):
                    now = clock.now()
                    db.session.add(Organization(name=f"并发{n}-{i}", path="/", occupations=[],
                                                created_at=now, updated_at=now))
                    db.session.commit()
            except Exception as exc:  # pragma: no cover - the failure we test against
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        count = db.session.scalar(text("SELECT count(*) FROM organizations WHERE name LIKE '并发%'"))
        db.session.execute(text("DELETE FROM organizations WHERE name LIKE '并发%'"))
        db.session.commit()
    assert count == 60


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PII_KEY", "QR_KEY"])
def test_production_refuses_missing_secrets(monkeypatch, missing):
    from config import ConfigError, load_config

    env = {"DATABASE_URL": "postgresql+psycopg://u@h/db", "REDIS_URL": "redis://h:6379/0",
           "SECRET_KEY": "s-3kQ9vX2mLp8RtY6wZ4nB7cD1fG5hJ0aE", "PII_KEY": "p-Hn4Jk8Lm2Qw6Er0Ty3Ui7Op1As5Df9Gh",
           "QR_KEY": "q-Zx1Cv5Bn9Mm3Kl7Jh2Gf6Ds0Aq4We8Rt", "WECHAT_SECRET": "w-Pl0Ok9Ij8Uh7Yg6Tf5Rd4Es3Wa2Qz1Xc",
           "WECHAT_APPID": "wx1234567890abcdef"}
    env.pop(missing)
    for key in list(env) + [missing, "WECHAT_API_BASE"]:
        monkeypatch.delenv(key, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as exc:
        load_config("production")
    assert missing in str(exc.value)
    assert "\n" not in str(exc.value)
    monkeypatch.setenv(missing, "changeme")
    with pytest.raises(ConfigError):
        load_config("production")
    monkeypatch.setenv(missing, "x" * 40)  # long, but one character
    with pytest.raises(ConfigError, match="too weak"):
        load_config("production")
    monkeypatch.setenv(missing, env.get("SECRET_KEY", env.get("PII_KEY")))  # the same as another secret
    with pytest.raises(ConfigError, match="same as"):
        load_config("production")
    monkeypatch.setenv(missing, "m-" + "Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk")
    assert load_config("production")["APP_ENV"] == "production"
    monkeypatch.setenv("WECHAT_API_BASE", "fake")
    with pytest.raises(ConfigError, match="fake"):
        load_config("production")


def test_environment_overrides_every_profile(monkeypatch):
    from config import load_config

    monkeypatch.setenv("BOOKING_WINDOW_DAYS", "21")
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:9/")
    for env in ("development", "testing"):
        cfg = load_config(env)
        assert cfg["BOOKING_WINDOW_DAYS"] == 21
        assert cfg["WECHAT_API_BASE"] == "http://127.0.0.1:9/"


def test_each_app_keeps_its_own_rate_limits(app, sqlite_url, redis_server, fake_wechat_url):
    """A second app in the process (tests, two instances) must not switch the first one's limits off."""
    other = build_app(sqlite_url, redis_server.url, fake_wechat_url, RATELIMIT_ENABLED=False)
    assert other.test_client().get("/livez").status_code == 200
    saved = app.config["RATELIMIT_LOGIN"]
    app.config["RATELIMIT_LOGIN"] = "2 per minute"
    try:
        client = app.test_client()
        outcomes = [outcome(client.post("/api/v1/auth/wechat/login", json={"code": f"dev-own.{i}"}))
                    for i in range(3)]
    finally:
        app.config["RATELIMIT_LOGIN"] = saved
    assert outcomes == [(200, None), (200, None), (429, "rate_limited")]
