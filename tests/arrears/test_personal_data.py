"""PIPL: a worker reads their reports in GET /me/data; DELETE /me anonymises them,
keeping amounts and counts (and the case) for the figures."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Notification
from models.arrears import ArrearsEvidence, ArrearsReport
from service.arrears.cases import annual_figures
from service.auth.permissions import Scope
from service.common import clock
from tests.arrears.helpers import NOW, World, png, query
from tests.helpers import bearer, error_code


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_me_data_shows_the_reports_decrypted(world, client):
    amy = world.worker("amy")
    report = world.submitted(amy, employer_credit_code="91110000600037341L")
    data = client.get("/api/v1/me/data", headers=bearer(amy)).get_json()
    (mine,) = data["arrears"]
    assert mine["id"] == report["id"] and mine["employer_credit_code"] == "91110000600037341L"
    assert mine["work_address"] == "扬州市广陵区文昌东路 88 号工地"
    assert mine["description"] == "工程完工后老板一直拖欠三个月工资"
    assert mine["amount_owed"] == "12000.50"


def test_erasure_keeps_amounts_and_counts_and_removes_the_rest(world, app, client, redis_client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    accepted = world.submitted(amy, workers_affected=5, amount_owed=3000)
    evidence_id = world.upload(amy, accepted["id"], png()).get_json()["id"]
    waiting = world.submitted(amy, employer_name="扬州顺风物流有限公司", workers_affected=2)
    world.upload(amy, waiting["id"], png())
    case_id = world.accepted(accepted["id"])["case_id"]
    world.accepted(world.submitted(ben, employer_name="扬州宏达建筑集团", workers_affected=1)["id"])
    with app.app_context():
        before = annual_figures(Scope(frozenset({"admin"}), None), 2026)

    resp = client.delete("/api/v1/me", headers=bearer(amy))
    assert resp.status_code == 204

    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    (erased, kept) = case["reports"]
    assert erased["id"] == accepted["id"] and erased["worker_id"] is None and erased["worker_phone"] is None
    assert (erased["work_address"], erased["description"], erased["evidence"]) == (None, None, [])
    assert (erased["amount_owed"], erased["workers_affected"], erased["status"]) == (3000.0, 5, "accepted")
    assert kept["description"] == "工程完工后老板一直拖欠三个月工资" and kept["worker_phone"] == "138****8002"
    assert (case["workers"], case["amount_owed"]) == (6, 15000.5)
    resp = client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(world.staff))
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    assert query(app, select(func.count(ArrearsEvidence.id))) == [(0,)]
    ((status, worker_id),) = query(app, select(ArrearsReport.status, ArrearsReport.worker_id)
                                   .where(ArrearsReport.id == waiting["id"]))
    assert (status, worker_id) == ("withdrawn", None)
    with app.app_context():
        assert annual_figures(Scope(frozenset({"admin"}), None), 2026) == before

    # a later step of the case reaches the remaining worker only
    world.moved(case_id, to="coordinating")
    assert query(app, select(func.count(Notification.id)).where(Notification.kind == "arrears_progress")) == [(1,)]
