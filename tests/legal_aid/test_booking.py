"""A worker finds a slot, books it, sees it, cancels it — and every way that can be refused."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models import Notification
from models.legal_aid import LegalAidSlot
from service.common import clock
from tests.helpers import bearer, error_code, login_worker, outcome
from tests.legal_aid.helpers import NOW, World, at, book, public_slot, query


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_topics_have_chinese_labels(client):
    resp = client.get("/api/v1/legal-aid/topics")
    assert resp.status_code == 200
    labels = {t["code"]: t["label"] for t in resp.get_json()["items"]}
    assert labels == {"wage_arrears": "欠薪", "labor_contract": "劳动合同", "work_injury": "工伤",
                      "social_insurance": "社会保险", "dismissal": "解除劳动关系", "other": "其他"}


def test_weekly_rule_find_book_see_cancel_and_the_seat_returns(world, client):
    created = world.rule(weekdays=[1, 3, 5], start="14:00", end="15:30", capacity=3)
    # Mon 2, Wed 4, Fri 6, Mon 9, Wed 11, Fri 13
    assert created["created"] == 6 and created["skipped_dates"] == []

    resp = client.get("/api/v1/legal-aid/slots", query_string={"date_from": "2026-03-04", "date_to": "2026-03-04"})
    assert resp.status_code == 200
    page = resp.get_json()
    assert page["total"] == 1 and page["page"] == 1 and page["per_page"] == 20
    slot = page["items"][0]
    assert slot["starts_at"] == "2026-03-04T14:00:00+08:00"
    assert slot["ends_at"] == "2026-03-04T15:30:00+08:00"
    assert slot["provider"]["name"] == "王律师" and slot["provider"]["kind"] == "lawyer"
    assert slot["provider"]["organization"]["name"] == "扬州市总工会"
    assert slot["mode"] == "offline" and slot["location"] == "市总工会一楼法律服务窗口"
    assert slot["capacity"] == 3 and slot["remaining"] == 3

    alice = login_worker(client, "alice")
    resp = book(client, alice, slot["id"], topic="wage_arrears", contact_phone="13912345678")
    assert resp.status_code == 201, resp.get_json()
    booking = resp.get_json()
    assert booking["status"] == "booked" and booking["topic"] == "wage_arrears"
    assert booking["topic_label"] == "欠薪"
    assert booking["slot"]["id"] == slot["id"]
    assert booking["contact_phone"] == "139****5678"
    assert public_slot(client, slot["id"])["remaining"] == 2

    mine = client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(alice)).get_json()
    assert mine["total"] == 1
    assert mine["items"][0]["id"] == booking["id"] and mine["items"][0]["can_cancel"] is True
    assert "notes" not in mine["items"][0]

    resp = client.post(f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", headers=bearer(alice))
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "cancelled" and resp.get_json()["cancelled_by"] == "worker"
    assert public_slot(client, slot["id"])["remaining"] == 3
    mine = client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(alice)).get_json()
    assert mine["items"][0]["status"] == "cancelled"
    # cancelling again is a state conflict
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", headers=bearer(alice))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    # and the seat can be booked again
    assert book(client, alice, slot["id"]).status_code == 201


def test_slot_list_filters_and_hides_full_past_and_cancelled_slots(world, client):
    online = world.slot(at(3, 10), mode="online", location=None, capacity=1)
    offline = world.slot(at(3, 14))
    station = world.provider(kind="volunteer_station", name="广陵区职工法律服务站", firm=None,
                             organization_id=world.district, address="广陵区文昌中路 1 号")
    other = world.slot(at(5, 9), provider_id=station, location=None)
    resp = client.get("/api/v1/legal-aid/slots", query_string={"mode": "online"}).get_json()
    assert [s["id"] for s in resp["items"]] == [online]
    assert resp["items"][0]["location"] == "线上咨询"
    resp = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": station}).get_json()
    assert [s["id"] for s in resp["items"]] == [other]
    assert resp["items"][0]["location"] == "广陵区文昌中路 1 号"  # the station's address
    resp = client.get("/api/v1/legal-aid/slots", query_string={"date_from": "2026-03-04"}).get_json()
    assert [s["id"] for s in resp["items"]] == [other]
    resp = client.get("/api/v1/legal-aid/slots", query_string={"per_page": 2}).get_json()
    assert resp["total"] == 3 and [s["id"] for s in resp["items"]] == [online, offline]

    assert book(client, login_worker(client, "a"), online).status_code == 201
    assert public_slot(client, online) is None  # full
    clock.freeze(at(3, 14, 30))
    assert public_slot(client, offline) is None  # begun
    resp = client.get("/api/v1/legal-aid/slots", query_string={"date_from": "2026-03-05", "date_to": "2026-03-04"})
    assert resp.status_code == 422 and error_code(resp) == "validation_error"


def test_every_409_of_booking_and_cancelling(world, client, app):
    alice, bob, carol = (login_worker(client, n) for n in ("alice", "bob", "carol"))

    # slot_full: one seat, taken
    single = world.slot(at(3, 10), capacity=1)
    assert book(client, alice, single).status_code == 201
    resp = book(client, bob, single)
    assert resp.status_code == 409 and error_code(resp) == "slot_full"
    assert "约满" in resp.get_json()["error"]["message"]

    # already_booked: the same worker, the same slot
    pair = world.slot(at(3, 14), capacity=2)
    assert book(client, bob, pair).status_code == 201
    resp = book(client, bob, pair)
    assert resp.status_code == 409 and error_code(resp) == "already_booked"

    # too_many_active_bookings: past 3 active (booked and future)
    slots = [world.slot(at(4, h)) for h in (9, 10, 11, 14)]
    for sid in slots[:3]:
        assert book(client, carol, sid).status_code == 201
    resp = book(client, carol, slots[3])
    assert resp.status_code == 409 and error_code(resp) == "too_many_active_bookings"

    # outside_booking_window: more than 14 days ahead, or starting within the hour
    far = world.slot(NOW + dt.timedelta(days=14, minutes=1))
    resp = book(client, alice, far)
    assert resp.status_code == 409 and error_code(resp) == "outside_booking_window"
    edge = world.slot(NOW + dt.timedelta(days=13, hours=23))
    assert book(client, alice, edge).status_code == 201
    soon = world.slot(NOW + dt.timedelta(minutes=59), minutes=30)
    resp = book(client, alice, soon)
    assert resp.status_code == 409 and error_code(resp) == "outside_booking_window"

    # slot_started
    clock.freeze(at(3, 10, 5))
    resp = book(client, bob, single)
    assert resp.status_code == 409 and error_code(resp) == "slot_started"
    # alice's booking of the begun slot no longer counts as active: carol-style cap frees up
    clock.freeze(NOW)

    # cancel_window_closed: less than 2 hours before the start
    later = world.slot(at(2, 12), capacity=1)
    resp = book(client, bob, later)
    booking = resp.get_json()["id"]
    clock.freeze(at(2, 10, 1))
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking}/cancel", headers=bearer(bob))
    assert resp.status_code == 409 and error_code(resp) == "cancel_window_closed"
    assert "2 小时" in resp.get_json()["error"]["message"]
    clock.freeze(at(2, 9, 59))
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking}/cancel", headers=bearer(bob))
    assert resp.status_code == 200

    # invalid_state: cancelling a booking that is not booked
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking}/cancel", headers=bearer(bob))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"

    # 404: unknown slot, cancelled slot, someone else's booking
    resp = book(client, bob, 999999)
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = client.post(f"/api/v1/admin/legal-aid/slots/{pair}/cancel", json={"reason": "律师临时出庭"},
                       headers=bearer(world.staff))
    assert resp.status_code == 200
    resp = book(client, alice, pair)
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking}/cancel", headers=bearer(alice))
    assert outcome(resp) == (404, "not_found")

    # the seat counts held throughout
    rows = dict(query(app, select(LegalAidSlot.id, LegalAidSlot.booked)))
    assert rows[single] == 1 and rows[later] == 0 and rows[pair] == 0
    assert all(rows[s] == 1 for s in slots[:3]) and rows[slots[3]] == 0


def test_active_cap_counts_only_future_bookings(world, client):
    carol = login_worker(client, "carol")
    first = [world.slot(at(2, h)) for h in (11, 13, 15)]
    for sid in first:
        assert book(client, carol, sid).status_code == 201
    nxt = world.slot(at(3, 9))
    assert error_code(book(client, carol, nxt)) == "too_many_active_bookings"
    clock.freeze(at(2, 11, 30))  # the first consultation has begun
    assert book(client, carol, nxt).status_code == 201


def test_window_settings_come_from_config(world, client, app, monkeypatch):
    for name, value in (("BOOKING_WINDOW_DAYS", 2), ("BOOKING_MIN_LEAD_MINUTES", 10),
                        ("BOOKING_CANCEL_CUTOFF_MINUTES", 30)):
        monkeypatch.setitem(app.config, name, value)  # put back after the test, whatever it found
    alice = login_worker(client, "alice")
    assert error_code(book(client, alice, world.slot(at(4, 9, 1)))) == "outside_booking_window"
    booking = book(client, alice, world.slot(at(2, 9, 20))).get_json()
    assert booking["status"] == "booked"
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", headers=bearer(alice))
    assert error_code(resp) == "cancel_window_closed"
    assert "20 分钟" not in resp.get_json()["error"]["message"] and "30 分钟" in resp.get_json()["error"]["message"]


def test_booking_input_is_validated(world, client):
    alice = login_worker(client, "alice")
    sid = world.slot(at(3, 10))
    cases = [
        ({"slot_id": sid, "topic": "divorce", "description": "x"}, "topic"),
        ({"slot_id": sid, "topic": "other", "description": "长" * 501}, "description"),
        ({"slot_id": sid, "topic": "other", "description": "   "}, "description"),
        ({"slot_id": sid, "topic": "other", "description": "x", "contact_phone": "12345"}, "contact_phone"),
        ({"slot_id": sid, "topic": "other", "description": "x", "status": "completed"}, "status"),
        ({"topic": "other", "description": "x"}, "slot_id"),
    ]
    for body, field in cases:
        resp = client.post("/api/v1/legal-aid/bookings", json=body, headers=bearer(alice))
        assert outcome(resp) == (422, "validation_error"), body
        assert field in resp.get_json()["error"]["details"]["fields"], body
    assert book(client, alice, sid, description="长" * 500).status_code == 201


def test_out_of_range_input_is_422_or_404_never_500(world, client):
    alice = login_worker(client, "alice")
    huge = 2**31
    resp = book(client, alice, huge)
    assert outcome(resp) == (422, "validation_error") and "slot_id" in resp.get_json()["error"]["details"]["fields"]
    assert outcome(client.get(f"/api/v1/legal-aid/bookings/{huge}", headers=bearer(alice))) == (404, "not_found")
    assert outcome(client.post(f"/api/v1/legal-aid/bookings/{huge}/cancel", headers=bearer(alice))) == (
        404, "not_found")
    staff = bearer(world.staff)
    assert outcome(client.patch(f"/api/v1/admin/legal-aid/rules/{huge}", json={}, headers=staff)) == (
        404, "not_found")
    assert outcome(client.post(f"/api/v1/admin/legal-aid/slots/{huge}/cancel", json={"reason": "x"},
                               headers=staff)) == (404, "not_found")
    for query_string in ({"provider_id": huge}, {"date_from": "9999-12-31"}, {"date_to": "0001-01-01"}):
        resp = client.get("/api/v1/legal-aid/slots", query_string=query_string)
        assert outcome(resp) == (422, "validation_error"), query_string
        assert set(resp.get_json()["error"]["details"]["fields"]) == set(query_string)
    resp = client.get(f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx",
                      query_string={"date": "9999-12-31"}, headers=staff)
    assert outcome(resp) == (422, "validation_error")
    resp = client.post("/api/v1/admin/legal-aid/slots", headers=staff, json={
        "provider_id": world.lawyer, "capacity": 1, "mode": "online",
        "starts_at": "0001-01-01T00:00:00", "ends_at": "0001-01-01T01:00:00"})
    assert outcome(resp) == (422, "validation_error")
    resp = book(client, alice, world.slot(at(3, 10)), description="a\x00b")
    assert outcome(resp) == (422, "validation_error") and "description" in resp.get_json()["error"]["details"]["fields"]
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", json={"name": "x\x00"}, headers=staff)
    assert outcome(resp) == (422, "validation_error") and "name" in resp.get_json()["error"]["details"]["fields"]


def test_booking_queues_confirmation_and_a_reminder_the_day_before(world, client, app):
    alice = login_worker(client, "alice")
    sid = world.slot(at(5, 14), location="广陵区总工会法律服务室")
    booking = book(client, alice, sid, topic="work_injury").get_json()
    notes = {n.kind: n for (n,) in query(app, select(Notification).order_by(Notification.id))}
    assert set(notes) == {"booking_confirmed", "booking_reminder"}
    confirmed, reminder = notes["booking_confirmed"], notes["booking_reminder"]
    assert confirmed.status == "pending" and confirmed.next_attempt_at == NOW
    assert confirmed.data["topic"] == "工伤"
    assert confirmed.data["place"] == "广陵区总工会法律服务室"
    assert confirmed.data["provider"] == "王律师"
    assert "starts_at" in confirmed.data
    assert confirmed.page == f"pages/legal-aid/booking?id={booking['id']}"
    assert reminder.dedupe_key == f"booking-reminder:{booking['id']}"
    assert reminder.next_attempt_at == at(4, 14)
    assert reminder.status == "pending"

    # cancelled by the worker: the reminder is withdrawn
    client.post(f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", headers=bearer(alice))
    status = dict(query(app, select(Notification.kind, Notification.status)))
    assert status["booking_reminder"] == "cancelled" and status["booking_confirmed"] == "pending"


def test_reminder_for_a_slot_within_a_day_is_due_at_once(world, client, app):
    bob = login_worker(client, "bob")
    sid = world.slot(at(2, 16), mode="online", location=None)
    booking = book(client, bob, sid).get_json()
    (reminder,) = [n for (n,) in query(app, select(Notification).where(Notification.kind == "booking_reminder"))]
    assert reminder.next_attempt_at == NOW
    assert reminder.data["place"] == "线上咨询"
    assert reminder.dedupe_key == f"booking-reminder:{booking['id']}"


def test_a_worker_sees_only_their_own_bookings(world, client):
    alice, bob = login_worker(client, "alice"), login_worker(client, "bob")
    booking = book(client, alice, world.slot(at(3, 10))).get_json()
    assert client.get(f"/api/v1/legal-aid/bookings/{booking['id']}", headers=bearer(alice)).status_code == 200
    assert outcome(client.get(f"/api/v1/legal-aid/bookings/{booking['id']}", headers=bearer(bob))) == (
        404, "not_found")
    assert client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(bob)).get_json()["total"] == 0
    mine = client.get("/api/v1/legal-aid/bookings/mine", query_string={"status": "cancelled"},
                      headers=bearer(alice)).get_json()
    assert mine["total"] == 0
