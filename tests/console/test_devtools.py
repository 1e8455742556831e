"""A newcomer sees the WeChat messages the service sent: a console page in development only."""
from __future__ import annotations

import pytest

from service.common import clock
from tests.console.conftest import signed_in
from tests.enrollment import apply, make_id
from tests.helpers import bearer, login_worker, make_org, staff_token

PAGE = "/console/dev/wechat-messages"


@pytest.fixture
def dev_app(sqlite_url, redis_server, redis_client):
    """The app as ``make run`` builds it (APP_ENV=development, the fake WeChat in-process),
    on the tests' SQLite database and Redis."""
    from service import create_app
    from tests.conftest import _migrate, clean

    application = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, "REDIS_URL": redis_server.url,
                              "WECHAT_API_BASE": "fake", "LOG_LEVEL": "WARNING"}, env="development")
    _migrate(application)
    clean(application, redis_client)
    yield application
    clock.freeze(None)


def send_due(app) -> None:
    result = app.test_cli_runner().invoke(args=["notifications", "send-due"])
    assert result.exit_code == 0 and "sent=1" in result.output, result.output


def test_in_development_the_console_lists_what_the_fake_wechat_received_newest_first(dev_app):
    client = dev_app.test_client()
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    org = make_org(dev_app, "广陵区总工会")
    reviewer = staff_token(dev_app, client, "enrollment_reviewer", org)
    for name, decision in (("alice", "approve"), ("bob", "reject")):
        worker = login_worker(client, name)
        application = apply(client, worker, org, id_number=make_id()).get_json()
        resp = client.post(f"/api/v1/admin/enrollment/applications/{application['id']}/{decision}",
                           json={"reason": "材料不全"} if decision == "reject" else None, headers=bearer(reviewer))
        assert resp.status_code == 200, resp.get_json()
        send_due(dev_app)

    clerk = signed_in(dev_app, client, "breakfast_manager", org)  # any staff member
    page = clerk.text(PAGE)
    assert "微信消息（开发）" in page  # in the menu
    assert page.count('class="wechat-message"') == 2
    bob, alice = page.index("fak*-bob"), page.index("fak***lice")  # openids masked, bob's (newest) first
    assert bob < alice
    assert "fake-alice" not in page and "fake-bob" not in page
    assert "tmpl-enrollment-result" in page and "入会审核通过、入会申请驳回" in page
    assert "pages/enrollment/card/index" in page and "未通过" in page and "材料不全" in page
    assert page.index("未通过") < page.index("已通过")


def test_the_page_does_not_exist_outside_development(app, client, city):
    assert "console_dev.wechat_messages" not in app.view_functions
    assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/console/dev")]
    clerk = signed_in(app, client, "admin")
    assert clerk.get(PAGE).status_code == 404
    assert "微信消息" not in clerk.text("/console/")
