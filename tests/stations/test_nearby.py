"""Finding the nearest open station with water and a charger: the same answer on PostgreSQL and SQLite."""
from __future__ import annotations

import pytest
from sqlalchemy import null, update

from models import db
from models.station import Station
from service.common import clock
from tests.conftest import _migrate, _session_app, build_app, clean
from tests.helpers import bearer, error_code, staff_token
from tests.stations.support import CENTRE, create, csv_upload, import_file, nearby, offset
from tests.support.servers import RedisServer
from tests.test_faults import own_pg

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
    polar = nearby(client, lat=89.9, lng=0, radius_m=50000)  # near the pole: no station, and no error
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


def test_when_redis_is_down_the_database_still_answers(app, client, admin, fake_wechat_url):
    """A Redis of its own, stopped: the per-client limit cannot be counted and is let pass, and the
    answer comes from the database as ever."""
    create(client, admin, "X", east_m=300, amenities=["water", "charging"])
    create(client, admin, "Y", north_m=-700)
    own_redis = RedisServer().start(appendonly=False)
    try:
        other = build_app(app.config["SQLALCHEMY_DATABASE_URI"], own_redis.url, fake_wechat_url,
                          RATELIMIT_NEARBY="2 per minute")
        worker = other.test_client()
        assert [nearby(worker).status_code for _ in range(3)] == [200, 200, 429]
        own_redis.stop()
        answers = [nearby(worker, amenities="charging") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [(i["name"], i["distance_m"]) for i in answers[0].get_json()["items"]] == [("驿站X", 300)]
        assert [i["distance_m"] for i in nearby(worker).get_json()["items"]] == [300, 700]
    finally:
        own_redis.stop()


@pytest.mark.postgres
def test_a_postgresql_restart_costs_one_503_then_the_pool_recovers(redis_server, fake_wechat_url):
    pg = own_pg()
    try:
        other = build_app(pg.create_database("nearby"), redis_server.url, fake_wechat_url)
        _migrate(other)
        worker = other.test_client()
        create(worker, staff_token(other, worker, "admin"), "X", east_m=300)
        assert [i["distance_m"] for i in nearby(worker).get_json()["items"]] == [300]
        pg.restart()  # the pooled connection, used a moment ago, is not pinged: it fails in use
        lost = nearby(worker)
        assert lost.status_code == 503 and error_code(lost) == "database_unavailable"
        assert "psycopg" not in lost.get_data(as_text=True)
        assert [[i["distance_m"] for i in nearby(worker).get_json()["items"]] for _ in range(3)] == [[300]] * 3
    finally:
        pg.stop()


def test_moving_retiming_and_deleting_a_station_show_in_the_next_search(client, admin):
    station = create(client, admin, "MOVE", east_m=200)
    create(client, admin, "STAY", east_m=900)
    far_lat, far_lng = offset(north_m=20000)
    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"lat": far_lat, "lng": far_lng},
                        headers=bearer(admin))
    assert resp.status_code == 200
    assert [i["name"] for i in nearby(client).get_json()["items"]] == ["驿站STAY"]
    there = nearby(client, lat=far_lat, lng=far_lng, radius_m=500).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in there] == [("驿站MOVE", 0)]

    resp = client.patch(f"/api/v1/admin/stations/{station['id']}",
                        json={"name": "新名字", "amenities": ["wifi"], "opening_hours": "08:00-18:00"},
                        headers=bearer(admin))
    assert resp.status_code == 200
    with clock.frozen(MONDAY_NOON):
        there = nearby(client, lat=far_lat, lng=far_lng, radius_m=500, amenities="wifi", open_now="true")
        assert [(i["name"], i["open_now"]) for i in there.get_json()["items"]] == [("新名字", True)]
    with clock.frozen(clock.local(2026, 3, 2, 18, 0)):
        assert nearby(client, lat=far_lat, lng=far_lng, radius_m=500, open_now="true").get_json()["items"] == []
        assert nearby(client, lat=far_lat, lng=far_lng, radius_m=500).get_json()["items"][0]["open_now"] is False

    assert client.delete(f"/api/v1/admin/stations/{station['id']}", headers=bearer(admin)).status_code == 204
    assert nearby(client, lat=far_lat, lng=far_lng, radius_m=500).get_json()["items"] == []


def test_equal_distances_to_the_metre_come_in_id_order(client, admin):
    first = create(client, admin, "TIE-A", north_m=1000)
    second = create(client, admin, "TIE-B", north_m=-1000)
    third = create(client, admin, "TIE-C", east_m=1000.2)
    create(client, admin, "NEAR", east_m=10)
    same_place = [create(client, admin, f"SAME-{n}", east_m=-400) for n in range(8)]
    items = nearby(client).get_json()["items"]
    assert [(i["id"], i["distance_m"]) for i in items] == [
        (items[0]["id"], 10), *[(s["id"], 400) for s in same_place],
        (first["id"], 1000), (second["id"], 1000), (third["id"], 1000)]
    # the limit falls inside a tie, one wider than the matches fetched beyond the limit: the lower ids are answered
    assert [i["id"] for i in nearby(client, limit=3).get_json()["items"]][1:] == [s["id"] for s in same_place[:2]]
    assert [i["id"] for i in nearby(client, limit=10).get_json()["items"]][9:] == [first["id"]]
    assert [i["id"] for i in nearby(client, limit=11).get_json()["items"]][9:] == [first["id"], second["id"]]


def test_nearby_is_rate_limited_per_client(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_NEARBY", "3 per minute")
    statuses = [nearby(client).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = nearby(client)
    assert error_code(refused) == "rate_limited"
    assert refused.get_json()["error"]["message"] == "操作太频繁，请稍后再试"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # another client address has its own allowance, and a refused request is not a search
    other = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/api/v1/stations/nearby", query_string={"lat": CENTRE[0], "lng": CENTRE[1]},
                      environ_base=other).status_code == 200
    assert nearby(client, lat=95).status_code == 429  # counted before the arguments are read


def test_behind_a_proxy_the_nearby_limit_counts_the_forwarded_client(sqlite_url, redis_server, fake_wechat_url,
                                                                     redis_client):
    proxied = build_app(sqlite_url, redis_server.url, fake_wechat_url, PROXY_HOPS=1, RATELIMIT_NEARBY="2 per minute")
    _migrate(proxied)
    clean(proxied, redis_client)
    client = proxied.test_client()

    def from_(address):
        return client.get("/api/v1/stations/nearby", query_string={"lat": CENTRE[0], "lng": CENTRE[1]},
                          headers={"X-Forwarded-For": f"198.51.100.1, {address}"}).status_code

    assert [from_("192.0.2.10") for _ in range(3)] == [200, 200, 429]
    assert from_("192.0.2.11") == 200  # the address the proxy saw, not the one the client wrote first


def test_a_nearby_search_is_one_redis_round_trip(app, client, redis_client):
    assert nearby(client).status_code == 200  # the script is loaded
    redis_client.config_resetstat()
    assert nearby(client).status_code == 200
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in redis_client.info("commandstats").items()}
    for ours in ("config|resetstat", "config", "info"):
        calls.pop(ours, None)
    assert calls == {"evalsha": 1, "incr": 1}, calls


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


def test_open_now_agrees_with_the_hours_rules_at_the_edges(app, client, admin):
    """At every edge moment the filter keeps exactly the stations ``hours.is_open`` calls open, and every
    item's ``open_now`` says the same (on PostgreSQL the filter reads the generated ``open_week``)."""
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
        "SAT-LATE": ({"sat": ["23:59-00:01"], "sun": ["00:00-00:01"]}, None),
    }
    for n, (code, (hours, closure)) in enumerate(variety.items()):
        create(client, admin, code, east_m=100 + n * 50, opening_hours=hours, closure=closure)
    # A closure written as SQL NULL rather than JSON null (a row loaded with SQL, restored, or older) closes nothing.
    with app.app_context():
        db.session.execute(update(Station).where(Station.code.in_(["ALWAYS", "DAY"])).values(closure=null()))
        db.session.commit()
    moments = [clock.local(2026, 3, 2, 0, 0), clock.local(2026, 3, 2, 3, 0), clock.local(2026, 3, 2, 7, 59),
               clock.local(2026, 3, 2, 11, 30), clock.local(2026, 3, 2, 21, 59), clock.local(2026, 3, 2, 23, 59),
               clock.local(2026, 3, 3, 5, 59), clock.local(2026, 3, 3, 6, 0), clock.local(2026, 3, 4, 0, 0),
               clock.local(2026, 3, 4, 10, 30), clock.local(2026, 3, 7, 23, 59), clock.local(2026, 3, 8, 0, 0),
               clock.local(2026, 3, 8, 23, 0), clock.local(2026, 3, 9, 5, 0), clock.local(2026, 3, 9, 6, 0)]
    for moment in moments:
        with clock.frozen(moment):
            expected = sorted(code for code, (hours, closure) in variety.items()
                              if is_open(normalise(hours), closure, moment))
            filtered = nearby(client, open_now="true", limit=50).get_json()["items"]
            assert sorted(i["name"][2:] for i in filtered) == expected, moment
            everything = nearby(client, limit=50).get_json()["items"]
            assert sorted(i["name"][2:] for i in everything if i["open_now"]) == expected, moment
            assert len(everything) == len(variety)


def test_far_stations_are_found_when_nothing_is_near(client, admin):
    create(client, admin, "FAR1", north_m=18000)
    create(client, admin, "FAR2", east_m=-43000)
    create(client, admin, "TOO-FAR", east_m=51000)
    items = nearby(client, radius_m=50000).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("驿站FAR1", 18000), ("驿站FAR2", 43000)]
    assert nearby(client, radius_m=17000).get_json()["items"] == []


# --- PostgreSQL and SQLite give the same answer -----------------------------------------

@pytest.fixture
def both(request, redis_client):
    """The PostgreSQL app and the SQLite app, each from empty tables, with an admin token on each."""
    applications = {kind: _session_app(kind, request) for kind in ("postgres", "sqlite")}
    for application in applications.values():
        clean(application, redis_client)  # empties Redis too: the tokens come after
    apps = {}
    for kind, application in applications.items():
        client = application.test_client()
        apps[kind] = (client, staff_token(application, client, "admin"))
    yield apps
    clock.freeze(None)


@pytest.mark.postgres
def test_postgresql_and_sqlite_give_the_same_answers(both):
    hours_variety = ["24h", {"mon": ["22:00-06:00"]}, "08:00-18:00", {"mon": ["07:00-11:30", "13:30-21:00"]},
                     {"sun": ["20:00-02:00"], "sat": ["09:00-10:00"]}]
    amenity_variety = [["water"], ["water", "charging"], ["toilet", "wifi"], ["water", "charging", "rest"], []]
    closures = [None, {"from": "2026-03-01", "until": "2026-03-02", "reason": "停电"},
                {"from": "2026-03-03", "until": None, "reason": None}]
    bodies = []
    for n in range(60):  # a spread 1.5 km around the centre
        bodies.append(("S", n, dict(north_m=(n * 137) % 2900 - 1450, east_m=(n * 311) % 2900 - 1450,
                                    opening_hours=hours_variety[n % 5], amenities=amenity_variety[(n // 5) % 5],
                                    closure=closures[n % 7 % 3], phone=None if n % 4 == 0 else f"0514-{n:04d}")))
    for n in range(40):  # a dense cluster 3 km east
        bodies.append(("D", n, dict(north_m=(n * 37) % 300 - 150, east_m=3000 + (n * 53) % 300 - 150,
                                    opening_hours=hours_variety[n % 3], amenities=amenity_variety[n % 4])))
    ties = [("T", 0, dict(north_m=1000)), ("T", 1, dict(north_m=-1000)), ("T", 2, dict(east_m=-1000)),
            ("T", 3, dict(east_m=-1000)), ("T", 4, dict(east_m=-1000))]
    for kind, n, extra in bodies + ties:
        for client, admin in both.values():
            create(client, admin, f"{kind}{n:02d}", **extra)
    dense = offset(east_m=3000)
    queries = [{}, {"limit": 7}, {"limit": 50, "radius_m": 5000}, {"amenities": "water,charging"},
               {"open_now": "true"}, {"open_now": "true", "amenities": "charging", "limit": 3},
               {"radius_m": 800}, {"radius_m": 1000, "limit": 50}, {"lat": dense[0], "lng": dense[1]},
               {"lat": dense[0], "lng": dense[1], "open_now": "true", "amenities": "water", "limit": 50},
               {"radius_m": 50000, "limit": 50, "amenities": "toilet"}]
    moments = [clock.local(2026, 3, 2, 12, 0), clock.local(2026, 3, 3, 1, 0), clock.local(2026, 3, 8, 21, 0)]
    for moment in moments:
        with clock.frozen(moment):
            for query in queries:
                answers = {kind: nearby(client, **query) for kind, (client, _) in both.items()}
                assert all(r.status_code == 200 for r in answers.values())
                pg, lite = (answers[k].get_json()["items"] for k in ("postgres", "sqlite"))
                assert pg == lite, (moment, query)
                assert pg, (moment, query)
                keys = [(i["distance_m"], i["id"]) for i in pg]
                assert keys == sorted(keys)
        with clock.frozen(moment):
            client = both["postgres"][0]
            ties = [i["name"] for i in nearby(client, radius_m=1000, limit=50).get_json()["items"]
                    if i["distance_m"] == 1000]
            assert ties == ["驿站T00", "驿站T01", "驿站T02", "驿站T03", "驿站T04"]
