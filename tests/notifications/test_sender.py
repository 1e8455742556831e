"""The outbox sender: every owed message reaches WeChat once, late rather than never."""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from service.common import clock
from tests.helpers import bearer, login_worker
from tests.legal_aid.helpers import NOW, World, at, book
from wechat import fake

ROOT = Path(__file__).resolve().parents[2]


def worker_id(client, name: str) -> tuple[int, str]:
    token = login_worker(client, name)
    return client.get("/api/v1/me", headers=bearer(token)).get_json()["id"], token


def owe(app, worker: int, kind: str = "enrollment_approved", data: dict | None = None, **kwargs) -> int:
    from models import db
    from service.notifications.outbox import enqueue

    with app.app_context():
        note = enqueue(worker, kind, data if data is not None else {
            "matter": "工会入会申请", "organization": "广陵区总工会", "result": "已通过",
            "reviewed_at": clock.now(), "remark": "会员编号0002-2026-000001", "application_id": 1}, **kwargs)
        db.session.commit()
        return note.id


def statuses(app) -> dict[int, tuple[str, int]]:
    from models import Notification, db

    with app.app_context():
        rows = db.session.query(Notification.id, Notification.status, Notification.attempts).all()
        db.session.remove()
    return {i: (s, a) for i, s, a in rows}


def send(app, **kwargs):
    from models import db
    from service.notifications.sender import send_due

    with app.app_context():
        try:
            return send_due(**kwargs)
        finally:
            db.session.remove()


# --- formatting ----------------------------------------------------------------------

def test_values_are_trimmed_and_formatted_per_keyword_type():
    from service.notifications.formatting import format_value

    at = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai
    data = {key: format_value(key, value) for key, value in {
        "thing1": "工会入会申请审核结果通知，请您及时查看并保存会员证",
        "phrase2": "审核已经通过了",
        "name3": "欧阳娜娜娜娜娜娜娜娜娜",
        "character_string4": "A" * 40,
        "number5": "1" * 40,
        "time6": {"datetime": at.isoformat()},
        "date7": {"date": "2026-03-02"},
        "time8": at,
        "thing9": None,
        "thing10": "短",
    }.items()}
    assert data["thing1"] == "工会入会申请审核结果通知，请您及时查看…"
    assert len(data["thing1"]) == 20
    assert data["phrase2"] == "审核已经通"
    assert data["name3"] == "欧阳娜娜娜娜娜娜娜娜"
    assert data["character_string4"] == "A" * 32
    assert data["number5"] == "1" * 32
    assert data["time6"] == "2026年03月02日 09:30"
    assert data["date7"] == "2026年03月02日"
    assert data["time8"] == "2026年03月02日 09:30"
    assert data["thing9"] == "无"
    assert data["thing10"] == "短"


# --- sending -------------------------------------------------------------------------

def test_a_due_message_is_sent_once(app, client, redis_client):
    worker, _ = worker_id(client, "amy")
    note = owe(app, worker)
    result = send(app)
    assert result.sent == 1
    messages = fake.sent_messages(redis_client)
    assert len(messages) == 1
    assert messages[0]["touser"] == "fake-amy"
    assert messages[0]["page"] == "pages/enrollment/card/index"
    assert messages[0]["data"]["thing2"] == {"value": "广陵区总工会"}
    assert statuses(app)[note] == ("sent", 1)
    assert send(app).sent == 0
    assert len(fake.sent_messages(redis_client)) == 1


def test_a_delayed_message_waits_for_its_time(app, client, redis_client):
    clock.freeze(clock.local(2026, 4, 1, 9))
    worker, _ = worker_id(client, "ben")
    owe(app, worker, "booking_reminder", {"topic": "法律咨询", "starts_at": clock.now(), "booking_id": 3},
        send_after=clock.local(2026, 4, 2, 9))
    assert send(app).sent == 0
    clock.freeze(clock.local(2026, 4, 2, 8, 59))
    assert send(app).sent == 0
    clock.freeze(clock.local(2026, 4, 2, 9))
    assert send(app).sent == 1
    assert len(fake.sent_messages(redis_client)) == 1


def test_wechat_down_delays_but_never_loses_a_message(app, client, redis_client):
    clock.freeze(clock.local(2026, 4, 1, 9))
    worker, _ = worker_id(client, "cora")
    note = owe(app, worker)
    fake.set_mode(redis_client, "down")
    assert send(app).retried == 1
    assert statuses(app)[note] == ("pending", 1)
    clock.advance(seconds=10)
    assert send(app).handled == 0  # backing off
    clock.advance(seconds=30)
    assert send(app).retried == 1  # still down: tried again, backs off longer
    assert statuses(app)[note] == ("pending", 2)
    assert fake.sent_messages(redis_client) == []

    fake.set_mode(redis_client, "normal")
    clock.advance(seconds=59)
    assert send(app).sent == 0
    clock.advance(seconds=1)
    assert send(app).sent == 1
    assert statuses(app)[note] == ("sent", 3)
    assert len(fake.sent_messages(redis_client)) == 1


def test_attempts_run_out(app, client, redis_client):
    clock.freeze(clock.local(2026, 4, 1, 9))
    worker, _ = worker_id(client, "dora")
    note = owe(app, worker)
    fake.set_mode(redis_client, "busy")
    saved = app.config["NOTIFY_MAX_ATTEMPTS"]
    app.config["NOTIFY_MAX_ATTEMPTS"] = 3
    try:
        for _ in range(5):
            send(app)
            clock.advance(hours=2)
    finally:
        app.config["NOTIFY_MAX_ATTEMPTS"] = saved
    assert statuses(app)[note] == ("failed", 3)


def test_a_refusal_is_final(app, client, redis_client):
    clock.freeze(clock.local(2026, 4, 1, 9))
    worker, _ = worker_id(client, "eve")
    fake.refuse_user(redis_client, "fake-eve")
    note = owe(app, worker)
    assert send(app).refused == 1
    clock.advance(days=2)
    assert send(app).handled == 0
    assert statuses(app)[note] == ("refused", 1)
    assert fake.call_counts(redis_client).get("cgi-bin/message/subscribe/send") == 1
    from models import Notification, db
    with app.app_context():
        assert db.session.get(Notification, note).last_errcode == 43101


def test_bad_data_fails_for_good_and_unknown_kinds_too(app, client, redis_client, caplog):
    worker, _ = worker_id(client, "fay")
    # the mini-program's template has other keywords than the ones configured: WeChat refuses (47003)
    fake.set_templates(redis_client, {"tmpl-enrollment-result": ["thing1", "thing2", "thing3"]})
    mismatched = owe(app, worker)
    unknown = owe(app, worker, kind="no_such_kind")
    caplog.set_level(logging.WARNING, logger="service.notifications.sender")
    result = send(app)
    logged = caplog.text
    assert "failed for good" in logged and "wechat_bad_data" in logged and "no template" in logged
    assert "fake-fay" not in logged  # no openid in the logs
    assert result.failed == 2
    assert statuses(app)[mismatched] == ("failed", 1) and statuses(app)[unknown] == ("failed", 1)
    assert fake.sent_messages(redis_client) == []


def test_an_erased_worker_gets_nothing(app, client, redis_client):
    worker, token = worker_id(client, "gus")
    note = owe(app, worker)
    assert client.delete("/api/v1/me", headers=bearer(token)).status_code == 204
    send(app)
    assert statuses(app)[note][0] == "cancelled"
    assert fake.sent_messages(redis_client) == []


def test_a_claimed_message_is_not_sent_by_another_sender_until_its_lease_ends(app, client, redis_client):
    from models import db
    from service.notifications.sender import claim

    clock.freeze(clock.local(2026, 4, 1, 9))
    worker, _ = worker_id(client, "hal")
    note = owe(app, worker)
    with app.app_context():
        _, mine = claim(10)  # a sender that died right after claiming
        db.session.remove()
    assert mine == [note]
    assert send(app).handled == 0
    clock.advance(seconds=app.config.get("NOTIFY_LEASE_SECONDS", 300) + 1)
    assert send(app).sent == 1
    assert statuses(app)[note] == ("sent", 2)


def test_two_senders_deliver_each_message_exactly_once(pg_app, pg_client, redis_client):
    workers = [worker_id(pg_client, f"pair{n}")[0] for n in range(4)]
    for n in range(40):
        owe(pg_app, workers[n % 4], data={"matter": f"消息{n}", "reviewed_at": clock.now()})
    # Each send takes a while, so neither sender can empty the outbox before the other has claimed
    # its own batches; well within the timeout, so no send is retried.
    fake.set_mode(redis_client, "slow", delay=pg_app.config["WECHAT_TIMEOUT"] / 20)
    barrier = threading.Barrier(2)
    shares = {}

    def sender(name):
        barrier.wait()
        shares[name] = send(pg_app, batch_size=3).as_dict()

    threads = [threading.Thread(target=sender, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(shares) == ["a", "b"]
    assert shares["a"]["sent"] >= 1 and shares["b"]["sent"] >= 1, shares
    assert shares["a"]["sent"] + shares["b"]["sent"] == 40, shares
    assert all(count == 0 for share in shares.values() for what, count in share.items() if what != "sent"), shares
    sent = Counter(m["data"]["thing1"]["value"] for m in fake.sent_messages(redis_client))
    assert sent == Counter(f"消息{n}" for n in range(40))  # every message, none twice
    assert set(statuses(pg_app).values()) == {("sent", 1)}  # each claimed once


def test_a_reminder_withdrawn_after_the_sender_claimed_it_is_not_sent(app, client, redis_client):
    from models import db
    from service.notifications.sender import PassResult, claim, send_one

    clock.freeze(NOW)
    world = World(app, client)
    alice = login_worker(client, "withdrawn")
    booking = book(client, alice, world.slot(at(5, 10))).get_json()
    clock.freeze(at(4, 11))  # the reminder is due; the booking can still be cancelled
    with app.app_context():
        token, claimed = claim(10)  # the sender holds the confirmation and the reminder ...
        db.session.remove()
    assert len(claimed) == 2
    resp = client.post(f"/api/v1/legal-aid/bookings/{booking['id']}/cancel", headers=bearer(alice))
    assert resp.status_code == 200  # ... when the worker cancels, which withdraws the reminder
    result = PassResult()
    with app.app_context():
        for note_id in claimed:
            send_one(note_id, token, result)
        db.session.remove()
    assert result.sent == 1
    assert [m["template_id"] for m in fake.sent_messages(redis_client)] == ["tmpl-booking-confirmed"]
    assert sorted(s for s, _ in statuses(app).values()) == ["cancelled", "sent"]


def test_a_withdrawal_racing_the_sender_either_stops_the_message_or_leaves_it_sent(pg_app, pg_client, redis_client):
    """Whatever the interleaving, the outbox tells the truth: ``sent`` exactly when WeChat
    got the message, ``cancelled`` exactly when it did not."""
    from models import db
    from service.notifications.outbox import cancel_pending
    from service.notifications.sender import PassResult, claim, send_one

    worker, _ = worker_id(pg_client, "racer")
    outcomes = []
    for n in range(12):
        note = owe(pg_app, worker, "booking_reminder", {"topic": "法律咨询", "starts_at": clock.now(), "booking_id": n},
                   dedupe_key=f"booking-reminder:{n}")
        with pg_app.app_context():
            token, claimed = claim(10)
            db.session.remove()
        assert claimed == [note]
        barrier = threading.Barrier(2)

        def sender():
            with pg_app.app_context():
                barrier.wait()
                send_one(note, token, PassResult())
                db.session.remove()

        def withdrawal():
            with pg_app.app_context():
                barrier.wait()
                cancel_pending(f"booking-reminder:{n}")
                db.session.commit()
                db.session.remove()

        threads = [threading.Thread(target=sender), threading.Thread(target=withdrawal)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        received = len(fake.sent_messages(redis_client))
        fake.reset(redis_client)
        status = statuses(pg_app)[note][0]
        outcomes.append(status)
        assert (status, received) in (("sent", 1), ("cancelled", 0)), (n, status, received)
    assert set(outcomes) <= {"sent", "cancelled"}


# --- the commands ----------------------------------------------------------------------

def test_send_due_and_work_commands(app, client, redis_client):
    worker, _ = worker_id(client, "ivy")
    owe(app, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "send-due"])
    assert result.exit_code == 0 and "sent=1" in result.output
    owe(app, worker, data={"matter": "第二条"})
    result = runner.invoke(args=["notifications", "work", "--interval", "0", "--max-passes", "2"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output and "passes=2" in result.output
    assert len(fake.sent_messages(redis_client)) == 2


def test_work_runs_until_sigterm(request, redis_client):
    from tests.conftest import _session_app, clean

    app = _session_app("sqlite", request)
    clean(app, redis_client)
    with app.app_context():
        from models import Worker, db
        w = Worker(openid="fake-jack", created_at=clock.now())
        db.session.add(w)
        db.session.commit()
        jack = w.id
    owe(app, jack)
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": app.config["REDIS_URL"], "WECHAT_API_BASE": app.config["WECHAT_API_BASE"]}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "work",
                             "--interval", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not fake.sent_messages(redis_client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(fake.sent_messages(redis_client)) == 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in err and "sent=1" in err
