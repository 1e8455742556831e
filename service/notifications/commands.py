"""``flask --app wsgi notifications work|send-due``: the outbox sender processes.

- ``work``: a long-running loop (one per host or more: they never send one
  message twice), sleeping ``--interval`` seconds between passes; SIGTERM or
  SIGINT ends it after the message in hand, giving back the rest of its batch.
- ``send-due``: one pass, for cron.
"""
from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from models import db
from service.notifications.sender import send_due

log = logging.getLogger("service.notifications")

notifications_group = AppGroup("notifications", help="微信订阅消息发件箱 / the notification outbox sender")


def run_worker(stop: threading.Event, interval: float, batch_size: int | None = None,
               max_passes: int | None = None) -> dict:
    """Pass after pass until ``stop`` is set (or ``max_passes`` ran); returns the totals.

    A failing pass (database or Redis down) is logged and retried after the
    interval: the loop itself never dies of it.
    """
    totals = {"sent": 0, "retried": 0, "refused": 0, "failed": 0, "cancelled": 0, "released": 0, "passes": 0}
    while not stop.is_set():
        try:
            result = send_due(batch_size, stop=stop)
            for key, value in result.as_dict().items():
                totals[key] += value
            if result.handled:
                log.info("notifications pass: %s", result.as_dict())
        except Exception:
            log.exception("notifications pass failed; trying again in %.1fs", interval)
            try:
                db.session.rollback()
            except Exception:  # pragma: no cover - the connection is gone
                pass
        finally:
            db.session.remove()
        totals["passes"] += 1
        if max_passes is not None and totals["passes"] >= max_passes:
            break
        stop.wait(interval)
    return totals


@notifications_group.command("work")
@click.option("--interval", type=float, default=None, help="seconds between passes (NOTIFY_POLL_SECONDS, 5)")
@click.option("--batch-size", type=int, default=None, help="messages claimed at a time (NOTIFY_BATCH_SIZE, 20)")
@click.option("--max-passes", type=int, default=None, hidden=True)
def work(interval, batch_size, max_passes):
    """Send due messages forever; stops cleanly on SIGTERM/SIGINT."""
    interval = float(interval if interval is not None else current_app.config["NOTIFY_POLL_SECONDS"])
    stop = threading.Event()
    previous = {}

    def _stop(signum, frame):
        log.info("notifications worker: signal %s, stopping after the current message", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _stop)
    click.echo(f"notifications worker started (interval {interval:g}s)", err=True)
    try:
        totals = run_worker(stop, interval, batch_size, max_passes)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("notifications worker stopped: " + ", ".join(f"{k}={v}" for k, v in totals.items()), err=True)


@notifications_group.command("send-due")
@click.option("--batch-size", type=int, default=None, help="messages claimed at a time (NOTIFY_BATCH_SIZE, 20)")
def send_due_command(batch_size):
    """Send every message due now, once (for cron)."""
    result = send_due(batch_size)
    click.echo(" ".join(f"{k}={v}" for k, v in result.as_dict().items()))
