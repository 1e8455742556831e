"""No overbooking, ever: concurrent bookings on PostgreSQL, each thread its own client."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from models import Notification
from models.legal_aid import LegalAidBooking, LegalAidSlot
from service.common import clock
from tests.helpers import bearer, login_worker, race
from tests.legal_aid.helpers import NOW, World, at, book, public_slot, query


def _login_many(client, prefix: str, n: int) -> list[str]:
    """n workers, each signing in from an address of its own (the login limit is per address)."""
    tokens = []
    for i in range(n):
        client.environ_base["REMOTE_ADDR"] = f"10.9.{i // 200}.{i % 200 + 1}"
        tokens.append(login_worker(client, f"{prefix}{i}"))
    client.environ_base.pop("REMOTE_ADDR", None)
    return tokens



def test_fifty_workers_for_the_last_three_seats(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    sid = world.slot(at(3, 10), capacity=5)
    for name in ("early1", "early2"):
        assert book(pg_client, login_worker(pg_client, name), sid).status_code == 201
    tokens = _login_many(pg_client, "racer", 50)

    results = race(pg_app, [lambda c, t=t: book(c, t, sid) for t in tokens])

    assert Counter(results) == Counter({(201, None): 3, (409, "slot_full"): 47}), Counter(results)
    ((booked, capacity),) = query(pg_app, select(LegalAidSlot.booked, LegalAidSlot.capacity)
                                  .where(LegalAidSlot.id == sid))
    assert (booked, capacity) == (5, 5)
    ((active,),) = query(pg_app, select(func.count(LegalAidBooking.id)).where(
        LegalAidBooking.slot_id == sid, LegalAidBooking.status == "booked"))
    assert active == 5
    ((confirmations,),) = query(pg_app, select(func.count(Notification.id)).where(
        Notification.kind == "booking_confirmed"))
    assert confirmations == 5  # the losers' transactions left nothing behind
    assert public_slot(pg_client, sid) is None


def test_one_worker_double_tapping_gets_one_booking(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    sid = world.slot(at(3, 10), capacity=5)
    token = login_worker(pg_client, "tapper")

    results = race(pg_app, [lambda c: book(c, token, sid) for _ in range(10)])

    assert Counter(results) == Counter({(201, None): 1, (409, "already_booked"): 9}), Counter(results)
    assert public_slot(pg_client, sid)["remaining"] == 4
    mine = pg_client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(token)).get_json()
    assert mine["total"] == 1


def test_cancel_and_book_at_once_never_overbook(pg_app, pg_client):
    """Workers cancelling while others book the freed seats, then staff cancelling the
    slot while workers cancel and book: the count always equals the active bookings."""
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    sid = world.slot(at(3, 10), capacity=4)
    holders = _login_many(pg_client, "holder", 4)
    ids = [book(pg_client, t, sid).get_json()["id"] for t in holders]
    newcomers = _login_many(pg_client, "new", 8)

    calls = [lambda c, t=t, b=b: c.post(f"/api/v1/legal-aid/bookings/{b}/cancel", headers=bearer(t))
             for t, b in zip(holders, ids)]
    calls += [lambda c, t=t: book(c, t, sid) for t in newcomers]
    results = race(pg_app, calls)
    assert results[:4] == [(200, None)] * 4, results  # each holder cancels their own booking
    ((booked, active),) = query(pg_app, select(
        LegalAidSlot.booked,
        select(func.count(LegalAidBooking.id)).where(LegalAidBooking.slot_id == sid,
                                                     LegalAidBooking.status == "booked").scalar_subquery())
        .where(LegalAidSlot.id == sid))
    assert booked == active <= 4
    # the newcomers took the freed seats, and only those: the rest found the slot full
    assert Counter(results[4:]) == Counter({(201, None): active, (409, "slot_full"): 8 - active}), results

    # now staff cancel the slot while the remaining holders cancel and others still try
    holders = [t for t, r in zip(newcomers, results[4:]) if r[0] == 201]
    mine = [pg_client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(t)).get_json()["items"][0]["id"]
            for t in holders]
    calls = [lambda c: c.post(f"/api/v1/admin/legal-aid/slots/{sid}/cancel", json={"reason": "场地维修"},
                              headers=bearer(world.staff))]
    calls += [lambda c, t=t, b=b: c.post(f"/api/v1/legal-aid/bookings/{b}/cancel", headers=bearer(t))
              for t, b in zip(holders, mine)]
    calls += [lambda c, t=t: book(c, t, sid) for t in holders]
    results = race(pg_app, calls)
    assert results[0] == (200, None), results
    cancels, books = results[1:1 + len(holders)], results[1 + len(holders):]
    # a booking the staff cancelled first cannot be cancelled again; a slot cancelled first cannot be booked
    assert set(cancels) <= {(200, None), (409, "invalid_state")}, results
    assert set(books) <= {(201, None), (409, "already_booked"), (404, "not_found")}, results

    ((status, booked, active),) = query(pg_app, select(
        LegalAidSlot.status, LegalAidSlot.booked,
        select(func.count(LegalAidBooking.id)).where(LegalAidBooking.slot_id == sid,
                                                     LegalAidBooking.status == "booked").scalar_subquery())
        .where(LegalAidSlot.id == sid))
    assert (status, booked, active) == ("cancelled", 0, 0)
