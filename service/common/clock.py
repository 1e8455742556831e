"""The service's clock.  Tests freeze or move it; nothing sleeps to wait for time.

All times are aware.  ``now()`` is UTC; ``local_now()`` is Asia/Shanghai, the
zone of serving days, slots and opening hours.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(UTC)


def local_now() -> dt.datetime:
    return now().astimezone(SHANGHAI)


def today_local() -> dt.date:
    return local_now().date()


def to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(SHANGHAI)


def local(year, month, day, hour=0, minute=0, second=0) -> dt.datetime:
    """An aware Asia/Shanghai datetime."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def freeze(at: dt.datetime | None) -> None:
    """Stop the clock at ``at`` (aware), or let it run again with ``None``."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC) if at is not None else None


def advance(**delta) -> None:
    global _frozen
    _frozen = now() + dt.timedelta(**delta)


@contextlib.contextmanager
def frozen(at: dt.datetime):
    previous = _frozen
    freeze(at)
    try:
        yield
    finally:
        freeze(previous)


def isoformat(value: dt.datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, the form every response uses."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).isoformat()
