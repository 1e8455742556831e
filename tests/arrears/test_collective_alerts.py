"""A case becoming collective alerts the admins over its organization who linked their WeChat:
one subscribe message each, through the outbox (docs/contract.md §11)."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from models import Notification, db
from service.auth.services import disable_staff
from service.common import clock
from tests.arrears.helpers import NOW, World, query, send_messages
from tests.console.conftest import signed_in
from tests.helpers import bearer, link_wechat, login_staff, make_staff, outcome, staff_token
from wechat import fake

EMPLOYER = "扬州 宏达建筑（集团）有限公司"


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def admin_messages(redis_client) -> Counter:
    """Messages WeChat received of the collective-arrears kind, by the openid they went to."""
    template = "tmpl-arrears-collective"
    return Counter(m["touser"] for m in fake.sent_messages(redis_client) if m["template_id"] == template)


def test_a_collective_case_messages_each_linked_admin_over_its_organization_once(world, app, client,
                                                                                 redis_client):
    # admins over the district: the city's (an ancestor), the district's own, one for the whole federation
    link_wechat(client, world.admin, "cityadmin")
    district_admin = staff_token(app, client, "admin", world.district, username="district_admin")
    link_wechat(client, district_admin, "districtadmin")
    federation_admin = staff_token(app, client, "admin", None, username="federation_admin")
    link_wechat(client, federation_admin, "federationadmin")
    # not alerted: an admin who linked no WeChat, an admin of the other district, rights staff,
    # and a disabled admin
    staff_token(app, client, "admin", world.district, username="unlinked_admin")
    link_wechat(client, staff_token(app, client, "admin", world.other, username="other_admin"), "otheradmin")
    link_wechat(client, world.staff, "rightsstaff")
    leaving = staff_token(app, client, "admin", world.district, username="leaving_admin")
    link_wechat(client, leaving, "leavingadmin")
    with app.app_context():
        disable_staff("leaving_admin")
        db.session.remove()

    tokens = [world.worker(name, f"1380013800{i}") for i, name in enumerate(("amy", "ben", "cai"))]
    reports = [world.submitted(token, employer_name=EMPLOYER, workers_affected=n)
               for token, n in zip(tokens, (4, 3, 3), strict=True)]
    case_id = world.accepted(reports[0]["id"])["case_id"]
    world.accepted(reports[1]["id"])
    assert send_messages(app).sent == 2  # the two workers' acceptances; 7 workers are not collective yet
    assert admin_messages(redis_client) == Counter()

    world.accepted(reports[2]["id"])
    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    assert case["collective"] is True and case["workers"] == 10
    send_messages(app)
    assert admin_messages(redis_client) == Counter({"fake-cityadmin": 1, "fake-districtadmin": 1,
                                                     "fake-federationadmin": 1})
    message = next(m for m in fake.sent_messages(redis_client) if m["touser"] == "fake-districtadmin")
    assert message["data"] == {"thing1": {"value": "扬州 宏达建筑（集团）有限公司"}, "number2": {"value": "10"},
                               "thing3": {"value": "广陵区总工会"}, "time4": {"value": "2026年03月02日 09:00"},
                               "thing5": {"value": "群体性欠薪，请登录工作人员控制台处理"}}
    assert message["page"] == "pages/me/index"

    # a fourth report joins the case, which was collective already: no admin hears of it again
    dan = world.worker("dan", "13800138009")
    world.accepted(world.submitted(dan, employer_name=EMPLOYER, workers_affected=2)["id"])
    send_messages(app)
    assert sum(admin_messages(redis_client).values()) == 3
    keys = sorted(k for (k,) in query(app, select(Notification.dedupe_key).where(
        Notification.kind == "arrears_collective")))
    assert len(keys) == 3 and all(k.startswith(f"arrears-collective:{case_id}:") for k in keys)


def test_the_banner_tells_an_unlinked_admin_where_to_link(world, app, client):
    for i, name in enumerate(("amy", "ben")):
        token = world.worker(name, f"1380013800{i}")
        world.accepted(world.submitted(token, workers_affected=5)["id"])
    admin = signed_in(app, app.test_client(), "admin", world.city)
    page = admin.text("/console/")
    assert "群体性欠薪提醒" in page and "绑定本人微信</a>，即可在工会小程序中收到群体性欠薪提醒" in page


def test_an_admin_who_unlinked_gets_no_message(world, app, client, redis_client):
    make_staff(app, "was_linked", "admin", world.district)
    token = login_staff(client, "was_linked")
    link_wechat(client, token, "waslinked")
    assert outcome(client.delete("/api/v1/admin/me/wechat-binding", headers=bearer(token))) == (204, None)
    for i, name in enumerate(("amy", "ben")):
        worker = world.worker(name, f"1380013800{i}")
        world.accepted(world.submitted(worker, workers_affected=5)["id"])
    send_messages(app)
    assert admin_messages(redis_client) == Counter()
