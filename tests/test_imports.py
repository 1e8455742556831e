"""Recorded imports and their undo (docs/contract.md §5): stations and roster alike, the rows
changed since left alone and named, the window, the scope, erasure, and two undos at once."""
from __future__ import annotations

import io
import threading
from collections import Counter

from sqlalchemy import func, select

from service.common import clock
from tests.breakfast.helpers import quick_staff_token, roster_csv
from tests.breakfast.helpers import upload as roster_upload
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org
from tests.stations.support import create, csv_upload, import_file, nearby, offset

T0 = clock.local(2026, 3, 2, 9, 0)
HEADER = ["编码", "名称", "地址", "纬度", "经度", "设施", "开放时间"]


def imports(client, token, **params):
    resp = client.get("/api/v1/admin/imports", query_string=params, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def undo(client, token, import_id):
    return client.post(f"/api/v1/admin/imports/{import_id}/undo", headers=bearer(token))


def station_row(code, name, east_m=0.0, amenities="饮水", hours="24h"):
    lat, lng = offset(east_m=east_m)
    return [code, name, "广陵区测试路", lat, lng, amenities, hours]


def test_undoing_a_stations_import_retires_what_it_created_and_restores_what_it_updated(app, client):
    clock.freeze(T0)
    city = make_org(app, "扬州市总工会")
    manager = quick_staff_token(app, "station_manager", city)
    kept = create(client, manager, "YZ-1", east_m=100, name="文昌阁驿站", amenities=["water"],
                  opening_hours="24h", phone="0514-1")
    clock.advance(minutes=5)
    rows = [HEADER,
            station_row("YZ-1", "文昌阁驿站（新）", east_m=150, amenities="充电", hours="08:00-11:30, 13:30-21:00"),
            station_row("YZ-2", "新驿站甲", east_m=200),
            station_row("YZ-3", "新驿站乙", east_m=300),
            station_row("YZ-4", "坏驿站", east_m=400, hours="全年")]
    result = import_file(client, manager, csv_upload(rows, name="三月驿站.csv")).get_json()
    assert (result["created"], result["updated"], len(result["errors"])) == (2, 1, 1)
    assert [i["name"] for i in nearby(client).get_json()["items"]] == ["文昌阁驿站（新）", "新驿站甲", "新驿站乙"]

    listed = imports(client, manager)
    assert listed["total"] == 1
    entry = listed["items"][0]
    assert entry["id"] == result["import_id"] and entry["kind"] == "stations" and entry["organization_id"] == city
    assert (entry["filename"], entry["created"], entry["updated"], entry["refused"]) == ("三月驿站.csv", 2, 1, 1)
    assert entry["status"] == "done" and entry["can_undo"] is True
    assert entry["actor"].startswith("station_manager_")
    assert entry["created_at"] == "2026-03-02T09:05:00+08:00" and entry["undo_until"] == "2026-03-09T09:05:00+08:00"

    # A clerk corrects one of the new stations afterwards: the undo leaves that one alone.
    clock.advance(minutes=10)
    changed = client.get("/api/v1/admin/stations", query_string={"q": "YZ-3"}, headers=bearer(manager))
    sid3 = changed.get_json()["items"][0]["id"]
    assert client.patch(f"/api/v1/admin/stations/{sid3}", json={"phone": "0514-3"},
                        headers=bearer(manager)).status_code == 200

    clock.advance(minutes=10)
    resp = undo(client, manager, result["import_id"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"import_id": result["import_id"], "removed": 1, "restored": 1, "skipped": [
        {"row": 4, "message": "第 4 行：驿站“YZ-3”在导入后又被修改过，未撤销"}]}

    restored = client.get(f"/api/v1/stations/{kept['id']}").get_json()
    assert (restored["name"], restored["amenities"], restored["opening_hours"], restored["phone"]) == \
        ("文昌阁驿站", ["water"], "24h", "0514-1")
    assert (restored["lat"], restored["lng"]) == (kept["lat"], kept["lng"])
    items = nearby(client).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("文昌阁驿站", 100), ("新驿站乙", 300)]
    gone = [s for s in client.get("/api/v1/stations", query_string={"updated_since": "2026-03-02T09:20:00"})
            .get_json()["items"] if s.get("deleted")]
    assert len(gone) == 1  # the offline caches learn of the retired station

    entry = imports(client, manager)["items"][0]
    assert (entry["status"], entry["removed"], entry["restored"], entry["skipped"]) == ("undone", 1, 1, 1)
    assert entry["can_undo"] is False and entry["undone_at"] == "2026-03-02T09:25:00+08:00"
    again = undo(client, manager, result["import_id"])
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    assert again.get_json()["error"]["message"] == "该次导入已经撤销过了"

    admin = quick_staff_token(app, "admin", city)
    log = client.get("/api/v1/admin/audit-log", query_string={"action": "import.undo"},
                     headers=bearer(admin)).get_json()["items"]
    assert [(e["target_id"], e["details"]["removed"], e["details"]["skipped"]) for e in log] == \
        [(str(result["import_id"]), 1, 1)]


def test_an_import_can_be_undone_for_seven_days_only(app, client):
    clock.freeze(T0)
    manager = quick_staff_token(app, "station_manager", make_org(app, "扬州市总工会"))
    first = import_file(client, manager, csv_upload([HEADER, station_row("W-1", "甲", 100)])).get_json()
    clock.advance(days=6, hours=23)
    second = import_file(client, manager, csv_upload([HEADER, station_row("W-2", "乙", 200)])).get_json()
    clock.advance(hours=1, seconds=1)
    resp = undo(client, manager, first["import_id"])
    assert resp.status_code == 409 and error_code(resp) == "undo_window_closed"
    assert resp.get_json()["error"]["message"] == "该次导入已超过可撤销的期限"
    assert [i["can_undo"] for i in imports(client, manager)["items"]] == [True, False]
    assert undo(client, manager, second["import_id"]).get_json()["removed"] == 1
    assert [i["name"] for i in nearby(client).get_json()["items"]] == ["甲"]


def test_imports_are_listed_and_undone_within_reach_only(app, client):
    city = make_org(app, "扬州市总工会")
    gl = make_org(app, "广陵区总工会", city)
    hj = make_org(app, "邗江区总工会", city)
    city_stations = quick_staff_token(app, "station_manager", city)
    gl_stations = quick_staff_token(app, "station_manager", gl)
    hj_stations = quick_staff_token(app, "station_manager", hj)
    gl_breakfast = quick_staff_token(app, "breakfast_manager", gl)
    federation = quick_staff_token(app, "admin", None)

    in_gl = import_file(client, city_stations, csv_upload([HEADER, station_row("S-1", "甲", 100)]),
                        organization_id=gl).get_json()
    federal = import_file(client, federation, csv_upload([HEADER, station_row("S-2", "乙", 200)])).get_json()
    roster = roster_upload(client, gl_breakfast, roster_csv([("王建国", "13952710001", "广陵环卫所", "")])).get_json()

    assert [i["id"] for i in imports(client, gl_stations)["items"]] == [in_gl["import_id"]]
    assert imports(client, hj_stations)["total"] == 0
    assert [i["kind"] for i in imports(client, gl_breakfast)["items"]] == ["roster"]
    assert [i["kind"] for i in imports(client, federation)["items"]] == ["roster", "stations", "stations"]
    assert [i["id"] for i in imports(client, federation, kind="stations")["items"]] == \
        [federal["import_id"], in_gl["import_id"]]
    assert [i["kind"] for i in imports(client, city_stations)["items"]] == ["stations"]

    for token, import_id in ((hj_stations, in_gl["import_id"]), (gl_stations, federal["import_id"]),
                             (gl_breakfast, in_gl["import_id"]), (gl_stations, roster["import_id"]),
                             (gl_stations, 2 ** 31 - 1)):
        resp = undo(client, token, import_id)
        assert resp.status_code == 404 and error_code(resp) == "not_found"
    assert undo(client, gl_stations, in_gl["import_id"]).status_code == 200
    worker = login_worker(client, "curious")
    assert client.get("/api/v1/admin/imports", headers=bearer(worker)).status_code == 403


def _roster(client, token, **params):
    """The roster as staff search it (by POST: a phone never goes in a URL)."""
    return client.post("/api/v1/admin/breakfast/roster/search", json=params, headers=bearer(token)).get_json()


def test_undoing_a_roster_import(app, client):
    from tests.breakfast.test_roster import valid_id

    clock.freeze(T0)
    org = make_org(app, "扬州市总工会")
    staff = quick_staff_token(app, "breakfast_manager", org)
    first = roster_upload(client, staff, roster_csv([("王建国", "13952710001", "旧单位", ""),
                                                     ("李桂兰", "13952710002", "旧单位", "")])).get_json()
    clock.advance(minutes=5)
    id_number = valid_id()
    second = roster_upload(client, staff, roster_csv([
        ("王建国", "13952710001", "扬州市环境卫生管理处", id_number),  # row 2: updated
        ("张德福", "13952710003", "扬州市环境卫生管理处", ""),  # row 3: created
        ("刘秀英", "13952710004", "扬州市环境卫生管理处", ""),  # row 4: created, then claimed
        ("李桂兰", "13952710002", "新单位", ""),  # row 5: updated
    ])).get_json()
    assert (second["created"], second["updated"]) == (2, 2)
    assert [(r["row"], r["action"], r["key"]) for r in second["rows"]] == [
        (2, "updated", "139****0001"), (3, "created", "139****0003"), (4, "created", "139****0004"),
        (5, "updated", "139****0002")]

    clock.advance(minutes=5)
    worker = login_worker(client, "liu")
    bind_phone(client, worker, "13952710004")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    entry_id = _roster(client, staff, q="13952710002")["items"][0]["id"]
    assert client.patch(f"/api/v1/admin/breakfast/roster/{entry_id}", json={"active": False},
                        headers=bearer(staff)).status_code == 200

    clock.advance(minutes=5)
    resp = undo(client, staff, second["import_id"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["removed"], body["restored"]) == (1, 1)
    assert [s["row"] for s in body["skipped"]] == [4, 5]
    assert body["skipped"][0]["message"] == "第 4 行：名册记录在导入后又有变动（如职工已认证、已停用），未撤销"

    listing = {e["phone"]: e for e in _roster(client, staff)["items"]}
    assert set(listing) == {"139****0001", "139****0002", "139****0004"}  # 张德福 is gone
    assert (listing["139****0001"]["employer"], listing["139****0001"]["id_number"]) == ("旧单位", None)
    assert listing["139****0002"]["employer"] == "新单位" and listing["139****0002"]["active"] is False
    assert client.get("/api/v1/me", headers=bearer(worker)).get_json()["breakfast_eligible"] is True

    # The first import's entries were changed by the second: nothing of it is undone.
    body = undo(client, staff, first["import_id"]).get_json()
    assert (body["removed"], body["restored"], len(body["skipped"])) == (0, 0, 2)


def test_erasing_a_worker_wipes_what_imports_kept_of_their_entry(app, client):
    from models import db
    from models.imports import ImportItem

    clock.freeze(T0)
    org = make_org(app, "扬州市总工会")
    staff = quick_staff_token(app, "breakfast_manager", org)
    roster_upload(client, staff, roster_csv([("旧名标记甲", "13952710001", "旧单位标记乙", "")]))
    clock.advance(minutes=1)
    second = roster_upload(client, staff, roster_csv([("王建国", "13952710001", "环卫处", "")])).get_json()
    with app.app_context():
        kept = db.session.scalars(select(ImportItem.before).where(ImportItem.action == "updated")).all()
    assert kept == [{"name": "旧名标记甲", "employer": "旧单位标记乙"}]

    clock.advance(minutes=1)
    worker = login_worker(client, "wang")
    bind_phone(client, worker, "13952710001")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    assert client.delete("/api/v1/me", headers=bearer(worker)).status_code == 204
    with app.app_context():
        assert db.session.scalars(select(ImportItem.before).where(ImportItem.action == "updated")).all() == [None]
    body = undo(client, staff, second["import_id"]).get_json()
    assert (body["restored"], body["skipped"]) == (0, [{"row": 2, "message": "第 2 行：名册记录已被删除，未撤销"}])


def test_two_undos_at_once_undo_once(pg_app, pg_client):
    from models import AuditLog, db
    from models.station import Station

    manager = quick_staff_token(pg_app, "station_manager", make_org(pg_app, "扬州市总工会"))
    rows = [HEADER] + [station_row(f"R-{n}", f"驿站{n}", east_m=10 * n) for n in range(200)]
    result = import_file(pg_client, manager, csv_upload(rows)).get_json()
    assert result["created"] == 200
    barrier = threading.Barrier(2)
    outcomes = []

    def race():
        client = pg_app.test_client()
        barrier.wait()
        resp = undo(client, manager, result["import_id"])
        outcomes.append((resp.status_code, resp.get_json().get("removed") if resp.status_code == 200
                         else error_code(resp)))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert Counter(outcomes) == {(200, 200): 1, (409, "invalid_state"): 1}, outcomes
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Station).where(Station.deleted_at.is_(None))) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "import.undo")) == 1
    assert nearby(pg_client).get_json()["items"] == []


def test_a_bad_import_of_65000_stations_is_undone_in_one_call(pg_app, pg_client):
    """More rows than PostgreSQL takes parameters in one statement (65,535): the undo batches."""
    from models import db
    from models.station import Station

    manager = quick_staff_token(pg_app, "station_manager", make_org(pg_app, "扬州市总工会"))
    lines = ["编码,名称,地址,纬度,经度,开放时间"]
    for n in range(65000):
        lat, lng = offset(north_m=(n // 250) * 20, east_m=(n % 250) * 20)
        lines.append(f"BIG-{n:05d},驿站{n},测试路,{lat},{lng},24h")
    result = import_file(pg_client, manager, (io.BytesIO("\n".join(lines).encode()), "big.csv")).get_json()
    assert (result["created"], result["errors"]) == (65000, [])

    resp = undo(pg_client, manager, result["import_id"])
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["removed"], resp.get_json()["skipped"]) == (65000, [])
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Station).where(Station.deleted_at.is_(None))) == 0
    assert nearby(pg_client, limit=5).get_json()["items"] == []
