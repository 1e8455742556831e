"""Enrollment review at the console: the queue, one application, approve, reject, batch."""
from __future__ import annotations

import re

import pytest

from tests.console.conftest import api_token, flashes, signed_in
from tests.enrollment import apply, make_id
from tests.helpers import bearer, login_worker

QUEUE = "/console/enrollment/"


def submit(client, org_id, name="王小明", worker="alice", **fields):
    resp = apply(client, login_worker(client, worker), org_id, name=name, **fields)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@pytest.fixture
def reviewer(app, client, city):
    return signed_in(app, client, "enrollment_reviewer", city["root"])


def test_the_queue_lists_pending_applications_with_masked_id_numbers(app, client, city, reviewer):
    id_number = make_id("19900101", "male")
    submitted = submit(client, city["district"], id_number=id_number)
    page = reviewer.text(QUEUE)
    assert "王小明" in page and "广陵区总工会" in page
    assert id_number not in page and id_number[:3] + "*" * 11 + id_number[-4:] in page
    detail = reviewer.text(f"{QUEUE}{submitted['id']}")
    assert id_number not in detail and "13912345678" not in detail
    assert "139****5678" in detail
    # Filters go through the API's own query schema.
    assert "王小明" not in reviewer.text(QUEUE + "?q=李")
    assert "王小明" not in reviewer.text(QUEUE + f"?organization_id={city['other']}")
    page = reviewer.text(QUEUE + "?submitted_from=not-a-date")
    assert "王小明" in page and "日期格式无效" in page


def test_approve_creates_the_member_and_the_worker_sees_the_card(app, client, city, reviewer):
    submitted = submit(client, city["district"])
    resp = reviewer.post(f"{QUEUE}{submitted['id']}/approve", {"back": f"{QUEUE}{submitted['id']}"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"{QUEUE}{submitted['id']}"
    page = reviewer.text(resp.headers["Location"])
    assert "已通过，已生成会员编号并通知申请人" in flashes(page)
    assert f"{city['district']:04d}-2026-000001" in page
    # A second approval is the service's 409, shown as a message.
    resp = reviewer.post(f"{QUEUE}{submitted['id']}/approve", {"back": f"{QUEUE}{submitted['id']}"})
    assert "该申请已处理，不能重复审核" in flashes(reviewer.text(resp.headers["Location"]))
    worker = login_worker(client, "alice")
    card = client.get("/api/v1/enrollment/membership", headers=bearer(worker))
    assert card.status_code == 200 and card.get_json()["member_no"] == f"{city['district']:04d}-2026-000001"


def test_reject_needs_a_reason(app, client, city, reviewer):
    submitted = submit(client, city["district"])
    url = f"{QUEUE}{submitted['id']}"
    resp = reviewer.post(f"{url}/reject", {"reason": "  ", "back": url})
    assert any("原因" in m for m in flashes(reviewer.text(resp.headers["Location"])))
    assert "待审核" in reviewer.text(url)
    resp = reviewer.post(f"{url}/reject", {"reason": "工作单位与证明材料不符", "back": url})
    page = reviewer.text(resp.headers["Location"])
    assert "已驳回，并已通知申请人" in flashes(page) and "工作单位与证明材料不符" in page


def test_batch_approval_reports_each_failure(app, client, city, reviewer):
    first = submit(client, city["district"], worker="a1")
    second = submit(client, city["district"], name="李四", worker="a2")
    outside = submit(client, city["other"], name="赵五", worker="a3")
    reviewer.post(f"{QUEUE}{first['id']}/approve")
    district_reviewer = signed_in(app, app.test_client(), "enrollment_reviewer", city["district"])
    resp = district_reviewer.post(f"{QUEUE}batch", {"action": "approve", "ids": [first["id"], second["id"],
                                                                                 outside["id"]], "back": QUEUE})
    messages = flashes(district_reviewer.text(resp.headers["Location"]))
    assert messages[0] == "批量通过：成功 1 份，失败 2 份"
    assert f"申请 {first['id']}：该申请已处理，不能重复审核" in messages[1]
    assert f"申请 {outside['id']}：入会申请不存在" in messages[1]
    resp = reviewer.post(f"{QUEUE}batch", {"action": "reject", "ids": [outside["id"]], "back": QUEUE})
    assert any("驳回原因" in m for m in flashes(reviewer.text(resp.headers["Location"])))


def test_an_application_of_another_organization_is_not_found(app, client, city):
    submitted = submit(client, city["other"])
    district_reviewer = signed_in(app, client, "enrollment_reviewer", city["district"])
    resp = district_reviewer.get(f"{QUEUE}{submitted['id']}")
    assert resp.status_code == 404 and "入会申请不存在" in resp.get_data(as_text=True)
    resp = district_reviewer.post(f"{QUEUE}{submitted['id']}/approve")
    assert resp.status_code == 404
    assert "王小明" not in district_reviewer.text(QUEUE)
    token = api_token(app, "enrollment_reviewer", city["root"])
    status = client.get(f"/api/v1/enrollment/applications/{submitted['id']}", headers=bearer(token)).get_json()
    assert status["status"] == "pending"


def test_the_member_list_downloads_as_excel(app, client, city, reviewer):
    submitted = submit(client, city["district"])
    reviewer.post(f"{QUEUE}{submitted['id']}/approve")
    resp = reviewer.get("/console/enrollment/members.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_search_by_id_number_or_phone_is_posted_and_never_put_in_a_url(app, client, city, reviewer):
    id_number = make_id("19900101", "male")
    submit(client, city["district"], id_number=id_number, phone="13912340001")
    submit(client, city["district"], name="李四", worker="bob")
    for q in (id_number, "13912340001"):
        resp = reviewer.post(f"{QUEUE}search", {"q": q, "status": "all"})
        assert resp.status_code == 200
        page = resp.get_data(as_text=True)
        assert "王小明" in page and "李四" not in page
        urls = re.findall(r'(?:href|action|formaction)="([^"]*)"', page)
        assert urls and not [u for u in urls if q in u or q[-4:] in u]
        # the export button posts the same filters: the sheet holds only the match
        export = reviewer.post("/console/enrollment/members.xlsx", {"q": q})
        assert export.status_code == 200
    # a number typed into the address bar is dropped with a message, the list still shows
    page = reviewer.text(QUEUE + f"?q={id_number}&status=all")
    assert "王小明" in page and "李四" in page and any("网址" in m for m in flashes(page))


def test_the_pages_of_a_posted_search_are_asked_for_by_post(app, client, city, reviewer):
    for n in range(3):
        submit(client, city["district"], name="张" + "一二三"[n], worker=f"zhang{n}")
    resp = reviewer.post(f"{QUEUE}search", {"q": "张", "per_page": "2"})
    page = resp.get_data(as_text=True)
    assert "共 3 条，第 1 / 2 页" in page
    assert re.search(r'<button type="submit" name="page" value="2">下一页</button>', page)
    second = reviewer.post(f"{QUEUE}search", {"q": "张", "per_page": "2", "page": "2"}).get_data(as_text=True)
    assert "共 3 条，第 2 / 2 页" in second and "上一页" in second
