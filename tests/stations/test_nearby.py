"""Finding the nearest open station with water and a charger, from the Redis index or the database."""
from __future__ import annotations

import math

import pytest

from service.common import clock
from service.extensions import redis_store
from service.stations import geo
from tests.helpers import bearer, error_code, staff_token
from tests.stations.support import CENTRE, create, csv_upload, import_file, nearby, offset

MONDAY_NOON = clock.local(2026, 3, 2, 12, 0)


@pytest.fixture
def admin(app, client):
    return staff_token(app, client, "admin")


def test_nearest_first_with_integer_distances(client, admin):
    create(client, admin, "FAR", north_m=2500)
    near = create(client, admin, "NEAR", east_m=120, amenities=["water", "charging"], phone="0514-1234567")
    create(client, admin, "MID", north_m=-800)
    create(client, admin, "OUT", north_m=3200)
    resp = nearby(client, radius_m=3000)
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert [i["name"] for i in items] == ["驿站NEAR", "驿站MID", "驿站FAR"]
    assert [i["distance_m"] for i in items] == [120, 800, 2500]
    first = items[0]
    assert set(first) >= {"id", "name", "address", "lat", "lng", "distance_m", "amenities", "open_now",
                          "opening_hours", "phone"}
    assert first["id"] == near["id"] and first["amenities"] == ["water", "charging"]
    assert first["phone"] == "0514-1234567" and first["opening_hours"] == "24h" and first["open_now"] is True
    assert isinstance(first["distance_m"], int)
    assert [i["name"] for i in nearby(client, limit=2).get_json()["items"]] == ["驿站NEAR", "驿站MID"]


def test_the_radius_is_a_hard_edge(client, admin):
    create(client, admin, "IN", east_m=2990)
    create(client, admin, "EDGE", east_m=-3010)
    names = [i["name"] for i in nearby(client, radius_m=3000).get_json()["items"]]
    assert names == ["驿站IN"]


@pytest.mark.parametrize("params,field", [
    ({"radius_m": 50001}, "radius_m"), ({"radius_m": 0}, "radius_m"), ({"limit": 51}, "limit"),
    ({"limit": 0}, "limit"), ({"lat": 90.5}, "lat"), ({"lat": -91}, "lat"), ({"lng": 180.1}, "lng"),
    ({"lng": -181}, "lng"), ({"lat": "abc"}, "lat"), ({"radius_m": "far"}, "radius_m"),
])
def test_bad_queries_are_422(client, params, field):
    resp = nearby(client, **params)
    assert resp.status_code == 422
    assert error_code(resp) == "validation_error"
    assert field in resp.get_json()["error"]["details"]["fields"]


def test_a_missing_coordinate_and_an_unknown_amenity_are_named(client):
    resp = client.get("/api/v1/stations/nearby", query_string={"lng": 119.4})
    assert resp.status_code == 422 and "lat" in resp.get_json()["error"]["details"]["fields"]
    resp = nearby(client, amenities="water,jacuzzi")
    assert resp.status_code == 422
    assert "jacuzzi" in resp.get_json()["error"]["details"]["fields"]["amenities"][0]


def test_the_largest_radius_and_limit_are_accepted(client, admin):
    create(client, admin, "A", north_m=49000)
    resp = nearby(client, radius_m=50000, limit=50)
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 1
    polar = nearby(client, lat=89.9, lng=0, radius_m=50000)  # beyond what Redis GEO can search from
    assert polar.status_code == 200 and polar.get_json() == {"items": []}


def test_a_far_station_with_the_wanted_amenities_comes_back_past_many_nearer_ones(client, admin):
    """150 nearer stations lack a charger; the one that has it, 2.9 km away, must still be found."""
    rows = [["编码", "名称", "地址", "纬度", "经度", "设施", "开放时间"]]
    for n in range(150):
        lat, lng = offset(north_m=10 + n * 5, east_m=(n % 7) * 10)
        rows.append([f"W{n:03d}", f"饮水点{n}", "测试路", lat, lng, "饮水、休息", "24h"])
    lat, lng = offset(east_m=-2900)
    rows.append(["CHG", "充电驿站", "测试路", lat, lng, "饮水、充电", "24h"])
    resp = import_file(client, admin, csv_upload(rows))
    assert resp.status_code == 200 and resp.get_json()["created"] == 151, resp.get_json()
    for _ in range(2):  # from the database (first query rebuilds the index), then from the index
        items = nearby(client, amenities="water,charging", limit=5).get_json()["items"]
        assert [i["name"] for i in items] == ["充电驿站"]
        assert items[0]["distance_m"] == 2900
    plain = nearby(client, limit=5).get_json()["items"]
    assert len(plain) == 5 and all(i["name"].startswith("饮水点") for i in plain)


def test_open_now_skips_closed_stations_however_many_are_nearer(client, admin):
    rows = [["code", "name", "address", "lat", "lng", "amenities", "opening_hours"]]
    for n in range(120):
        lat, lng = offset(north_m=20 + n * 3)
        rows.append([f"N{n:03d}", f"夜间驿站{n}", "测试路", lat, lng, "water", "20:00-06:00"])
    for n, east in enumerate((1500, 2500)):
        lat, lng = offset(east_m=east)
        rows.append([f"D{n}", f"白天驿站{n}", "测试路", lat, lng, "water", "08:00-18:00"])
    assert import_file(client, admin, csv_upload(rows)).get_json()["created"] == 122
    with clock.frozen(MONDAY_NOON):
        items = nearby(client, open_now="true", limit=3).get_json()["items"]
        assert [i["name"] for i in items] == ["白天驿站0", "白天驿站1"]
        assert all(i["open_now"] for i in items)
        everything = nearby(client, limit=3).get_json()["items"]
        assert [i["open_now"] for i in everything] == [False, False, False]
    with clock.frozen(clock.local(2026, 3, 3, 2, 0)):  # Tuesday 02:00: Monday night's ranges still run
        items = nearby(client, open_now="true", limit=3).get_json()["items"]
        assert [i["name"] for i in items] == ["夜间驿站0", "夜间驿站1", "夜间驿站2"]


def test_a_temporary_closure_makes_the_station_closed_now(client, admin):
    with clock.frozen(MONDAY_NOON):
        create(client, admin, "SHUT", east_m=100, closure={"from": "2026-03-01", "until": "2026-03-03",
                                                           "reason": "装修"})
        create(client, admin, "OPEN", east_m=400)
        items = nearby(client).get_json()["items"]
        assert [(i["name"], i["open_now"]) for i in items] == [("驿站SHUT", False), ("驿站OPEN", True)]
        assert items[0]["closure"] == {"from": "2026-03-01", "until": "2026-03-03", "reason": "装修"}
        assert [i["name"] for i in nearby(client, open_now="true").get_json()["items"]] == ["驿站OPEN"]
    with clock.frozen(clock.local(2026, 3, 4, 0, 0)):
        assert len(nearby(client, open_now="true").get_json()["items"]) == 2


def test_a_redis_flush_gives_the_same_answer_from_the_database_and_the_rebuilt_index(client, admin,
                                                                                    redis_client):
    hours_variety = ["24h", {"mon": ["22:00-06:00"]}, "08:00-18:00", {"mon": ["07:00-11:30", "13:30-21:00"]}]
    amenity_variety = [["water"], ["water", "charging"], ["toilet", "wifi"], ["water", "charging", "rest"]]
    for n in range(40):
        create(client, admin, f"S{n:02d}", north_m=(n * 137) % 2900 - 1450, east_m=(n * 311) % 2900 - 1450,
               opening_hours=hours_variety[n % 4], amenities=amenity_variety[(n // 4) % 4],
               phone=None if n % 5 == 0 else f"0514-8700{n:04d}")
    # two stations at exactly the same distance: the id breaks the tie, on both paths
    create(client, admin, "TIE1", north_m=1000)
    create(client, admin, "TIE2", north_m=-1000)
    queries = [{}, {"limit": 7}, {"amenities": "water,charging"}, {"open_now": "true"},
               {"open_now": "true", "amenities": "charging", "limit": 3}, {"radius_m": 800}]
    with clock.frozen(MONDAY_NOON):
        for query in queries:
            first = nearby(client, **query)      # no ready marker yet: database, and the index is built
            second = nearby(client, **query)     # the index
            redis_client.flushall()
            third = nearby(client, **query)      # database again, rebuilding
            fourth = nearby(client, **query)
            assert [r.headers["X-Stations-Source"] for r in (first, second, third, fourth)] == [
                "database", "index", "database", "index"]
            assert first.data == second.data == third.data == fourth.data, query
            assert first.get_json()["items"], query
            redis_client.flushall()


def test_when_redis_is_unreachable_the_database_answers(app, client, admin, monkeypatch):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    create(client, admin, "X", east_m=300)
    nearby(client)
    assert nearby(client).headers["X-Stations-Source"] == "index"
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(app.extensions["redis"], "client", unreachable)
    resp = nearby(client)
    assert resp.status_code == 200
    assert resp.headers["X-Stations-Source"] == "database"
    assert [i["distance_m"] for i in resp.get_json()["items"]] == [300]


def test_a_large_index_is_rebuilt_in_the_background_while_the_database_answers(app, client, admin,
                                                                               monkeypatch, redis_client):
    for n in range(3):
        create(client, admin, f"B{n}", east_m=100 * (n + 1))
    monkeypatch.setitem(app.config, "STATIONS_INLINE_REBUILD_MAX", 0)
    resp = nearby(client)
    assert resp.headers["X-Stations-Source"] == "database"
    with app.app_context():
        geo.wait_for_background_rebuild(30)
    again = nearby(client)
    assert again.headers["X-Stations-Source"] == "index"
    assert again.data == resp.data
    assert redis_client.exists(geo.READY_KEY)


def test_the_reindex_command_builds_the_index(app, client, admin, redis_client):
    create(client, admin, "R1", east_m=50)
    redis_client.flushall()
    result = app.test_cli_runner().invoke(args=["stations", "reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 1 station" in result.output
    resp = nearby(client)
    assert resp.headers["X-Stations-Source"] == "index"
    assert [i["distance_m"] for i in resp.get_json()["items"]] == [50]


def test_moving_a_station_moves_it_in_the_index_and_deleting_removes_it(client, admin, redis_client):
    station = create(client, admin, "MOVE", east_m=200)
    create(client, admin, "STAY", east_m=900)
    nearby(client)  # builds the index
    assert nearby(client).headers["X-Stations-Source"] == "index"
    far_lat, far_lng = offset(north_m=20000)
    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"lat": far_lat, "lng": far_lng},
                        headers=bearer(admin))
    assert resp.status_code == 200
    here = nearby(client)
    assert here.headers["X-Stations-Source"] == "index"
    assert [i["name"] for i in here.get_json()["items"]] == ["驿站STAY"]
    there = nearby(client, lat=far_lat, lng=far_lng, radius_m=500).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in there] == [("驿站MOVE", 0)]
    lng, lat = redis_client.geopos("stations:geo", station["id"])[0]
    assert abs(lat - far_lat) < 1e-5 and abs(lng - far_lng) < 1e-5

    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"name": "新名字", "amenities": ["wifi"]},
                        headers=bearer(admin))
    assert resp.status_code == 200
    there = nearby(client, lat=far_lat, lng=far_lng, radius_m=500, amenities="wifi").get_json()["items"]
    assert [i["name"] for i in there] == ["新名字"]

    assert client.delete(f"/api/v1/admin/stations/{station['id']}", headers=bearer(admin)).status_code == 204
    assert nearby(client, lat=far_lat, lng=far_lng, radius_m=500).get_json()["items"] == []
    assert redis_client.geopos("stations:geo", station["id"]) == [None]
    assert not redis_client.hexists("stations:rec", station["id"])


def test_nearby_is_rate_limited_per_client(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_NEARBY", "3 per minute")
    statuses = [nearby(client).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert error_code(nearby(client)) == "rate_limited"


def test_the_demo_city_has_open_stations_nearby(app, client):
    from sqlalchemy import func, select

    from models import Organization, db
    from models.station import Station
    from service.stations import demo
    from tests.helpers import make_org

    city_id = make_org(app, "扬州市总工会")
    clock.freeze(MONDAY_NOON)
    with app.app_context():
        city = db.session.get(Organization, city_id)
        for _ in range(2):  # idempotent
            demo.seed({"orgs": {"扬州市总工会": city}, "city": city})
            db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Station)) == len(demo.STATIONS) >= 30
    items = nearby(client, lat=32.394, lng=119.413, open_now="true", limit=5).get_json()["items"]
    assert len(items) == 5
    distances = [i["distance_m"] for i in items]
    assert distances == sorted(distances) and distances[0] < 1000
    assert all(i["open_now"] for i in items)
    everything = nearby(client, lat=32.394, lng=119.413, limit=50, radius_m=50000).get_json()["items"]
    closed_for_works = [i for i in everything if i["closure"]]
    assert len(closed_for_works) == 1 and closed_for_works[0]["open_now"] is False
    assert CENTRE == (32.394, 119.413)


def test_open_now_from_the_index_agrees_with_the_hours_rules_at_the_edges(app, client, admin, redis_client):
    """The index filters opening hours inside Redis; at every edge moment it must keep exactly
    the stations ``hours.is_open`` calls open, as the database path does."""
    from service.stations.hours import is_open, normalise

    variety = {
        "ALWAYS": ("24h", None),
        "MON-NIGHT": ({"mon": ["22:00-06:00"]}, None),
        "SUN-NIGHT": ({"sun": ["22:00-06:00"]}, None),
        "DAY": ("08:00-18:00", None),
        "SPLIT": ({"mon": ["07:00-11:30", "13:30-21:00"], "tue": ["00:00-24:00"]}, None),
        "TO-MIDNIGHT": ({"mon": ["20:00-00:00"]}, None),
        "SHUT": ("24h", {"from": "2026-03-02", "until": "2026-03-03", "reason": "维修"}),
        "SHUT-OPEN-END": ("24h", {"from": "2026-03-03", "until": None, "reason": None}),
        "EMPTY": ({"mon": [], "wed": ["10:00-11:00"]}, None),
    }
    for n, (code, (hours, closure)) in enumerate(variety.items()):
        create(client, admin, code, east_m=100 + n * 50, opening_hours=hours, closure=closure)
    moments = [clock.local(2026, 3, 2, 0, 0), clock.local(2026, 3, 2, 3, 0), clock.local(2026, 3, 2, 7, 59),
               clock.local(2026, 3, 2, 11, 30), clock.local(2026, 3, 2, 21, 59), clock.local(2026, 3, 2, 23, 59),
               clock.local(2026, 3, 3, 5, 59), clock.local(2026, 3, 3, 6, 0), clock.local(2026, 3, 4, 0, 0),
               clock.local(2026, 3, 4, 10, 30), clock.local(2026, 3, 8, 23, 0), clock.local(2026, 3, 9, 5, 0)]
    for moment in moments:
        with clock.frozen(moment):
            expected = sorted(code for code, (hours, closure) in variety.items()
                              if is_open(normalise(hours), closure, moment))
            nearby(client)  # make sure the index exists
            from_index = nearby(client, open_now="true", limit=50)
            assert from_index.headers["X-Stations-Source"] == "index"
            assert sorted(i["name"][2:] for i in from_index.get_json()["items"]) == expected, moment
            redis_client.delete(geo.READY_KEY)
            from_db = nearby(client, open_now="true", limit=50)
            assert from_db.headers["X-Stations-Source"] == "database"
            assert from_db.data == from_index.data, moment


def test_far_stations_are_found_when_nothing_is_near(client, admin):
    create(client, admin, "FAR1", north_m=18000)
    create(client, admin, "FAR2", east_m=-43000)
    create(client, admin, "TOO-FAR", east_m=51000)
    items = nearby(client, radius_m=50000).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("驿站FAR1", 18000), ("驿站FAR2", 43000)]
    assert nearby(client, radius_m=50000).headers["X-Stations-Source"] == "index"
    assert nearby(client, radius_m=17000).get_json()["items"] == []


def test_writes_during_a_rebuild_are_marked_for_replay(app, client, admin, redis_client):
    station = create(client, admin, "DIRTY", east_m=100)
    redis_client.set("stations:geo:lock", "another-process")  # someone else is rebuilding
    client.patch(f"/api/v1/admin/stations/{station['id']}", json={"name": "改名"}, headers=bearer(admin))
    assert redis_client.smembers("stations:geo:dirty") == {str(station["id"]).encode()}
    assert nearby(client).headers["X-Stations-Source"] == "database"  # the other process has the lock
    result = app.test_cli_runner().invoke(args=["stations", "reindex"])
    assert result.exit_code != 0 and "another process" in result.output
    redis_client.delete("stations:geo:lock")
    assert app.test_cli_runner().invoke(args=["stations", "reindex"]).exit_code == 0
    assert not redis_client.exists("stations:geo:dirty")
    assert [i["name"] for i in nearby(client).get_json()["items"]] == ["改名"]


def test_an_index_write_that_failed_after_the_commit_is_replayed(app, client, admin, redis_client):
    station = create(client, admin, "LOST", east_m=100)
    nearby(client)
    redis_client.delete("stations:geo")
    redis_client.set("stations:geo", "not a geo set")  # Redis refuses the index write (WRONGTYPE)
    far_lat, far_lng = offset(north_m=10000)
    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"lat": far_lat, "lng": far_lng},
                        headers=bearer(admin))
    assert resp.status_code == 200  # the database has it; the index update is kept for later
    redis_client.delete("stations:geo")
    resp = nearby(client)
    assert resp.headers["X-Stations-Source"] == "index"
    assert resp.get_json()["items"] == []
    assert [i["name"] for i in nearby(client, lat=far_lat, lng=far_lng).get_json()["items"]] == ["驿站LOST"]


def test_answers_stay_exact_in_dense_and_sparse_places_alike(client, admin, redis_client):
    # A dense cluster, 40 stations within 150 m of the centre (the search stops at its first
    # radius, cut by COUNT), and 3 km east a sparse spread of 24 stations 400–2,900 m out (the
    # radius grows), searched in turn.  Each answer must be the database's.
    for n in range(40):
        create(client, admin, f"D{n:02d}", north_m=(n * 37) % 300 - 150, east_m=(n * 53) % 300 - 150)
    for n in range(24):
        distance, angle = 400 + n * 108, n * 2.4
        create(client, admin, f"S{n:02d}", north_m=distance * math.cos(angle),
               east_m=3000 + distance * math.sin(angle))
    dense, sparse = CENTRE, offset(east_m=3000)
    nearby(client)  # no index yet: the database answers and the index is built
    for lat, lng in (dense, sparse, dense, sparse, sparse, dense):
        from_index = nearby(client, lat=lat, lng=lng)
        redis_client.flushall()
        from_database = nearby(client, lat=lat, lng=lng)
        assert [r.headers["X-Stations-Source"] for r in (from_index, from_database)] == ["index", "database"]
        assert from_index.data == from_database.data
        assert len(from_index.get_json()["items"]) == 20
    assert all(i["name"].startswith("驿站S") for i in nearby(client, lat=sparse[0], lng=sparse[1],
                                                              radius_m=2950).get_json()["items"])


def test_rebuilding_over_a_live_index_swaps_it_whole(app, client, admin, redis_client):
    for n in range(30):
        create(client, admin, f"R{n:02d}", north_m=n * 50, east_m=(n * 71) % 900)
    nearby(client)  # from the database; the index is built
    first = nearby(client)
    with app.app_context():
        assert geo.rebuild() == 30  # over the live index: its keys are unlinked, the new ones renamed in
        # A swap sent again after a timeout finds its built keys gone and leaves the live index alone.
        built = [f"{key}:build:retried" for key in (geo.GEO_KEY, geo.FLT_KEY, geo.REC_KEY)]
        redis_store.script(geo._SWAP_LUA)(keys=built + [geo.GEO_KEY, geo.FLT_KEY, geo.REC_KEY])
    after = nearby(client)
    assert after.headers["X-Stations-Source"] == "index" and after.data == first.data
    assert redis_client.zcard(geo.GEO_KEY) == 30
    assert redis_client.keys("stations:*:build:*") == []
