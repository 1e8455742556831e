"""Races on PostgreSQL: the database keeps one pending application per ID number and
unique, gap-free member numbers, whatever arrives at the same moment."""
from __future__ import annotations

import threading
from collections import Counter

from service.common import clock
from tests.enrollment import apply, make_id, quick_staff
from tests.helpers import bearer, error_code, login_worker, make_org, outcome

QUEUE = "/api/v1/admin/enrollment/applications"


def run_together(app, jobs):
    """Run each job (a function of a fresh test client) in its own thread, all at once."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        client = app.test_client()
        barrier.wait()
        results[i] = job(client)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_workers_with_one_id_number_at_once(pg_app, pg_client):
    org = make_org(pg_app)
    id_number = make_id("19870707", "male")
    for attempt in range(3):
        tokens = [login_worker(pg_client, f"twin{attempt}a"), login_worker(pg_client, f"twin{attempt}b")]

        def job(token):
            def go(client):
                resp = apply(client, token, org, id_number=id_number)
                return outcome(resp), resp.get_json()
            return go

        results = run_together(pg_app, [job(t) for t in tokens])
        assert Counter(o for o, _ in results) == Counter({(201, None): 1, (409, "application_pending"): 1}), results
        won = [o for o, _ in results].index((201, None))
        assert pg_client.post(f"/api/v1/enrollment/applications/{results[won][1]['id']}/withdraw",
                              headers=bearer(tokens[won])).status_code == 200


def test_one_worker_submitting_twice_at_once(pg_app, pg_client):
    org = make_org(pg_app)
    token = login_worker(pg_client, "doubletap")
    results = run_together(pg_app, [
        lambda c: outcome(apply(c, token, org, id_number=make_id("19910101", "male"))),
        lambda c: outcome(apply(c, token, org, id_number=make_id("19910102", "male"))),
    ])
    assert Counter(results) == Counter({(201, None): 1, (409, "application_pending"): 1}), results
    mine = pg_client.get("/api/v1/enrollment/applications/mine", headers=bearer(token)).get_json()
    assert mine["total"] == 1


def test_concurrent_approvals_get_unique_sequential_member_numbers(pg_app, pg_client):
    clock.freeze(clock.local(2026, 5, 1, 10))
    org = make_org(pg_app)
    other = make_org(pg_app, "另一工会")
    ids = []
    for n in range(12):
        token = login_worker(pg_client, f"racer{n}")
        resp = apply(pg_client, token, org if n < 8 else other)
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
    reviewers = [quick_staff(pg_app, pg_client, "enrollment_reviewer") for _ in range(3)]

    def single(application_id, token):
        def go(client):
            resp = client.post(f"{QUEUE}/{application_id}/approve", headers=bearer(token))
            return outcome(resp), resp.get_json()
        return go

    def batch(application_ids, token):
        def go(client):
            resp = client.post(f"{QUEUE}/batch", json={"action": "approve", "ids": application_ids},
                               headers=bearer(token))
            return outcome(resp), resp.get_json()
        return go

    # single approvals of every application, plus two overlapping batches racing them
    jobs = [single(i, reviewers[n % 3]) for n, i in enumerate(ids)]
    jobs.append(batch(ids[::-1], reviewers[0]))
    jobs.append(batch(ids, reviewers[1]))
    results = run_together(pg_app, jobs)

    assert [o for o, _ in results[12:]] == [(200, None), (200, None)], results[12:]
    by_batch = [r for _, body in results[12:] for r in body["results"]]
    assert all(r["ok"] or r["code"] == "invalid_state" for r in by_batch), by_batch
    approved_by_batch = sum(r["ok"] for r in by_batch)
    # every application approved once: by its single approval or by one batch; the rest answer invalid_state
    assert Counter(o for o, _ in results[:12]) == Counter(
        {(200, None): 12 - approved_by_batch, (409, "invalid_state"): approved_by_batch}), results[:12]
    numbers = [body["member_no"] for o, body in results[:12] if o == (200, None)]
    numbers += [r["member_no"] for r in by_batch if r["ok"]]
    assert len(numbers) == 12 and len(set(numbers)) == 12  # each approved exactly once
    assert sorted(n for n in numbers if n.startswith(f"{org:04d}")) == [
        f"{org:04d}-2026-{k:06d}" for k in range(1, 9)]
    assert sorted(n for n in numbers if n.startswith(f"{other:04d}")) == [
        f"{other:04d}-2026-{k:06d}" for k in range(1, 5)]
    card = pg_client.get("/api/v1/admin/enrollment/applications", query_string={"status": "approved"},
                         headers=bearer(reviewers[0])).get_json()
    assert card["total"] == 12
    assert error_code(pg_client.post(f"{QUEUE}/{ids[0]}/approve", headers=bearer(reviewers[2]))) == "invalid_state"
