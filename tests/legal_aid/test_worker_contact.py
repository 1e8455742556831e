"""A lawyer can reach the worker: name and phone in full on every booking legal-aid staff
and admins see (list, details, day sheet), each disclosure audit-logged; no one else sees them."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from service.common import clock
from tests.breakfast.helpers import add_to_roster, quick_staff_token
from tests.enrollment import apply, make_id
from tests.helpers import bearer, bind_phone, error_code, login_worker, staff_token
from tests.legal_aid.helpers import NOW, World, at, book

LIST = "/api/v1/admin/legal-aid/bookings"


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


@pytest.fixture
def booked(world, client, app):
    """Four workers booked on the lawyer's 3 March 10:00 slot, each known differently:

    - alice applied to join the union as 李桂芳 and left a contact phone on the booking;
    - bob is 王建国 on the breakfast roster and bound its phone in the mini-program; his booking
      form sent its contact phone untouched, as "";
    - carol is known by nothing at all;
    - dave is 赵老三 on the roster but applied as 赵一 (withdrawn), then as 赵二: the latest application wins.
    """
    roster_staff = quick_staff_token(app, "breakfast_manager", world.city)
    add_to_roster(client, roster_staff, "王建国", "13952710001", org_id=world.district)
    add_to_roster(client, roster_staff, "赵老三", "13952710004", org_id=world.district)
    workers = {name: login_worker(client, name) for name in ("alice", "bob", "carol", "dave")}
    bind_phone(client, workers["alice"], "13800138000")
    for name, phone in (("bob", "13952710001"), ("dave", "13952710004")):
        bind_phone(client, workers[name], phone)
        claim = client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(workers[name]))
        assert claim.status_code == 200, claim.get_json()
    assert apply(client, workers["alice"], world.district, name="李桂芳", gender="female",
                 id_number=make_id("19880512", "female")).status_code == 201
    first = apply(client, workers["dave"], world.district, name="赵一", id_number=make_id("19750101"))
    assert first.status_code == 201
    withdrawn = client.post(f"/api/v1/enrollment/applications/{first.get_json()['id']}/withdraw",
                            headers=bearer(workers["dave"]))
    assert withdrawn.status_code == 200
    clock.advance(minutes=1)
    assert apply(client, workers["dave"], world.district, name="赵二", id_number=make_id("19750101")).status_code == 201

    slot = world.slot(at(3, 10), capacity=4)
    ids = {}
    for name, token in workers.items():
        extra = {"alice": {"contact_phone": "13912345678"}, "bob": {"contact_phone": ""}}.get(name, {})
        resp = book(client, token, slot, **extra)
        assert resp.status_code == 201, resp.get_json()
        ids[name] = resp.get_json()["id"]
    return {"tokens": workers, "ids": ids, "slot": slot}


def audit_entries(client, app, action: str) -> list[dict]:
    admin = staff_token(app, client, "admin")
    resp = client.get("/api/v1/admin/audit-log", query_string={"action": action, "per_page": 100},
                      headers=bearer(admin))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


EXPECTED = {"alice": {"name": "李桂芳", "phone": "13912345678"},
            "bob": {"name": "王建国", "phone": "13952710001"},
            "carol": {"name": None, "phone": None},
            "dave": {"name": "赵二", "phone": "13952710004"}}


def test_legal_aid_staff_see_whom_to_call_on_the_list_and_each_booking(world, client, app, booked):
    staff = bearer(world.staff)
    resp = client.get(LIST, headers=staff)
    assert resp.status_code == 200
    by_id = {item["id"]: item for item in resp.get_json()["items"]}
    assert {name: by_id[bid]["worker"] for name, bid in booked["ids"].items()} == EXPECTED
    assert by_id[booked["ids"]["alice"]]["contact_phone"] == "139****5678"  # the booking's own field stays masked

    [listed] = audit_entries(client, app, "legal_aid.booking.list")
    assert listed["details"]["workers"] == 3 and listed["details"]["bookings"] == 4  # carol: nothing disclosed
    assert listed["target_type"] == "legal_aid_booking"

    one = client.get(f"{LIST}/{booked['ids']['bob']}", headers=staff)
    assert one.status_code == 200 and one.get_json()["worker"] == EXPECTED["bob"]
    [viewed] = audit_entries(client, app, "legal_aid.booking.view")
    assert viewed["target_id"] == str(booked["ids"]["bob"]) and viewed["details"]["workers"] == 1

    # an admin (not legal-aid staff) sees them too; a district's admin sees the district's bookings, and the
    # audit row of each list belongs to the smallest organization holding what it showed
    district_lawyer = world.provider(org_id=world.district, name="李律师")
    later = book(client, booked["tokens"]["bob"], world.slot(at(4, 10), provider_id=district_lawyer)).get_json()
    for token in (staff_token(app, client, "admin", world.city), staff_token(app, client, "admin", world.district)):
        items = {i["id"]: i["worker"] for i in client.get(LIST, headers=bearer(token)).get_json()["items"]}
        assert items[later["id"]] == EXPECTED["bob"]
    district_log = client.get("/api/v1/admin/audit-log", query_string={"action": "legal_aid.booking.list"},
                              headers=bearer(token)).get_json()["items"]
    assert [e["details"]["bookings"] for e in district_log] == [1]  # the city-wide lists are the city's


def test_the_day_sheet_names_the_workers_with_their_phones(world, client, app, booked):
    resp = client.get(f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx",
                      query_string={"date": "2026-03-03"}, headers=bearer(world.staff))
    assert resp.status_code == 200
    rows = [list(r) for r in load_workbook(io.BytesIO(resp.data)).worksheets[0].iter_rows(values_only=True)]
    header = rows[0]
    name_col, phone_col = header.index("职工姓名"), header.index("联系电话")
    assert phone_col == name_col + 1
    sheet = {row[header.index("预约编号")]: (row[name_col], row[phone_col]) for row in rows[1:]}
    assert sheet == {bid: (EXPECTED[name]["name"], EXPECTED[name]["phone"]) for name, bid in booked["ids"].items()}
    [export] = audit_entries(client, app, "legal_aid.day_sheet.export")
    assert export["details"]["workers"] == 3 and export["details"]["date"] == "2026-03-03"


@pytest.mark.parametrize("role", ["enrollment_reviewer", "station_manager", "breakfast_manager"])
def test_no_other_role_sees_a_workers_contact(world, client, app, booked, role):
    token = bearer(staff_token(app, client, role, world.city))
    for path in (LIST, f"{LIST}/{booked['ids']['alice']}",
                 f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx?date=2026-03-03"):
        resp = client.get(path, headers=token)
        assert resp.status_code == 403 and error_code(resp) == "forbidden", path
        text = resp.get_data(as_text=True)
        assert "13912345678" not in text and "李桂芳" not in text
    for action in ("legal_aid.booking.list", "legal_aid.booking.view", "legal_aid.day_sheet.export"):
        assert audit_entries(client, app, action) == []


def test_the_worker_never_sees_the_staff_view_and_erasure_leaves_nothing_to_call(world, client, booked):
    alice = booked["tokens"]["alice"]
    own = client.get(f"/api/v1/legal-aid/bookings/{booked['ids']['alice']}", headers=bearer(alice)).get_json()
    assert "worker" not in own and own["contact_phone"] == "139****5678"

    assert client.delete("/api/v1/me", headers=bearer(alice)).status_code == 204
    item = client.get(f"{LIST}/{booked['ids']['alice']}", headers=bearer(world.staff)).get_json()
    assert item["worker"] == {"name": None, "phone": None} and item["status"] == "cancelled"


def test_completing_or_no_show_answers_without_contacts(world, client, booked):
    clock.freeze(at(3, 10, 30))
    resp = client.post(f"{LIST}/{booked['ids']['carol']}/no-show", headers=bearer(world.staff))
    assert resp.status_code == 200 and "worker" not in resp.get_json()
