"""The staff's side: scope, the state machine, the queue's filters and the year's figures."""
from __future__ import annotations

import pytest

from service.arrears.cases import annual_figures
from service.auth.permissions import Scope
from service.common import clock
from tests.arrears.helpers import NOW, World, png
from tests.helpers import bearer, error_code, make_org, staff_token
from tests.legal_aid.helpers import World as LegalAidWorld
from tests.legal_aid.helpers import at, book


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_staff_of_another_district_see_nothing_and_other_roles_are_refused(world, app, client):
    amy = world.worker("amy")
    report = world.submitted(amy)
    evidence_id = world.upload(amy, report["id"], png()).get_json()["id"]
    case_id = world.accepted(report["id"])["case_id"]

    stranger = staff_token(app, client, "rights_staff", world.other)
    for path in ("/api/v1/admin/arrears/reports", "/api/v1/admin/arrears/cases",
                 f"/api/v1/admin/arrears/reports?organization_id={world.district}"):
        resp = client.get(path, headers=bearer(stranger))
        assert resp.status_code == 200 and resp.get_json()["items"] == [] and resp.get_json()["total"] == 0
    for resp in (client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(stranger)),
                 client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(stranger)),
                 world.accept(report["id"], stranger),
                 world.move(case_id, stranger, to="coordinating"),
                 client.post(f"/api/v1/admin/arrears/reports/{report['id']}/decline", json={"reason": "不受理"},
                             headers=bearer(stranger))):
        assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = client.get("/api/v1/admin/arrears/cases.xlsx", headers=bearer(stranger))
    assert resp.status_code == 200

    legal = staff_token(app, client, "legal_aid_staff", world.district)
    for resp in (client.get("/api/v1/admin/arrears/reports", headers=bearer(legal)),
                 client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(legal)),
                 world.move(case_id, legal, to="coordinating")):
        assert resp.status_code == 403 and error_code(resp) == "forbidden"
    resp = client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(amy))
    assert resp.status_code == 403 and error_code(resp) == "forbidden"

    # the city's admin and the district's rights staff see it
    for token in (world.admin, world.staff):
        assert client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(token)).status_code == 200
        assert client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path, to", [
    ([], "referred"), ([], "resolved"), ([], "accepted"),
    (["coordinating"], "coordinating"), (["coordinating"], "accepted"),
    (["coordinating", "referred"], "coordinating"), (["coordinating", "referred"], "referred"),
    (["coordinating", "resolved"], "closed"), (["coordinating", "resolved"], "coordinating"),
    (["closed"], "coordinating"), (["closed"], "resolved"),
])
def test_illegal_moves_are_409_invalid_state(world, path, to):
    needs = {"referred": {"referred_to": "arbitration"}, "resolved": {"amount_recovered": 100},
             "closed": {"note": "结案"}}
    case_id = world.accepted(world.submitted(world.worker("amy"))["id"])["case_id"]
    for step in path:
        world.moved(case_id, to=step, **needs.get(step, {}))
    resp = world.move(case_id, to=to, **needs.get(to, {}))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"


@pytest.mark.parametrize("path", [
    ["coordinating", "referred", "resolved"], ["coordinating", "referred", "closed"],
    ["coordinating", "resolved"], ["coordinating", "closed"], ["closed"],
])
def test_legal_paths(world, path):
    needs = {"referred": {"referred_to": "court"}, "resolved": {"amount_recovered": "0"}, "closed": {"note": "结案"}}
    case_id = world.accepted(world.submitted(world.worker("amy"))["id"])["case_id"]
    for step in path:
        case = world.moved(case_id, to=step, **needs.get(step, {}))
        assert case["status"] == step
    assert case["finished_at"] is not None and case["next_statuses"] == []


def test_a_referral_to_legal_aid_may_name_a_booking_the_caller_reaches(world, app, client):
    legal = LegalAidWorld(app, client)  # a lawyer of another federation's tree
    amy = world.worker("amy")
    booking = book(client, amy, legal.slot(at(5, 10))).get_json()
    case_id = world.accepted(world.submitted(amy)["id"])["case_id"]
    world.moved(case_id, to="coordinating")
    for token, booking_id in ((world.staff, booking["id"]), (world.admin, 999999)):
        resp = world.move(case_id, token, to="referred", referred_to="legal_aid", legal_aid_booking_id=booking_id)
        assert resp.status_code == 422 and "legal_aid_booking_id" in resp.get_json()["error"]["details"]["fields"]
    everywhere = staff_token(app, client, "admin")
    resp = world.move(case_id, everywhere, to="referred", referred_to="legal_aid", legal_aid_booking_id=booking["id"])
    assert resp.status_code == 200 and resp.get_json()["legal_aid_booking_id"] == booking["id"]
    assert resp.get_json()["referred_to_label"] == "法律援助"


def test_the_queue_filters_by_status_organization_and_employer(world, app, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    street = make_org(app, "文昌街道工会", world.district)
    one = world.submitted(amy, employer_name="扬州宏达建筑（集团）有限公司")
    two = world.submitted(ben, employer_name="邗江顺风物流有限公司", organization_id=street)
    world.accepted(one["id"])

    def ids(**params):
        resp = client.get("/api/v1/admin/arrears/reports", query_string=params, headers=bearer(world.admin))
        assert resp.status_code == 200, resp.get_json()
        return [r["id"] for r in resp.get_json()["items"]]

    assert ids() == [two["id"], one["id"]]
    assert ids(status="submitted") == [two["id"]]
    assert ids(status="accepted") == [one["id"]]
    assert ids(organization_id=street) == [two["id"]]
    assert ids(organization_id=world.district) == [two["id"], one["id"]]
    assert ids(q="宏达") == [one["id"]] and ids(q="宏达建筑(集团)") == [one["id"]]
    assert ids(q="100%_") == []
    resp = client.get("/api/v1/admin/arrears/reports?status=lost", headers=bearer(world.admin))
    assert resp.status_code == 422 and "status" in resp.get_json()["error"]["details"]["fields"]
    cases = client.get("/api/v1/admin/arrears/cases?collective=false&q=宏达", headers=bearer(world.staff)).get_json()
    assert cases["total"] == 1 and cases["items"][0]["reports"][0]["id"] == one["id"]
    assert client.get("/api/v1/admin/arrears/cases?collective=true",
                      headers=bearer(world.staff)).get_json()["total"] == 0


def test_the_collective_threshold_counts_recent_reports_only(world, app, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    old = world.submitted(amy, workers_affected=6)
    case_id = world.accepted(old["id"])["case_id"]
    clock.advance(days=31)
    recent = world.submitted(ben, employer_name="扬州宏达建筑集团", workers_affected=6)
    world.accepted(recent["id"])
    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    assert case["workers"] == 12 and case["collective"] is False
    cai = world.worker("cai", "13800138003")
    world.accepted(world.submitted(cai, employer_name="扬州宏达建筑（集团）", workers_affected=4)["id"])
    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    assert case["collective"] is True  # 6 + 4 within 30 days; not the first report's
    assert [e["kind"] for e in case["timeline"]].count("collective") == 1


def test_annual_figures(world, app, client):
    amy, ben, cai = (world.worker(n, f"1380013800{i}") for i, n in enumerate(("amy", "ben", "cai")))
    first = world.submitted(amy, workers_affected=4, amount_owed=1000)
    second = world.submitted(ben, employer_name="扬州宏达建筑集团", workers_affected=2, amount_owed=500)
    world.submitted(cai, employer_name="另一家公司", workers_affected=7)
    case_id = world.accepted(first["id"])["case_id"]
    world.accepted(second["id"])
    world.moved(case_id, to="coordinating")
    world.moved(case_id, to="resolved", amount_recovered="1234.56")
    with app.app_context():
        everything = Scope(frozenset({"admin"}), None)
        assert annual_figures(everything, 2026) == {"reports": 3, "cases": 1, "resolved": 1, "workers": 6,
                                                    "amount_recovered": 1234.56}
        assert annual_figures(everything, 2025) == {"reports": 0, "cases": 0, "resolved": 0, "workers": 0,
                                                    "amount_recovered": 0.0}
        elsewhere = Scope(frozenset({"admin"}), frozenset({world.other}))
        assert annual_figures(elsewhere, 2026)["reports"] == 0
