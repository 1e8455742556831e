"""The database keeps the rules under concurrency (PostgreSQL, threads behind a barrier)."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from models import Notification
from models.arrears import ArrearsCase, ArrearsReport
from service.common import clock
from tests.arrears.helpers import NOW, World, query, report_body
from tests.helpers import bearer, bind_phone, login_worker, race


def _workers(client, n: int) -> list[str]:
    """n workers with bound phones, each signing in from an address of its own (the login limit is per address)."""
    tokens = []
    for i in range(n):
        client.environ_base["REMOTE_ADDR"] = f"10.8.0.{i + 1}"
        token = login_worker(client, f"racer{i}")
        bind_phone(client, token, f"139000000{i:02d}")
        tokens.append(token)
    client.environ_base.pop("REMOTE_ADDR", None)
    return tokens


def test_one_worker_reporting_one_employer_ten_times_at_once_gets_one_report(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    token = world.worker("tapper")
    body = report_body(organization_id=world.district)

    results = race(pg_app, [lambda c: c.post("/api/v1/arrears/reports", json=body, headers=bearer(token))
                             for _ in range(10)])

    assert Counter(results) == {(201, None): 1, (409, "report_pending"): 9}, Counter(results)
    assert query(pg_app, select(func.count(ArrearsReport.id))) == [(1,)]


def test_one_worker_reporting_one_credit_code_under_ten_names_at_once_gets_one_report(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    token = world.worker("namer")
    bodies = [report_body(organization_id=world.district, employer_name=f"宏达建筑第{n}分公司",
                          employer_credit_code="91110000600037341L") for n in range(10)]

    results = race(pg_app, [lambda c, body=body: c.post("/api/v1/arrears/reports", json=body, headers=bearer(token))
                             for body in bodies])

    assert Counter(results) == {(201, None): 1, (409, "report_pending"): 9}, Counter(results)
    assert query(pg_app, select(func.count(ArrearsReport.id))) == [(1,)]


def test_ten_staff_resolving_one_case_at_once_resolve_it_once(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    case_id = world.accepted(world.submitted(world.worker("amy"))["id"])["case_id"]
    world.moved(case_id, to="coordinating")
    body = {"to": "resolved", "amount_recovered": 12000.5, "note": "已足额支付"}

    results = race(pg_app, [lambda c: c.post(f"/api/v1/admin/arrears/cases/{case_id}/transition", json=body,
                                              headers=bearer(world.staff)) for _ in range(10)])

    assert Counter(results) == {(200, None): 1, (409, "invalid_state"): 9}, Counter(results)
    assert query(pg_app, select(func.count(Notification.id)).where(
        Notification.kind == "arrears_progress")) == [(2,)]  # coordinating, resolved: once each


def test_accepting_one_employers_reports_at_once_opens_one_case(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    names = ["扬州 宏达建筑（集团）有限公司", "扬州宏达建筑(集团)有限责任公司", "扬州宏达建筑集团"]
    reports = [world.submitted(token, employer_name=names[i % 3], workers_affected=1)["id"]
               for i, token in enumerate(_workers(pg_client, 10))]

    results = race(pg_app, [lambda c, r=r: c.post(f"/api/v1/admin/arrears/reports/{r}/accept",
                                                   headers=bearer(world.staff)) for r in reports])

    assert Counter(results) == {(200, None): 10}, Counter(results)
    assert query(pg_app, select(ArrearsCase.status, ArrearsCase.collective)) == [("accepted", True)]
    assert query(pg_app, select(func.count(func.distinct(ArrearsReport.case_id)))) == [(1,)]
    assert query(pg_app, select(func.count(ArrearsReport.id)).where(ArrearsReport.status == "accepted")) == [(10,)]


def test_accepting_one_report_twice_at_once_accepts_it_once(pg_app, pg_client):
    clock.freeze(NOW)
    world = World(pg_app, pg_client)
    report_id = world.submitted(world.worker("amy"))["id"]

    results = race(pg_app, [lambda c: c.post(f"/api/v1/admin/arrears/reports/{report_id}/accept",
                                              headers=bearer(world.staff)) for _ in range(6)])

    assert Counter(results) == {(200, None): 1, (409, "invalid_state"): 5}, Counter(results)
    assert query(pg_app, select(func.count(ArrearsCase.id))) == [(1,)]
    assert query(pg_app, select(func.count(Notification.id)).where(
        Notification.kind == "arrears_accepted")) == [(1,)]
