"""The console's lists open on data: numbered pages with a jump box, a page past the end
shows the last page, legal-aid bookings open on the coming seven days, the breakfast
report on the latest month with check-ins."""
from __future__ import annotations

import re

import pytest

from service.common import clock
from tests.breakfast.helpers import check_in, create_point, eligible_worker, scene_of
from tests.console.conftest import api_token, signed_in, upload_and_confirm
from tests.helpers import login_worker
from tests.legal_aid.helpers import World, at, book


def roster_of(count: int) -> bytes:
    rows = [f"职工{n:03d},1395280{n:04d},广陵环卫所" for n in range(1, count + 1)]
    return ("姓名,手机号,单位\n" + "\n".join(rows) + "\n").encode()


def pager_of(page: str) -> str:
    match = re.search(r'<nav class="pager".*?</nav>', page, re.S)
    assert match, "no pager on the page"
    return match.group(0)


def test_numbered_pages_a_jump_box_and_a_page_past_the_end(app, client, city):
    manager = signed_in(app, client, "breakfast_manager", city["root"])
    resp = upload_and_confirm(manager, "/console/breakfast/roster", roster_of(125), "名册.csv")
    assert '<strong class="num-created">125</strong>' in resp.get_data(as_text=True)

    first = pager_of(manager.text("/console/breakfast/roster?active=true"))
    assert "共 125 条，第 1 / 7 页" in first
    assert '<span class="current" aria-current="page">1</span>' in first
    assert re.findall(r">(\d+)</a>", first) == ["2", "3", "7"] and "…" in first
    assert 'href="/console/breakfast/roster?active=true&amp;page=7"' in first
    # the jump box keeps the filter and goes no further than the last page
    assert '<input type="hidden" name="active" value="true">' in first and 'max="7"' in first

    middle = pager_of(manager.text("/console/breakfast/roster?active=true&page=4"))
    assert re.findall(r">(\d+)</a>", middle) == ["1", "2", "3", "5", "6", "7"]

    last = manager.text("/console/breakfast/roster?active=true&page=99999")
    assert "共 125 条，第 7 / 7 页" in pager_of(last) and "99999" not in pager_of(last)
    assert "职工121" in last and "职工125" in last and "职工120" not in last


def test_a_list_of_one_page_says_how_many_and_nothing_else(app, client, city):
    manager = signed_in(app, client, "station_manager", city["root"])
    pager = pager_of(manager.text("/console/stations/?page=5"))
    assert "共 0 条" in pager and "跳转" not in pager and "<a " not in pager


@pytest.fixture
def legal(app, client, city):
    clock.freeze(at(2, 9, 0))
    return World(app, client)


def test_bookings_open_on_the_coming_seven_days_and_the_dashboard_counts_them(app, client, city, legal):
    tomorrow = legal.slot(at(3, 10, 0))
    sixth_day = legal.slot(at(8, 10, 0))
    eighth_day = legal.slot(at(10, 10, 0))
    for name, slot, topic in (("li", tomorrow, "wage_arrears"), ("wang", sixth_day, "work_injury"),
                              ("zhao", eighth_day, "labor_contract")):
        assert book(client, login_worker(client, name), slot, topic=topic,
                    description=f"{name} 的问题").status_code == 201
    clerk = signed_in(app, client, "legal_aid_staff", legal.city)

    page = clerk.text("/console/legal-aid/")
    assert 'value="2026-03-02"' in page and 'value="2026-03-08"' in page
    assert "li 的问题" in page and "wang 的问题" in page and "zhao 的问题" not in page
    dashboard = clerk.text("/console/")
    card = re.search(r'<section class="card summary-legal-aid">.*?</section>', dashboard, re.S).group(0)
    assert "近 7 天待咨询" in card and '<div class="stat">2</div>' in card and "其中今天 0 个" in card
    assert "03-03 10:00 王律师" in card
    # a clerk can still look further ahead
    assert "zhao 的问题" in clerk.text("/console/legal-aid/?date_from=2026-03-09&date_to=2026-03-31")


def test_the_breakfast_report_opens_on_the_latest_month_with_check_ins(app, client, city):
    token = api_token(app, "breakfast_manager", city["root"])
    clock.freeze(clock.local(2026, 1, 20, 6, 0))
    point = create_point(client, token)
    scene = scene_of(client, token, point["id"])
    for name in ("alice", "bob"):
        assert check_in(client, eligible_worker(client, token, name), scene).status_code == 201
    clock.freeze(clock.local(2026, 3, 5, 9, 0))
    manager = signed_in(app, client, "breakfast_manager", city["root"])

    page = manager.text("/console/breakfast/report")
    assert "<h1>2026-01 早餐统计</h1>" in page and '<input type="month" name="month" value="2026-01">' in page
    assert '<div class="stat" id="total-servings">2</div>' in page
    assert "本月（2026-03）还没有就餐记录，显示最近有记录的 2026-01。" in page
    assert "month=2026-01" in re.search(r'href="([^"]*report.xlsx[^"]*)"', page).group(1)

    chosen = manager.text("/console/breakfast/report?month=2026-03")
    assert "<h1>2026-03 早餐统计</h1>" in chosen and '<div class="stat" id="total-servings">0</div>' in chosen
    assert "显示最近有记录" not in chosen


def test_an_empty_breakfast_report_opens_on_this_month(app, client, city):
    manager = signed_in(app, client, "breakfast_manager", city["root"])
    page = manager.text("/console/breakfast/report")
    assert "<h1>2026-03 早餐统计</h1>" in page and "显示最近有记录" not in page
