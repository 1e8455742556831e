"""Staff keep providers and schedules: single slots, weekly rules, edits, cancellations."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models import AuditLog, Notification
from models.legal_aid import LegalAidBooking, LegalAidSlot
from service.common import clock
from tests.helpers import bearer, error_code, login_worker, make_org, outcome, staff_token
from tests.legal_aid.helpers import NOW, World, at, book, iso, public_slot, query

UTC = dt.UTC


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_providers_are_created_listed_and_deactivated(world, client):
    resp = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(world.staff),
                       json={"name": "李律师", "kind": "lawyer", "organization_id": world.city})
    assert outcome(resp) == (422, "validation_error") and "firm" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(world.staff),
                       json={"name": "驿站", "kind": "volunteer_station", "organization_id": world.district})
    assert outcome(resp) == (422, "validation_error") and "address" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(world.staff),
                       json={"name": "x", "kind": "judge", "organization_id": world.city})
    assert outcome(resp) == (422, "validation_error") and "kind" in resp.get_json()["error"]["details"]["fields"]
    station = world.provider(kind="volunteer_station", name="广陵区职工法律服务站", firm=None,
                             organization_id=world.district, address="广陵区文昌中路 1 号")

    listed = client.get("/api/v1/admin/legal-aid/providers", headers=bearer(world.staff)).get_json()
    assert listed["total"] == 2
    by_id = {p["id"]: p for p in listed["items"]}
    assert by_id[world.lawyer]["firm"] == "江苏某某律师事务所"
    assert by_id[station]["address"] == "广陵区文昌中路 1 号"
    assert by_id[station]["organization"]["name"] == "广陵区总工会"
    only = client.get("/api/v1/admin/legal-aid/providers", query_string={"kind": "volunteer_station"},
                      headers=bearer(world.staff)).get_json()
    assert [p["id"] for p in only["items"]] == [station]

    sid = world.slot(at(3, 10))
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", json={"active": False},
                        headers=bearer(world.staff))
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert public_slot(client, sid) is None
    resp = book(client, login_worker(client, "alice"), sid)
    assert outcome(resp) == (404, "not_found")
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", json={"firm": ""},
                        headers=bearer(world.staff))
    assert outcome(resp) == (422, "validation_error")
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", json={"organization_id": 1},
                        headers=bearer(world.staff))
    assert outcome(resp) == (422, "validation_error")

    # another federation's staff neither see nor touch them
    other_city = make_org(world.app, "南京市总工会")
    stranger = staff_token(world.app, client, "legal_aid_staff", other_city)
    assert client.get("/api/v1/admin/legal-aid/providers", headers=bearer(stranger)).get_json()["total"] == 0
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{station}", json={"active": False},
                        headers=bearer(stranger))
    assert outcome(resp) == (404, "not_found")
    resp = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(stranger),
                       json={"name": "x", "kind": "lawyer", "firm": "y", "organization_id": world.city})
    assert outcome(resp) == (422, "validation_error")
    assert "organization_id" in resp.get_json()["error"]["details"]["fields"]


def test_single_slots_never_overlap_for_one_provider(world, client):
    first = world.slot(at(3, 9), minutes=120)
    body = {"provider_id": world.lawyer, "starts_at": iso(at(3, 10)), "ends_at": iso(at(3, 12)),
            "capacity": 2, "mode": "online"}
    resp = client.post("/api/v1/admin/legal-aid/slots", json=body, headers=bearer(world.staff))
    assert resp.status_code == 409 and error_code(resp) == "slot_overlap"
    # back to back is fine; another provider at the same time too
    body["starts_at"] = iso(at(3, 11))
    assert client.post("/api/v1/admin/legal-aid/slots", json=body, headers=bearer(world.staff)).status_code == 201
    other = world.provider(name="赵律师")
    assert world.slot(at(3, 9), provider_id=other)
    # once cancelled, its time is free again
    client.post(f"/api/v1/admin/legal-aid/slots/{first}/cancel", json={"reason": "改期"}, headers=bearer(world.staff))
    assert world.slot(at(3, 9, 30))


def test_slot_input_is_validated(world, client):
    def post(body):
        return client.post("/api/v1/admin/legal-aid/slots", json=body, headers=bearer(world.staff))

    resp = post({})
    assert outcome(resp) == (422, "validation_error")
    assert {"provider_id", "capacity", "mode"} <= set(resp.get_json()["error"]["details"]["fields"])
    base = {"provider_id": world.lawyer, "capacity": 2, "mode": "online"}
    fields = post(base).get_json()["error"]["details"]["fields"]
    assert {"starts_at", "ends_at"} <= set(fields)
    fields = post({**base, "weekdays": [1]}).get_json()["error"]["details"]["fields"]
    assert {"start", "end", "from", "until"} <= set(fields)
    resp = post({**base, "starts_at": iso(at(3, 10)), "ends_at": iso(at(3, 9))})
    assert "ends_at" in resp.get_json()["error"]["details"]["fields"]
    resp = post({**base, "starts_at": iso(at(1, 10)), "ends_at": iso(at(1, 11))})
    assert outcome(resp) == (422, "validation_error") and "starts_at" in resp.get_json()["error"]["details"]["fields"]
    resp = post({**base, "weekdays": [0, 8], "start": "10:00", "end": "11:00", "from": "2026-03-02",
                 "until": "2026-03-09"})
    assert outcome(resp) == (422, "validation_error")
    assert any(f.startswith("weekdays") for f in resp.get_json()["error"]["details"]["fields"])
    resp = post({**base, "weekdays": [1], "start": "10:00", "end": "11:00", "from": "2026-03-02",
                 "until": "2027-06-01"})
    assert outcome(resp) == (422, "validation_error") and "until" in resp.get_json()["error"]["details"]["fields"]
    resp = post({**base, "mode": "offline", "starts_at": iso(at(3, 10)), "ends_at": iso(at(3, 11))})
    assert outcome(resp) == (422, "validation_error") and "location" in resp.get_json()["error"]["details"]["fields"]
    resp = post({**base, "provider_id": 999999, "starts_at": iso(at(3, 10)), "ends_at": iso(at(3, 11))})
    assert outcome(resp) == (422, "validation_error") and "provider_id" in resp.get_json()["error"]["details"]["fields"]
    resp = post({**base, "capacity": 0, "starts_at": iso(at(3, 10)), "ends_at": iso(at(3, 11))})
    assert outcome(resp) == (422, "validation_error") and "capacity" in resp.get_json()["error"]["details"]["fields"]


def test_weekly_rule_generates_shanghai_times_stored_utc_and_skips_overlaps(world, client, app):
    clock.freeze(at(2, 10))  # Monday 10:00: today's 09:30 slot is already past
    clash = world.slot(at(4, 10), minutes=60)  # Wednesday 4th 10:00–11:00
    created = world.rule(weekdays=[1, 3], start="09:30", end="11:30", capacity=4, mode="offline",
                         location="广陵区总工会法律服务室", **{"from": "2026-03-01", "until": "2026-03-18"})
    # Mon 2 (past), Wed 4 (overlap), Mon 9, Wed 11, Mon 16, Wed 18
    assert created["created"] == 4
    assert created["skipped_dates"] == ["2026-03-04"]
    rule = created["rule"]
    assert rule["weekdays"] == [1, 3] and rule["start"] == "09:30" and rule["end"] == "11:30"
    assert rule["from"] == "2026-03-01" and rule["until"] == "2026-03-18" and rule["upcoming_slots"] == 4
    assert created["slot"] is None

    stored = query(app, select(LegalAidSlot.starts_at, LegalAidSlot.ends_at, LegalAidSlot.capacity)
                   .where(LegalAidSlot.rule_id == rule["id"]).order_by(LegalAidSlot.starts_at))
    assert [(s.astimezone(UTC), e.astimezone(UTC), c) for s, e, c in stored] == [
        (dt.datetime(2026, 3, d, 1, 30, tzinfo=UTC), dt.datetime(2026, 3, d, 3, 30, tzinfo=UTC), 4)
        for d in (9, 11, 16, 18)]
    listed = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": world.lawyer}).get_json()
    assert [s["starts_at"] for s in listed["items"]] == [
        "2026-03-04T10:00:00+08:00", "2026-03-09T09:30:00+08:00", "2026-03-11T09:30:00+08:00",
        "2026-03-16T09:30:00+08:00", "2026-03-18T09:30:00+08:00"]
    # the 18th, more than 14 days out, is listed but not bookable yet
    assert [s["bookable"] for s in listed["items"]] == [True, True, True, True, False]
    assert clash in [s["id"] for s in listed["items"]]

    # an early-morning rule: Tuesday 07:00 in Yangzhou is Monday 23:00 UTC
    early = world.provider(name="早班律师")
    created = world.rule(provider_id=early, weekdays=[2], start="07:00", end="08:00", mode="online",
                         location=None, **{"from": "2026-03-03", "until": "2026-03-10"})
    assert created["created"] == 2
    stored = query(app, select(LegalAidSlot.starts_at).where(LegalAidSlot.provider_id == early)
                   .order_by(LegalAidSlot.starts_at))
    assert [s.astimezone(UTC) for (s,) in stored] == [dt.datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
                                                       dt.datetime(2026, 3, 9, 23, 0, tzinfo=UTC)]
    listed = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": early, "date_from": "2026-03-03",
                                                                 "date_to": "2026-03-03"}).get_json()
    assert [s["starts_at"] for s in listed["items"]] == ["2026-03-03T07:00:00+08:00"]

    rules = client.get("/api/v1/admin/legal-aid/rules", query_string={"provider_id": world.lawyer},
                       headers=bearer(world.staff)).get_json()
    assert rules["total"] == 1 and rules["items"][0]["id"] == rule["id"]
    assert client.get("/api/v1/admin/legal-aid/rules", headers=bearer(world.staff)).get_json()["total"] == 2


def test_editing_a_rule_keeps_booked_slots_and_regenerates_the_rest(world, client, app):
    created = world.rule(weekdays=[1, 3], start="14:00", end="15:00")  # 2, 4, 9, 11 March
    rule_id = created["rule"]["id"]
    slots = {s["starts_at"][:10]: s["id"] for s in client.get(
        "/api/v1/legal-aid/slots", query_string={"provider_id": world.lawyer}).get_json()["items"]}
    assert sorted(slots) == ["2026-03-02", "2026-03-04", "2026-03-09", "2026-03-11"]
    alice, bob = login_worker(client, "alice"), login_worker(client, "bob")
    kept = slots["2026-03-04"]
    assert book(client, alice, kept).status_code == 201
    once = book(client, bob, slots["2026-03-09"]).get_json()  # booked, then cancelled: history only
    client.post(f"/api/v1/legal-aid/bookings/{once['id']}/cancel", headers=bearer(bob))

    resp = client.patch(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff),
                        json={"start": "14:30", "end": "15:30", "capacity": 5})
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["kept_booked"] == [kept]
    assert result["removed"] == 3
    assert result["created"] == 3 and result["skipped_dates"] == ["2026-03-04"]
    assert result["rule"]["start"] == "14:30" and result["rule"]["capacity"] == 5

    listed = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": world.lawyer}).get_json()["items"]
    assert [(s["starts_at"], s["capacity"]) for s in listed] == [
        ("2026-03-02T14:30:00+08:00", 5), ("2026-03-04T14:00:00+08:00", 2),
        ("2026-03-09T14:30:00+08:00", 5), ("2026-03-11T14:30:00+08:00", 5)]
    # alice's booking still points at the same slot, same time
    mine = client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(alice)).get_json()["items"]
    assert mine[0]["slot"]["id"] == kept and mine[0]["slot"]["starts_at"] == "2026-03-04T14:00:00+08:00"
    # the slot with only a cancelled booking was withdrawn, not deleted
    (status,) = query(app, select(LegalAidSlot.status).where(LegalAidSlot.id == slots["2026-03-09"]))[0]
    assert status == "cancelled"
    assert query(app, select(LegalAidBooking.id).where(LegalAidBooking.id == once["id"]))

    # narrowing to Mondays: the booked Wednesday stays, the Mondays are untouched
    mondays = [s["id"] for s in listed if s["starts_at"][:10] in ("2026-03-02", "2026-03-09")]
    resp = client.patch(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff),
                        json={"weekdays": [1]})
    result = resp.get_json()
    assert (result["kept_booked"], result["removed"], result["created"]) == ([kept], 1, 0)
    # extending the rule adds the new dates and keeps the existing slots (same ids)
    resp = client.patch(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff),
                        json={"until": "2026-03-22"})
    result = resp.get_json()
    assert (result["removed"], result["created"], result["skipped_dates"]) == (0, 1, [])
    listed = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": world.lawyer}).get_json()["items"]
    assert [s["id"] for s in listed][:3] == [mondays[0], kept, mondays[1]]
    assert [s["starts_at"][:10] for s in listed] == ["2026-03-02", "2026-03-04", "2026-03-09", "2026-03-16"]
    resp = client.patch(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff),
                        json={"start": "16:00"})
    assert outcome(resp) == (422, "validation_error") and "end" in resp.get_json()["error"]["details"]["fields"]

    # deleting the rule: unbooked future slots go, the booked one stays on its own
    resp = client.delete(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff))
    assert resp.status_code == 200 and resp.get_json() == {"removed": 3, "kept_booked": [kept]}
    listed = client.get("/api/v1/legal-aid/slots", query_string={"provider_id": world.lawyer}).get_json()["items"]
    assert [s["id"] for s in listed] == [kept]
    assert client.get("/api/v1/admin/legal-aid/rules", headers=bearer(world.staff)).get_json()["total"] == 0
    resp = client.delete(f"/api/v1/admin/legal-aid/rules/{rule_id}", headers=bearer(world.staff))
    assert outcome(resp) == (404, "not_found")


def test_staff_cancelling_a_slot_cancels_its_bookings_and_tells_each_worker(world, client, app):
    sid = world.slot(at(5, 14), capacity=3)
    workers = [login_worker(client, n) for n in ("alice", "bob")]
    ids = [book(client, w, sid, topic="dismissal").get_json()["id"] for w in workers]

    resp = client.post(f"/api/v1/admin/legal-aid/slots/{sid}/cancel", json={"reason": "律师临时出庭"},
                       headers=bearer(world.staff))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["cancelled_bookings"] == 2
    assert body["slot"]["status"] == "cancelled" and body["slot"]["booked"] == 0
    assert body["slot"]["cancel_reason"] == "律师临时出庭"
    assert public_slot(client, sid) is None
    for token, bid in zip(workers, ids):
        item = client.get(f"/api/v1/legal-aid/bookings/{bid}", headers=bearer(token)).get_json()
        assert item["status"] == "cancelled" and item["cancelled_by"] == "staff"
        assert item["cancel_reason"] == "律师临时出庭"

    notes = query(app, select(Notification.worker_id, Notification.kind, Notification.status, Notification.data,
                              Notification.dedupe_key).order_by(Notification.id))
    cancelled = [n for n in notes if n.kind == "booking_cancelled"]
    assert len(cancelled) == 2 and len({n.worker_id for n in cancelled}) == 2
    assert all(n.status == "pending" for n in cancelled)
    assert {n.dedupe_key for n in cancelled} == {f"booking-cancelled:{i}" for i in ids}
    assert cancelled[0].data["topic"] == "解除劳动关系" and cancelled[0].data["reason"] == "律师临时出庭"
    assert cancelled[0].data["provider"] == "王律师"
    reminders = [n for n in notes if n.kind == "booking_reminder"]
    assert len(reminders) == 2 and all(n.status == "cancelled" for n in reminders)

    resp = client.post(f"/api/v1/admin/legal-aid/slots/{sid}/cancel", json={"reason": "再次"},
                       headers=bearer(world.staff))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    resp = client.post(f"/api/v1/admin/legal-aid/slots/{sid}/cancel", json={}, headers=bearer(world.staff))
    assert outcome(resp) == (422, "validation_error")
    started = world.slot(at(2, 9, 30))
    clock.freeze(at(2, 9, 45))
    resp = client.post(f"/api/v1/admin/legal-aid/slots/{started}/cancel", json={"reason": "x"},
                       headers=bearer(world.staff))
    assert resp.status_code == 409 and error_code(resp) == "slot_started"

    listed = client.get("/api/v1/admin/legal-aid/slots", query_string={"status": "cancelled"},
                        headers=bearer(world.staff)).get_json()
    assert [s["id"] for s in listed["items"]] == [sid]


def test_every_staff_write_is_audit_logged(world, client, app):
    created = world.rule()
    sid, later = world.slot(at(3, 10)), world.slot(at(5, 10))
    client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", json={"phone": "0514-87111111"},
                 headers=bearer(world.staff))
    client.patch(f"/api/v1/admin/legal-aid/rules/{created['rule']['id']}", json={"capacity": 3},
                 headers=bearer(world.staff))
    booking = book(client, login_worker(client, "alice"), sid).get_json()
    clock.freeze(at(3, 10, 30))  # a consultation is recorded once it has begun
    client.post(f"/api/v1/admin/legal-aid/bookings/{booking['id']}/complete", json={"outcome": "advised"},
                headers=bearer(world.staff))
    client.post(f"/api/v1/admin/legal-aid/slots/{later}/cancel", json={"reason": "x"}, headers=bearer(world.staff))
    client.delete(f"/api/v1/admin/legal-aid/rules/{created['rule']['id']}", headers=bearer(world.staff))
    actions = {a for (a,) in query(app, select(AuditLog.action).where(AuditLog.actor_id.is_not(None)))}
    assert {"legal_aid.provider.create", "legal_aid.provider.update", "legal_aid.rule.create",
            "legal_aid.slot.create", "legal_aid.rule.update", "legal_aid.booking.complete",
            "legal_aid.slot.cancel", "legal_aid.rule.delete"} <= actions
