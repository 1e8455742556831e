"""The monthly figures the union orders rice, flour and oil by."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from service.common import clock
from tests.breakfast.helpers import check_in, create_point, eligible_worker, quick_staff_token, scene_of, setup_city
from tests.helpers import bearer, make_org, outcome


def eat(client, token, scene, day, month=3, hour=6):
    clock.freeze(clock.local(2026, month, day, hour, 0))
    resp = check_in(client, token, scene)
    assert resp.status_code == 201, resp.get_json()


def build_march(app, client):
    """Point A: alice on the 2nd, 3rd, 4th, bob on the 2nd and 3rd (5 servings, 3 days).
    Point B: carol on the 2nd and 5th (2 servings, 2 days).  Plus one breakfast on the
    last day of February and one on the first of April, which March must not count."""
    org, staff = setup_city(app, client)
    a = create_point(client, staff, name="文昌中路爱心早餐点")
    b = create_point(client, staff, name="江阳中路爱心早餐点")
    sa, sb = scene_of(client, staff, a["id"]), scene_of(client, staff, b["id"])
    alice = eligible_worker(client, staff, "alice", "13952710001")
    bob = eligible_worker(client, staff, "bob", "13952710002")
    carol = eligible_worker(client, staff, "carol", "13952710003")
    eat(client, alice, sa, 28, month=2)
    for day in (2, 3, 4):
        eat(client, alice, sa, day)
    for day in (2, 3):
        eat(client, bob, sa, day)
    eat(client, carol, sb, 2)
    eat(client, carol, sb, 5, hour=8)
    eat(client, alice, sb, 1, month=4)
    clock.freeze(None)
    return org, staff, a, b, {"alice": alice, "bob": bob, "carol": carol}


def test_monthly_report_counts_every_breakfast(client, app):
    org, staff, a, b, workers = build_march(app, client)
    resp = client.get("/api/v1/admin/breakfast/report?month=2026-03", headers=bearer(staff))
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["month"] == "2026-03"
    assert report["total_servings"] == 7 and report["distinct_workers"] == 3
    by_point = {p["name"]: p for p in report["points"]}
    assert by_point[a["name"]]["servings"] == 5 and by_point[a["name"]]["distinct_workers"] == 2
    assert by_point[a["name"]]["days"] == [{"serving_date": "2026-03-02", "count": 2},
                                          {"serving_date": "2026-03-03", "count": 2},
                                          {"serving_date": "2026-03-04", "count": 1}]
    assert by_point[b["name"]]["days"] == [{"serving_date": "2026-03-02", "count": 1},
                                          {"serving_date": "2026-03-05", "count": 1}]
    assert [w["count"] for w in report["workers"]] == [3, 2, 2]  # most breakfasts first
    counts = {w["phone"]: w["count"] for w in report["workers"]}
    assert counts == {"139****0001": 3, "139****0002": 2, "139****0003": 2}
    assert all(w["name"].startswith("职") and set(w["name"][1:]) == {"*"} for w in report["workers"])
    assert "13952710001" not in resp.get_data(as_text=True)

    one = client.get(f"/api/v1/admin/breakfast/report?month=2026-03&point_id={b['id']}",
                     headers=bearer(staff)).get_json()
    assert one["total_servings"] == 2 and one["distinct_workers"] == 1
    assert [p["name"] for p in one["points"]] == [b["name"]]

    feb = client.get("/api/v1/admin/breakfast/report?month=2026-02", headers=bearer(staff)).get_json()
    assert feb["total_servings"] == 1

    # Another district's manager sees none of it; a point out of reach is 404.
    stranger = quick_staff_token(app, "breakfast_manager", make_org(app, "另一个市总工会"))
    theirs = client.get("/api/v1/admin/breakfast/report?month=2026-03", headers=bearer(stranger)).get_json()
    assert theirs["total_servings"] == 0 and theirs["points"] == [] and theirs["workers"] == []
    assert outcome(client.get(f"/api/v1/admin/breakfast/report?month=2026-03&point_id={a['id']}",
                              headers=bearer(stranger))) == (404, "not_found")
    resp = client.get("/api/v1/admin/breakfast/report?month=03-2026", headers=bearer(staff))
    assert outcome(resp) == (422, "validation_error") and "month" in resp.get_json()["error"]["details"]["fields"]


def test_ingredient_estimate_rounds_up_what_the_union_orders(client, app):
    org, staff, a, b, _ = build_march(app, client)
    resp = client.get("/api/v1/admin/breakfast/ingredients?month=2026-03", headers=bearer(staff))
    assert resp.status_code == 200, resp.get_json()
    est = resp.get_json()
    # A: 5 servings over 3 days → 5/3 × 30 April days = 50; B: 2 over 2 days → 30.
    assert est["next_month"] == "2026-04" and est["next_month_days"] == 30
    assert {p["name"]: p["estimated_servings"] for p in est["points"]} == {a["name"]: 50, b["name"]: 30}
    assert est["servings"] == 7 and est["estimated_servings"] == 80
    assert est["per_serving"] == {"rice_g": 60, "flour_g": 80, "oil_ml": 8}
    # 80 × 60 g = 4.8 kg → 5; 80 × 80 g = 6.4 kg → 7; 80 × 8 ml = 0.64 l → 1.
    assert (est["rice_kg"], est["flour_kg"], est["oil_l"]) == (5, 7, 1)
    report = client.get("/api/v1/admin/breakfast/report?month=2026-03", headers=bearer(staff)).get_json()
    assert report["ingredients"] == est

    saved = {k: app.config[k] for k in ("BREAKFAST_RICE_G", "BREAKFAST_FLOUR_G", "BREAKFAST_OIL_ML")}
    app.config.update(BREAKFAST_RICE_G=100, BREAKFAST_FLOUR_G=25, BREAKFAST_OIL_ML=12.5)
    try:
        est = client.get("/api/v1/admin/breakfast/ingredients?month=2026-03", headers=bearer(staff)).get_json()
    finally:
        app.config.update(saved)
    assert (est["rice_kg"], est["flour_kg"], est["oil_l"]) == (8, 2, 1)
    # February (28 days → March 31): one serving on one day → 31.
    feb = client.get("/api/v1/admin/breakfast/ingredients?month=2026-02", headers=bearer(staff)).get_json()
    assert feb["estimated_servings"] == 31 and feb["next_month_days"] == 31


def test_report_xlsx_has_the_same_figures_with_chinese_headers(client, app):
    org, staff, a, b, _ = build_march(app, client)
    resp = client.get("/api/v1/admin/breakfast/report.xlsx?month=2026-03", headers=bearer(staff))
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data), read_only=True)
    assert wb.sheetnames == ["汇总", "每日统计", "职工统计", "食材预估"]
    summary = [list(r) for r in wb["汇总"].iter_rows(values_only=True)]
    assert summary[0] == ["月份", "早餐点", "供应份数", "就餐人数"]
    assert summary[-1] == ["2026-03", "合计", 7, 3]
    daily = [list(r) for r in wb["每日统计"].iter_rows(values_only=True)]
    assert daily[0] == ["日期", "早餐点", "份数"] and len(daily) == 1 + 5
    assert sum(r[2] for r in daily[1:]) == 7
    people = [list(r) for r in wb["职工统计"].iter_rows(values_only=True)]
    assert people[0] == ["姓名", "手机号", "单位", "就餐次数"]
    assert sorted(r[3] for r in people[1:]) == [2, 2, 3]
    assert all("****" in r[1] for r in people[1:])
    food = [list(r) for r in wb["食材预估"].iter_rows(values_only=True)]
    assert ["大米（公斤）", 5, "每份（克）", 60] in food


def test_erasing_a_worker_keeps_the_counts(client, app):
    org, staff, a, b, workers = build_march(app, client)
    assert client.delete("/api/v1/me", headers=bearer(workers["alice"])).status_code == 204
    report = client.get("/api/v1/admin/breakfast/report?month=2026-03", headers=bearer(staff)).get_json()
    assert report["total_servings"] == 7 and report["distinct_workers"] == 3
    erased = [w for w in report["workers"] if w["count"] == 3][0]
    assert erased["name"] is None and erased["phone"] is None
    listing = client.get("/api/v1/admin/breakfast/roster", headers=bearer(staff)).get_json()
    assert listing["total"] == 2 and "139****0001" not in str(listing)


def test_today_shows_the_live_count(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff, daily_quota=3)
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff)
    clock.freeze(clock.local(2026, 3, 10, 5, 45))
    url = f"/api/v1/admin/breakfast/points/{point['id']}/today"
    before = client.get(url, headers=bearer(staff)).get_json()
    assert before == {"point_id": point["id"], "name": point["name"], "serving_date": "2026-03-10", "served": 0,
                      "quota": 3, "quota_left": 3, "serving_start": "05:30", "serving_end": "08:30",
                      "serving_now": True, "active": True}
    check_in(client, token, scene)
    after = client.get(url, headers=bearer(staff)).get_json()
    assert (after["served"], after["quota_left"]) == (1, 2)


def test_figures_for_the_annual_report(client, app):
    import datetime as dt

    from service.auth.permissions import Scope
    from service.breakfast.reports import figures

    org, staff, a, b, _ = build_march(app, client)
    with app.app_context():
        # (the points were created "now", on the real clock: count them by a far end date)
        year = figures(Scope(frozenset({"admin"}), None), dt.date(2026, 1, 1), dt.date(2100, 1, 1))
        elsewhere = figures(Scope(frozenset({"admin"}), frozenset({org + 1000})), dt.date(2026, 1, 1),
                            dt.date(2100, 1, 1))
    assert year == {"points": 2, "servings": 9, "distinct_workers": 3}
    assert elsewhere == {"points": 0, "servings": 0, "distinct_workers": 0}
