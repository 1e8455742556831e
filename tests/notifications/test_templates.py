"""Subscribe messages configured, not coded (docs/contract.md §8): each kind's template
id, the page it opens and which named value goes into which keyword come from
``NOTIFY_TEMPLATES``, are checked at start, and are what WeChat receives."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import NOTIFY_DEFAULTS, ConfigError, load_config
from service.common import clock
from tests.conftest import build_app
from tests.enrollment import apply, quick_staff
from tests.helpers import bearer, login_worker, make_org
from tests.legal_aid.helpers import World, book
from wechat import fake

ROOT = Path(__file__).resolve().parents[2]

# The mini-program picked other templates from WeChat's library than the defaults: other ids,
# other keywords in another order, another page.
PICKED = {
    "enrollment_rejected": {
        "template_id": "Xq9-enrollment-result", "page": "pages/member/result?application={application_id}",
        "data": {"phrase1": "result", "thing7": "remark", "date3": "reviewed_at", "thing2": "organization"}},
    "booking_reminder": {
        "template_id": "Xq9-consultation-reminder",
        "data": {"time5": "starts_at", "thing6": "place", "name2": "provider", "thing1": "topic"}},
    "booking_confirmed": "Xq9-consultation-booked",
}
KEYWORDS = {"Xq9-enrollment-result": ["phrase1", "thing7", "date3", "thing2"],
            "Xq9-consultation-reminder": ["time5", "thing6", "name2", "thing1"],
            "Xq9-consultation-booked": ["thing1", "time2", "thing3", "thing4"]}


def test_the_templates_answer_each_kind_with_its_template_id(client):
    resp = client.get("/api/v1/notifications/templates")
    assert resp.status_code == 200
    assert resp.get_json() == {kind: entry["template_id"] for kind, entry in NOTIFY_DEFAULTS.items()}


def test_the_defaults_send_what_was_sent_before(app, client, redis_client):
    """Without NOTIFY_TEMPLATES a rejection reaches WeChat exactly as it always did."""
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    org = make_org(app, "广陵区总工会")
    application = apply(client, login_worker(client, "old"), org).get_json()
    reviewer = quick_staff(app, client, "enrollment_reviewer", org)
    client.post(f"/api/v1/admin/enrollment/applications/{application['id']}/reject", json={"reason": "材料不全"},
                headers=bearer(reviewer))
    send_due(app)
    [message] = fake.sent_messages(redis_client)
    assert message["template_id"] == "tmpl-enrollment-result"
    assert message["page"] == f"pages/enrollment/application/index?id={application['id']}"
    assert message["data"] == {"thing1": {"value": "工会入会申请"}, "thing2": {"value": "广陵区总工会"},
                               "phrase3": {"value": "未通过"}, "time4": {"value": "2026年03月02日 09:30"},
                               "thing5": {"value": "材料不全"}}


def send_due(app) -> None:
    from models import db
    from service.notifications.sender import send_due as one_pass

    with app.app_context():
        one_pass()
        db.session.remove()


@pytest.fixture
def picked(app, redis_client):
    """The app as configured with the picked templates, on the test's (emptied) database."""
    from models import db

    configured = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"],
                           app.config["WECHAT_API_BASE"], NOTIFY_TEMPLATES=PICKED)
    fake.set_templates(redis_client, KEYWORDS)
    yield configured
    with configured.app_context():
        db.engine.dispose()


def test_configured_templates_are_what_the_mini_program_asks_for_and_what_wechat_receives(picked, redis_client):
    client = picked.test_client()
    assert client.get("/api/v1/notifications/templates").get_json() == {
        **{kind: entry["template_id"] for kind, entry in NOTIFY_DEFAULTS.items()},
        "enrollment_rejected": "Xq9-enrollment-result", "booking_reminder": "Xq9-consultation-reminder",
        "booking_confirmed": "Xq9-consultation-booked"}

    # a rejection with a long reason (by the real clock), and a booking two days ahead
    world = World(picked, client)
    org = make_org(picked, "扬州市广陵区新就业形态劳动者权益保障工会联合会", world.city)
    application = apply(client, login_worker(client, "ann"), org).get_json()
    reviewer = quick_staff(picked, client, "enrollment_reviewer", world.city)
    reason = "身份证照片模糊无法辨认，请重新拍摄清晰的正反面照片后再次提交申请"
    resp = client.post(f"/api/v1/admin/enrollment/applications/{application['id']}/reject",
                       json={"reason": reason}, headers=bearer(reviewer))
    assert resp.status_code == 200
    rejected_on = clock.local_now().strftime("%Y年%m月%d日")
    starts = (clock.local_now() + dt.timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    booking = book(client, login_worker(client, "ben"), world.slot(starts)).get_json()

    # the sender as production runs it: its own process, NOTIFY_TEMPLATES from the environment
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": picked.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": picked.config["REDIS_URL"], "WECHAT_API_BASE": picked.config["WECHAT_API_BASE"],
           "NOTIFY_TEMPLATES": json.dumps(PICKED)}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "send-due"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "sent=2" in done.stdout  # the reminder is not due yet
    sent = {m["template_id"]: m for m in fake.sent_messages(redis_client)}
    rejected = sent["Xq9-enrollment-result"]
    assert rejected["page"] == f"pages/member/result?application={application['id']}"
    assert rejected["data"] == {"phrase1": {"value": "未通过"}, "thing7": {"value": reason[:19] + "…"},
                                "date3": {"value": rejected_on},
                                "thing2": {"value": "扬州市广陵区新就业形态劳动者权益保障工…"}}
    assert sent["Xq9-consultation-booked"]["data"]["thing4"] == {"value": "王律师"}

    clock.freeze(starts - dt.timedelta(hours=23))  # the day before: the reminder is due
    send_due(picked)
    reminder = fake.sent_messages(redis_client)[-1]
    assert reminder["template_id"] == "Xq9-consultation-reminder"
    assert reminder["page"] == f"pages/legal-aid/booking?id={booking['id']}"
    assert reminder["data"] == {"time5": {"value": starts.strftime("%Y年%m月%d日 %H:%M")},
                                "thing6": {"value": "广陵区总工会法律服务室"}, "name2": {"value": "王律师"},
                                "thing1": {"value": "欠薪"}}


@pytest.mark.parametrize("given, says", [
    ({"booking_rescheduled": "tmpl-x"}, "unknown kind 'booking_rescheduled'"),
    ({"booking_reminder": {"data": {"thing1": "lawyer_phone"}}}, "booking_reminder.data.thing1: unknown value"),
    ({"booking_reminder": {"data": {"thingy1": "topic"}}}, "'thingy1' is not a WeChat keyword"),
    ({"booking_reminder": {"data": {"thing": "topic"}}}, "'thing' is not a WeChat keyword"),
    ({"enrollment_approved": {"page": "pages/card?no={member_no}"}}, "page: unknown value {member_no}"),
    ({"enrollment_approved": {"template": "x"}}, "must be a template id or an object"),
    ({"enrollment_approved": ""}, "template_id must be a non-empty string"),
    (["tmpl"], "must be a JSON object"),
])
def test_a_bad_setting_is_a_one_line_configuration_error(given, says):
    with pytest.raises(ConfigError) as err:
        load_config("testing", {"NOTIFY_TEMPLATES": given})
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_service_refuses_to_start_with_a_bad_setting():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "NOTIFY_"))}
    bad = {"booking_reminder": {"data": {"amt1": "topic"}}}
    env.update({"APP_ENV": "testing", "NOTIFY_TEMPLATES": json.dumps(bad)})
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "send-due"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: NOTIFY_TEMPLATES.booking_reminder"), lines
