"""The annual report's figures: right numbers, right year, right organizations."""
from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from service.common import clock
from tests.helpers import bearer, error_code, make_org, outcome, staff_token


def _arrange(app, city, district, other):
    """One year of activity spread over three organizations, and some outside the year."""
    from models import Worker, db
    from models.breakfast import BreakfastPoint, Checkin, DailyCount, RosterEntry
    from models.enrollment import EnrollmentApplication, Membership
    from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidSlot
    from models.station import Station

    t = clock.local(2025, 6, 1, 9)
    before = clock.local(2024, 12, 31, 23, 30)   # the year before, in Shanghai time
    with app.app_context():
        workers = [Worker(openid=f"o{i}", created_at=t) for i in range(6)]
        db.session.add_all(workers)
        db.session.flush()

        def application(worker, org, when, status="approved", occupation="courier"):
            a = EnrollmentApplication(worker_id=worker.id, organization_id=org, status=status, name="张三",
                                      gender="male", occupation=occupation, consent_version="v1",
                                      consented_at=when, submitted_at=when, id_number_hash=f"h{worker.id}{when}")
            db.session.add(a)
            db.session.flush()
            return a

        def member(worker, org, when, occupation):
            a = application(worker, org, when, occupation=occupation)
            db.session.add(Membership(member_no=f"M{a.id}", worker_id=worker.id, application_id=a.id,
                                      organization_id=org, name="张三", occupation=occupation, status="active",
                                      year=when.year, joined_at=when))

        member(workers[0], district, t, "courier")
        member(workers[1], district, t, "food_delivery")
        member(workers[2], city, t, "food_delivery")
        member(workers[3], other, t, "truck_driver")
        member(workers[4], district, before, "courier")          # 2024: not counted
        application(workers[5], district, t, status="pending")

        def station(code, org, created, amenities, deleted=None):
            db.session.add(Station(code=code, name=code, address="扬州", lat=32.39, lng=119.41, amenities=amenities,
                                   opening_hours="24h", organization_id=org, created_at=created, updated_at=created,
                                   deleted_at=deleted))

        station("S1", district, before, ["water", "nursing_room"])
        station("S2", district, t, ["water"])
        station("S3", city, t, ["nursing_room"])
        station("S4", district, t, ["water"], deleted=clock.local(2025, 9, 1))   # gone by year end
        station("S5", other, t, ["nursing_room"])
        station("S6", district, clock.local(2026, 1, 2), ["water"])           # next year

        p1 = BreakfastPoint(organization_id=district, name="点一", address="a", lat=32.39, lng=119.41,
                            serving_start=dt.time(5, 30), serving_end=dt.time(8, 30), daily_quota=100,
                            created_at=before, updated_at=before)
        p2 = BreakfastPoint(organization_id=other, name="点二", address="b", lat=32.39, lng=119.41,
                            serving_start=dt.time(5, 30), serving_end=dt.time(8, 30), daily_quota=100,
                            created_at=before, updated_at=before)
        db.session.add_all([p1, p2])
        db.session.flush()
        roster = [RosterEntry(organization_id=district, name=f"环卫{i}", created_at=t, updated_at=t)
                  for i in range(3)]
        db.session.add_all(roster)
        db.session.flush()
        served = [(roster[0], p1, dt.date(2025, 3, 1)), (roster[0], p1, dt.date(2025, 3, 2)),
                  (roster[1], p1, dt.date(2025, 3, 1)), (roster[2], p2, dt.date(2025, 3, 1)),
                  (roster[1], p1, dt.date(2024, 12, 31))]
        counts: dict = {}
        for entry, point, day in served:
            db.session.add(Checkin(roster_entry_id=entry.id, point_id=point.id, serving_date=day,
                                   checked_in_at=clock.local(day.year, day.month, day.day, 6)))
            counts[(point.id, day)] = counts.get((point.id, day), 0) + 1
        for (pid, day), n in counts.items():
            db.session.add(DailyCount(point_id=pid, serving_date=day, quota=100, served=n))

        lawyer = LegalAidProvider(organization_id=district, kind="lawyer", name="李律师", firm="某律所",
                                  created_at=t, updated_at=t)
        db.session.add(lawyer)
        db.session.flush()
        slot = LegalAidSlot(provider_id=lawyer.id, starts_at=t, ends_at=t + dt.timedelta(hours=1), capacity=5,
                            booked=0, mode="offline", created_at=t)
        db.session.add(slot)
        db.session.flush()
        for i, (topic, status) in enumerate([("wage_arrears", "completed"), ("wage_arrears", "booked"),
                                             ("work_injury", "no_show"), ("dismissal", "cancelled")]):
            db.session.add(LegalAidBooking(slot_id=slot.id, worker_id=workers[i].id, topic=topic, status=status,
                                           created_at=t, updated_at=t))
        db.session.commit()


def test_annual_figures_for_the_whole_federation_and_a_district(app, client):
    city = make_org(app, "扬州市总工会")
    district = make_org(app, "广陵区总工会", city)
    other = make_org(app, "外市总工会")
    _arrange(app, city, district, other)

    token = staff_token(app, client, "admin")
    body = client.get("/api/v1/admin/stats/annual?year=2025", headers=bearer(token)).get_json()
    assert body["enrollment"] == {"applications": 5, "new_members": 4, "by_occupation": {
        "courier": 1, "food_delivery": 2, "ride_hailing": 0, "truck_driver": 1, "other": 0}}
    assert body["stations"] == {"total": 4, "new": 3, "with_nursing_room": 3}
    assert body["breakfast"] == {"points": 2, "servings": 4, "distinct_workers": 3}
    assert body["legal_aid"]["bookings"] == 3
    assert body["legal_aid"]["completed"] == 1
    assert body["legal_aid"]["by_topic"]["wage_arrears"] == 2
    assert body["legal_aid"]["by_topic"]["dismissal"] == 0

    city_admin = staff_token(app, client, "admin", city)
    body = client.get("/api/v1/admin/stats/annual?year=2025", headers=bearer(city_admin)).get_json()
    assert body["enrollment"]["new_members"] == 3            # the other city's member is not ours
    assert body["stations"] == {"total": 3, "new": 2, "with_nursing_room": 2}
    assert body["breakfast"] == {"points": 1, "servings": 3, "distinct_workers": 2}

    district_admin = staff_token(app, client, "admin", district)
    body = client.get("/api/v1/admin/stats/annual?year=2025", headers=bearer(district_admin)).get_json()
    assert body["enrollment"]["new_members"] == 2
    assert body["stations"]["total"] == 2

    body = client.get("/api/v1/admin/stats/annual?year=2024", headers=bearer(token)).get_json()
    assert body["enrollment"]["new_members"] == 1
    assert body["breakfast"]["servings"] == 1


def test_annual_figures_as_a_spreadsheet(app, client):
    token = staff_token(app, client, "admin")
    resp = client.get("/api/v1/admin/stats/annual.xlsx?year=2025", headers=bearer(token))
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    ws = wb.active
    assert [c.value for c in ws[1]] == ["类别", "项目", "数值"]
    assert any(row[1] == "新发展会员数" for row in ws.iter_rows(values_only=True))


def test_annual_needs_a_valid_year_and_an_admin(app, client):
    token = staff_token(app, client, "admin")
    for query in ("", "?year=1800"):
        resp = client.get(f"/api/v1/admin/stats/annual{query}", headers=bearer(token))
        assert outcome(resp) == (422, "validation_error"), query
        assert "year" in resp.get_json()["error"]["details"]["fields"], query
    reviewer = staff_token(app, client, "enrollment_reviewer")
    assert error_code(client.get("/api/v1/admin/stats/annual?year=2025", headers=bearer(reviewer))) == "forbidden"
