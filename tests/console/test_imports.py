"""Imports at the console: upload → preview (nothing written) → confirm → imported; the
template links; the imports list and its undo, each within the clerk's reach."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from service.common import clock
from tests.console.conftest import flashes, preview_token, signed_in, upload_and_confirm

STATIONS = ("编码,名称,地址,纬度,经度,开放时间,设施\n"
            "YZ-P-1,一号驿站,扬州市一号路,32.39,119.41,\"08:00-11:30，13:30-21:00\",饮水、充电\n"
            "YZ-P-2,二号驿站,扬州市二号路,32.40,119.42,24h,饮水\n"
            "YZ-P-3,三号驿站,扬州市三号路,119.42,32.40,24h,饮水\n").encode("gbk")
ROSTER = "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n李四,123,广陵环卫所\n".encode()


@pytest.fixture
def stations_clerk(app, client, city):
    return signed_in(app, client, "station_manager", city["district"])


def count(app, model) -> int:
    from models import db
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def staged_keys(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("imports:staged:*"))


def test_a_stations_import_is_previewed_then_confirmed_once(app, city, stations_clerk, redis_client):
    from models.imports import Import
    from models.station import Station

    page = stations_clerk.text("/console/stations/import")
    assert 'href="/console/stations/import-template.xlsx"' in page
    template = stations_clerk.get("/console/stations/import-template.xlsx")
    assert template.status_code == 200 and template.mimetype.endswith("spreadsheetml.sheet")

    resp = stations_clerk.post("/console/stations/import", {"file": (io.BytesIO(STATIONS), "驿站.csv")},
                               content_type="multipart/form-data")
    assert resp.status_code == 200
    preview = resp.get_data(as_text=True)
    assert '<strong class="num-created">2</strong>' in preview and '<strong class="num-errors">1</strong>' in preview
    assert "纬度和经度可能填反了" in preview and "YZ-P-1" in preview and "确认导入" in preview
    assert count(app, Station) == 0 and count(app, Import) == 0  # nothing written yet
    (key,) = staged_keys(redis_client)
    assert 0 < redis_client.pttl(key) <= 1800 * 1000
    assert "一号驿站".encode("gbk") not in redis_client.get(key)  # kept encrypted

    token = preview_token(preview)
    done = stations_clerk.post("/console/stations/import/confirm", {"token": token})
    assert done.status_code == 200
    result = done.get_data(as_text=True)
    assert '<strong class="num-created">2</strong>' in result and 'href="/console/imports/"' in result
    assert count(app, Station) == 2 and count(app, Import) == 1 and staged_keys(redis_client) == []

    again = stations_clerk.post("/console/stations/import/confirm", {"token": token})  # a second click
    assert again.status_code == 409
    assert "预览已过期或文件已导入，请重新上传文件" in flashes(again.get_data(as_text=True))
    assert count(app, Station) == 2 and count(app, Import) == 1


def test_a_preview_expires_and_belongs_to_its_clerk(app, client, city, stations_clerk, redis_client):
    from models.station import Station

    resp = stations_clerk.post("/console/stations/import", {"file": (io.BytesIO(STATIONS), "驿站.csv")},
                               content_type="multipart/form-data")
    token = preview_token(resp.get_data(as_text=True))
    other = signed_in(app, app.test_client(), "station_manager", city["district"])
    stolen = other.post("/console/stations/import/confirm", {"token": token})
    assert stolen.status_code == 409 and count(app, Station) == 0

    (key,) = staged_keys(redis_client)
    redis_client.pexpire(key, 0)  # the preview's time is up
    late = stations_clerk.post("/console/stations/import/confirm", {"token": token})
    assert late.status_code == 409
    assert flashes(late.get_data(as_text=True)) == ["预览已过期或文件已导入，请重新上传文件"]
    assert count(app, Station) == 0

    empty = stations_clerk.post("/console/stations/import", {"file": (io.BytesIO(b"x"), "")},
                                content_type="multipart/form-data")
    assert empty.status_code == 422


def test_a_roster_import_is_previewed_then_confirmed(app, client, city):
    from models.breakfast import RosterEntry

    clerk = signed_in(app, client, "breakfast_manager", city["root"])
    assert 'href="/console/breakfast/roster/import-template.xlsx"' in clerk.text("/console/breakfast/roster")
    resp = clerk.post("/console/breakfast/roster", {"file": (io.BytesIO(ROSTER), "名册.csv")},
                      content_type="multipart/form-data")
    preview = resp.get_data(as_text=True)
    assert '<strong class="num-created">1</strong>' in preview and "139****0001" in preview
    assert "13952710001" not in preview and count(app, RosterEntry) == 0
    done = clerk.post("/console/breakfast/roster/confirm", {"token": preview_token(preview)})
    assert '<strong class="num-created">1</strong>' in done.get_data(as_text=True) and count(app, RosterEntry) == 1
    nothing = clerk.post("/console/breakfast/roster", {"file": (io.BytesIO(b"\xd0\xd5\xc3\xfb,\xca\xd6\xbb\xfa\xba\xc5,"
                                                                           b"\xb5\xa5\xce\xbb\nx,1,y\n"), "gbk.csv")},
                         content_type="multipart/form-data")
    page = nothing.get_data(as_text=True)
    assert preview_token(page) is None and "文件中没有可导入的行" in page


def test_the_imports_page_lists_and_undoes_within_reach(app, client, city, stations_clerk):
    from models.station import Station

    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    upload_and_confirm(stations_clerk, "/console/stations/import", STATIONS, "三月驿站.csv")
    breakfast = signed_in(app, app.test_client(), "breakfast_manager", city["root"])
    upload_and_confirm(breakfast, "/console/breakfast/roster", ROSTER, "名册.csv")

    page = stations_clerk.text("/console/imports/")
    assert "三月驿站.csv" in page and "名册.csv" not in page and "撤销" in page
    assert "data-confirm=\"确定撤销这次导入吗？新增的 2 条将被删除" in page
    roster_page = breakfast.text("/console/imports/")
    assert "名册.csv" in roster_page and "三月驿站.csv" not in roster_page
    other = signed_in(app, app.test_client(), "station_manager", city["other"])
    assert "三月驿站.csv" not in other.text("/console/imports/")

    from models import db
    from models.imports import Import
    with app.app_context():
        import_id = db.session.scalar(select(Import.id).where(Import.kind == "stations"))
    assert other.post(f"/console/imports/{import_id}/undo").status_code == 404
    clock.advance(minutes=5)
    resp = stations_clerk.post(f"/console/imports/{import_id}/undo", {"back": "/console/imports/"})
    assert resp.status_code == 302
    page = stations_clerk.text(resp.headers["Location"])
    assert "已撤销：删除新增的 2 条，恢复被更新的 0 条" in flashes(page) and "已撤销" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Station).where(Station.deleted_at.is_(None))) == 0
    resp = stations_clerk.post(f"/console/imports/{import_id}/undo", {"back": "/console/imports/"})
    assert "该次导入已经撤销过了" in flashes(stations_clerk.text(resp.headers["Location"]))
    assert "导入记录" in page  # the menu entry
