"""The mini-program's offline sync (tombstones, stable paging) and workers' problem reports."""
from __future__ import annotations

import threading

from service.common import clock
from tests.helpers import bearer, error_code, login_worker, make_org, staff_token
from tests.stations.support import create, csv_upload, import_file, offset


def _sync(client, **query):
    resp = client.get("/api/v1/stations", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_sync_returns_changes_since_with_tombstones(app, client):
    admin = staff_token(app, client, "admin")
    clock.freeze(clock.local(2026, 3, 2, 9, 0))
    a = create(client, admin, "A")
    b = create(client, admin, "B")
    c = create(client, admin, "C")
    clock.freeze(clock.local(2026, 3, 2, 10, 0))
    client.patch(f"/api/v1/admin/stations/{a['id']}", json={"name": "A2"}, headers=bearer(admin))
    assert client.delete(f"/api/v1/admin/stations/{b['id']}", headers=bearer(admin)).status_code == 204

    changed = _sync(client, updated_since="2026-03-02T09:30:00+08:00")
    assert changed["total"] == 2
    by_id = {i["id"]: i for i in changed["items"]}
    assert by_id[b["id"]]["deleted"] is True and "name" not in by_id[b["id"]]
    assert by_id[a["id"]]["deleted"] is False and by_id[a["id"]]["name"] == "A2"
    assert by_id[a["id"]]["opening_hours"] == "24h" and by_id[a["id"]]["code"] == "A"
    assert changed["server_time"].startswith("2026-03-02T10:00:00")
    # without an offset the time is read as Shanghai time
    assert _sync(client, updated_since="2026-03-02T09:30:00")["total"] == 2
    everything = _sync(client)
    assert sorted(i["id"] for i in everything["items"]) == sorted([a["id"], c["id"]])
    assert all(i["deleted"] is False for i in everything["items"])
    assert _sync(client, updated_since="2026-03-02T10:00:01+08:00")["items"] == []


def test_paging_by_cursor_neither_skips_nor_repeats_while_stations_change(app, client):
    admin = staff_token(app, client, "admin")
    clock.freeze(clock.local(2026, 3, 2, 9, 0))
    rows = [["code", "name", "address", "lat", "lng", "opening_hours"]]
    for n in range(25):  # one import: every station has the same updated_at, the id orders them
        lat, lng = offset(east_m=n * 10)
        rows.append([f"P{n:02d}", f"驿站{n}", "测试路", lat, lng, "24h"])
    assert import_file(client, admin, csv_upload(rows)).get_json()["created"] == 25
    first = _sync(client, updated_since="2026-03-02T08:00:00+08:00", per_page=10)
    assert first["total"] == 25 and len(first["items"]) == 10
    seen = [i["id"] for i in first["items"]]
    assert seen == sorted(seen)
    # meanwhile a station already seen and one not yet seen change
    clock.freeze(clock.local(2026, 3, 2, 9, 5))
    client.patch(f"/api/v1/admin/stations/{seen[0]}", json={"name": "改名"}, headers=bearer(admin))
    last_id = max(seen) + 10
    client.delete(f"/api/v1/admin/stations/{last_id}", headers=bearer(admin))
    cursor = first["next_cursor"]
    while cursor:
        page = _sync(client, updated_since="2026-03-02T08:00:00+08:00", per_page=10, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    all_ids = set(range(min(seen), min(seen) + 25))
    assert set(seen) == all_ids                      # nothing skipped
    assert seen.count(seen[0]) == 2                   # the changed one comes again, at the end
    assert len(seen) == 26 and seen[-2:] == [seen[0], last_id]  # the deletion arrives as a tombstone
    # page numbers work too, in the same order
    paged = []
    for number in (1, 2, 3):
        paged += [i["id"] for i in _sync(client, updated_since="2026-03-02T08:00:00+08:00", per_page=10,
                                         page=number)["items"]]
    assert len(paged) == 25 and set(paged) == all_ids


def test_a_bad_cursor_is_422(client):
    resp = client.get("/api/v1/stations", query_string={"cursor": "not-a-cursor"})
    assert resp.status_code == 422 and "cursor" in resp.get_json()["error"]["details"]["fields"]


def test_one_open_report_per_worker_station_and_kind(app, client):
    admin = staff_token(app, client, "admin")
    station = create(client, admin, "R1")
    alice = login_worker(client, "alice")
    bob = login_worker(client, "bob")
    url = f"/api/v1/stations/{station['id']}/reports"
    resp = client.post(url, json={"kind": "closed", "comment": "中午来了没开门"}, headers=bearer(alice))
    assert resp.status_code == 201
    report = resp.get_json()
    assert report["status"] == "open" and report["kind"] == "closed"
    again = client.post(url, json={"kind": "closed", "comment": "还是没开"}, headers=bearer(alice))
    assert again.status_code == 409 and error_code(again) == "report_exists"
    assert client.post(url, json={"kind": "facility_broken"}, headers=bearer(alice)).status_code == 201
    assert client.post(url, json={"kind": "closed"}, headers=bearer(bob)).status_code == 201
    resolved = client.post(f"/api/v1/admin/stations/reports/{report['id']}/resolve", json={"note": "已联系站点"},
                           headers=bearer(admin))
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    twice = client.post(f"/api/v1/admin/stations/reports/{report['id']}/resolve", json={}, headers=bearer(admin))
    assert twice.status_code == 409 and error_code(twice) == "invalid_state"
    assert client.post(url, json={"kind": "closed"}, headers=bearer(alice)).status_code == 201  # a new one


def test_bad_reports_are_refused(app, client):
    admin = staff_token(app, client, "admin")
    station = create(client, admin, "R2")
    worker = login_worker(client, "carol")
    url = f"/api/v1/stations/{station['id']}/reports"
    assert client.post(url, json={"kind": "noisy"}, headers=bearer(worker)).status_code == 422
    assert client.post(url, json={"kind": "other", "comment": "x" * 501}, headers=bearer(worker)).status_code == 422
    assert client.post("/api/v1/stations/999999/reports", json={"kind": "other"},
                       headers=bearer(worker)).status_code == 404
    client.delete(f"/api/v1/admin/stations/{station['id']}", headers=bearer(admin))
    assert client.post(url, json={"kind": "other"}, headers=bearer(worker)).status_code == 404


def test_staff_see_reports_open_first_within_their_scope(app, client):
    city = make_org(app, "扬州市总工会")
    gl = make_org(app, "广陵区总工会", city)
    hj = make_org(app, "邗江区总工会", city)
    admin = staff_token(app, client, "admin")
    gl_manager = staff_token(app, client, "station_manager", gl)
    gl_station = create(client, admin, "GL-1", organization_id=gl)
    hj_station = create(client, admin, "HJ-1", organization_id=hj)
    worker = login_worker(client, "dave")
    ids = {}
    for n, (station, kind) in enumerate([(gl_station, "closed"), (gl_station, "wrong_location"),
                                         (hj_station, "closed"), (gl_station, "other")]):
        clock.freeze(clock.local(2026, 3, 2, 9, n))
        resp = client.post(f"/api/v1/stations/{station['id']}/reports", json={"kind": kind},
                           headers=bearer(worker))
        ids[(station["code"], kind)] = resp.get_json()["id"]
    clock.freeze(clock.local(2026, 3, 2, 10, 0))
    client.post(f"/api/v1/admin/stations/reports/{ids[('GL-1', 'other')]}/resolve", json={},
                headers=bearer(gl_manager))
    listed = client.get("/api/v1/admin/stations/reports", headers=bearer(gl_manager)).get_json()
    assert [(r["station_code"], r["kind"], r["status"]) for r in listed["items"]] == [
        ("GL-1", "wrong_location", "open"), ("GL-1", "closed", "open"), ("GL-1", "other", "resolved")]
    assert listed["total"] == 3
    only_open = client.get("/api/v1/admin/stations/reports", query_string={"status": "open"},
                           headers=bearer(gl_manager)).get_json()
    assert only_open["total"] == 2
    hj_report = ids[("HJ-1", "closed")]
    resp = client.post(f"/api/v1/admin/stations/reports/{hj_report}/resolve", json={}, headers=bearer(gl_manager))
    assert resp.status_code == 404
    assert client.get("/api/v1/admin/stations/reports", headers=bearer(admin)).get_json()["total"] == 4
    counts = {s["code"]: s["open_reports"] for s in
              client.get("/api/v1/admin/stations", headers=bearer(admin)).get_json()["items"]}
    assert counts == {"GL-1": 2, "HJ-1": 1}


def test_two_identical_reports_at_once_make_one(pg_app, pg_client):
    admin = staff_token(pg_app, pg_client, "admin")
    station = create(pg_client, admin, "RACE")
    worker = login_worker(pg_client, "erin")
    barrier = threading.Barrier(4)
    statuses = []

    def send():
        c = pg_app.test_client()
        barrier.wait()
        resp = c.post(f"/api/v1/stations/{station['id']}/reports", json={"kind": "closed"}, headers=bearer(worker))
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]


def test_erasing_a_worker_unlinks_their_reports(app, client):
    admin = staff_token(app, client, "admin")
    station = create(client, admin, "E1")
    worker = login_worker(client, "frank")
    client.post(f"/api/v1/stations/{station['id']}/reports", json={"kind": "other", "comment": "我的电话 13800138000"},
                headers=bearer(worker))
    from service import worker_data as registry
    me = client.get("/api/v1/me", headers=bearer(worker)).get_json()
    with app.app_context():
        mine = registry.export_for(me["id"])  # what GET /me/data shows under "station_reports"
    assert mine["station_reports"][0]["comment"].startswith("我的电话")
    assert client.delete("/api/v1/me", headers=bearer(worker)).status_code == 204
    report = client.get("/api/v1/admin/stations/reports", headers=bearer(admin)).get_json()["items"][0]
    assert report["comment"] is None and report["status"] == "open"
