"""Stations at the console: search, create/edit with opening hours, import, reports."""
from __future__ import annotations

import io

import pytest

from tests.console.conftest import api_token, flashes, signed_in, upload_and_confirm
from tests.helpers import bearer, login_worker
from tests.stations.support import create as api_create

NEW = {"code": "YZ-GL-001", "name": "文昌阁驿站", "address": "扬州市广陵区文昌中路 1 号", "lat": "32.394",
       "lng": "119.413", "phone": "0514-87000000", "amenities": ["water", "charging"], "hours_mode": "daily",
       "hours_daily": "07:00-12:00, 13:00-21:00", "organization_id": ""}


@pytest.fixture
def manager(app, client, city):
    return signed_in(app, client, "station_manager", city["district"])


def station_id(app, code):
    from sqlalchemy import select

    from models import db
    from models.station import Station
    with app.app_context():
        return db.session.scalar(select(Station.id).where(Station.code == code))


def test_create_and_edit_a_station_with_opening_hours(app, client, city, manager):
    resp = manager.post("/console/stations/new", NEW)
    assert resp.status_code == 302, flashes(resp.get_data(as_text=True))
    assert "已新建驿站“文昌阁驿站”" in flashes(manager.text(resp.headers["Location"]))
    sid = station_id(app, "YZ-GL-001")
    public = client.get(f"/api/v1/stations/{sid}").get_json()
    assert public["opening_hours"]["sat"] == ["07:00-12:00", "13:00-21:00"]
    assert public["amenities"] == ["water", "charging"]
    form = manager.text(f"/console/stations/{sid}/edit")
    assert 'value="07:00-12:00, 13:00-21:00"' in form and 'value="charging" checked' in form

    edited = dict(NEW, hours_mode="weekly", hours_mon="08:00-18:00", hours_sun="22:00-06:00",
                  amenities=["nursing_room"], closure_from="2026-03-05", closure_until="2026-03-06",
                  closure_reason="设备检修")
    resp = manager.post(f"/console/stations/{sid}/edit", edited)
    assert resp.status_code == 302
    public = client.get(f"/api/v1/stations/{sid}").get_json()
    assert public["opening_hours"]["mon"] == ["08:00-18:00"] and public["opening_hours"]["tue"] == []
    assert public["opening_hours"]["sun"] == ["22:00-06:00"]
    assert public["closure"] == {"from": "2026-03-05", "until": "2026-03-06", "reason": "设备检修"}
    assert public["amenities"] == ["nursing_room"]


def test_a_bad_form_comes_back_with_what_was_typed_and_the_messages(app, client, city, manager):
    manager.post("/console/stations/new", NEW)
    resp = manager.post("/console/stations/new", dict(NEW, name="另一个驿站"))
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "驿站编码已被使用，请换一个编码" in flashes(page) and 'value="另一个驿站"' in page
    resp = manager.post("/console/stations/new", dict(NEW, code="YZ-2", lat="120", hours_daily="25:00-26:00"))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "纬度应在 -85.05 到 85.05 之间" in page
    assert station_id(app, "YZ-2") is None


def test_search_and_a_station_outside_the_scope(app, client, city, manager):
    api_create(client, api_token(app, "station_manager", city["district"]), "YZ-A", name="东关驿站")
    api_create(client, api_token(app, "station_manager", city["other"]), "YZ-B", name="邗江驿站")
    page = manager.text("/console/stations/?q=东关")
    assert "东关驿站" in page and "邗江驿站" not in page
    assert "邗江驿站" not in manager.text("/console/stations/")
    assert manager.get(f"/console/stations/{station_id(app, 'YZ-B')}/edit").status_code == 404
    assert manager.post(f"/console/stations/{station_id(app, 'YZ-B')}/delete").status_code == 404


def test_import_shows_the_result_of_every_row(app, client, city, manager):
    content = ("编码,名称,地址,纬度,经度,开放时间,设施\n"
               "YZ-I-1,一号驿站,扬州市一号路,32.39,119.41,24h,饮水、充电\n"
               "YZ-I-2,二号驿站,扬州市二号路,不是数字,119.41,24h,饮水\n").encode()
    resp = upload_and_confirm(manager, "/console/stations/import", content, "stations.csv")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert '<strong class="num-created">1</strong>' in page
    assert '<strong class="num-errors">1</strong>' in page and "<td>3</td>" in page
    assert station_id(app, "YZ-I-1") is not None and station_id(app, "YZ-I-2") is None
    resp = manager.post("/console/stations/import", {"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                        content_type="multipart/form-data")
    assert resp.status_code == 422 and "缺少必需的列" in resp.get_data(as_text=True)


def test_workers_reports_are_resolved_from_the_console(app, client, city, manager):
    station = api_create(client, api_token(app, "station_manager", city["district"]), "YZ-R", name="汶河驿站")
    worker = login_worker(client, "rider")
    resp = client.post(f"/api/v1/stations/{station['id']}/reports", json={"kind": "facility_broken",
                                                                           "comment": "饮水机坏了"},
                       headers=bearer(worker))
    assert resp.status_code == 201
    report_id = resp.get_json()["id"]
    dashboard = manager.text("/console/")
    assert "待处理的驿站反馈" in dashboard and "汶河驿站：设施损坏" in dashboard
    page = manager.text("/console/stations/reports")
    assert "饮水机坏了" in page and "标记已处理" in page
    resp = manager.post(f"/console/stations/reports/{report_id}/resolve",
                        {"note": "已更换饮水机", "back": "/console/stations/reports"})
    assert "反馈已标记为已处理" in flashes(manager.text(resp.headers["Location"]))
    assert "饮水机坏了" not in manager.text("/console/stations/reports")
    assert "已更换饮水机" in manager.text("/console/stations/reports?status=all")


def test_the_form_reads_hours_with_the_imports_grammar(app, client, city, manager):
    typed = dict(NEW, hours_mode="weekly", hours_mon="8:00～11:30，13:30至21:00", hours_sat="22:00-次日06:00")
    resp = manager.post("/console/stations/new", typed)
    assert resp.status_code == 302, flashes(resp.get_data(as_text=True))
    public = client.get(f"/api/v1/stations/{station_id(app, 'YZ-GL-001')}").get_json()
    assert public["opening_hours"]["mon"] == ["08:00-11:30", "13:30-21:00"]
    assert public["opening_hours"]["sat"] == ["22:00-06:00"] and public["opening_hours"]["tue"] == []
    resp = manager.post("/console/stations/new", dict(NEW, code="YZ-GL-002", hours_daily="8点-20点"))
    assert resp.status_code == 422 and "时间段“8点-20点”格式不正确" in resp.get_data(as_text=True)
    api = api_token(app, "station_manager", city["district"])
    created = client.post("/api/v1/admin/stations", headers=bearer(api), json={
        "code": "YZ-API", "name": "接口驿站", "address": "扬州", "lat": 32.39, "lng": 119.41,
        "opening_hours": "07:00-11:30、13:30-21:00"})
    assert created.status_code == 201 and created.get_json()["opening_hours"]["sun"] == ["07:00-11:30", "13:30-21:00"]


def test_a_place_outside_china_is_saved_once_the_clerk_confirms_it(app, client, city, manager):
    abroad = dict(NEW, lat="35.6812", lng="139.7671")  # Tokyo: a slip of the map, or a real station abroad
    resp = manager.post("/console/stations/new", abroad)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "不在中国境内" in flashes(page)[0] and 'value="35.6812"' in page
    assert 'name="confirm_outside_area"' in page and "坐标无误，确认保存" in page  # offered only now
    assert station_id(app, NEW["code"]) is None
    resp = manager.post("/console/stations/new", dict(abroad, confirm_outside_area="1"))
    assert resp.status_code == 302, flashes(resp.get_data(as_text=True))
    sid = station_id(app, NEW["code"])
    assert client.get(f"/api/v1/stations/{sid}").get_json()["lat"] == 35.6812
    form = manager.text(f"/console/stations/{sid}/edit")
    assert 'name="confirm_outside_area"' not in form  # a plain edit form again
