"""A value as WeChat accepts it in a subscribe message's keyword, by the keyword's type."""
from __future__ import annotations

import datetime as dt
import re

from service.common import clock

# WeChat subscribe-message keyword types → the most characters a value may have.
LIMITS = {
    "thing": 20,
    "phrase": 5,
    "name": 10,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "amount": 10,
    "phone_number": 17,
    "car_number": 8,
}
_KEY_TYPE = re.compile(r"^([a-z_]+?)\d*$")
EMPTY = {"thing": "无", "phrase": "无", "name": "无"}


def keyword_type(key: str) -> str:
    """``thing1`` → ``thing``; ``character_string2`` → ``character_string``."""
    match = _KEY_TYPE.match(key)
    return match.group(1) if match else key


def _as_datetime(value) -> dt.datetime | None:
    if isinstance(value, dict):
        value = value.get("datetime") or value.get("date")
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=clock.SHANGHAI)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if len(value) == 10:  # a bare date
            return moment.replace(tzinfo=clock.SHANGHAI)
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.SHANGHAI)
    return moment.astimezone(clock.SHANGHAI)


def format_value(key: str, value) -> str:
    """One keyword's value as WeChat accepts it.

    ``time*`` → ``YYYY年MM月DD日 HH:mm`` and ``date*`` → ``YYYY年MM月DD日``
    (Asia/Shanghai); text types cut to WeChat's length (``thing`` 20,
    ``phrase`` 5, ``name`` 10, ``character_string``/``number`` 32 …), a
    ``thing`` ending in "…" when cut.
    """
    kind = keyword_type(key)
    if kind in ("time", "date"):
        moment = _as_datetime(value)
        if moment is None:
            return str(value or "")[:20] or "-"
        return moment.strftime("%Y年%m月%d日 %H:%M" if kind == "time" else "%Y年%m月%d日")
    if isinstance(value, dict):
        moment = _as_datetime(value)
        value = moment.strftime("%Y年%m月%d日 %H:%M") if moment else ""
    text = " ".join(str(value if value is not None else "").split())
    if not text:
        return EMPTY.get(kind, "-")
    limit = LIMITS.get(kind)
    if limit is None or len(text) <= limit:
        return text
    if kind == "thing":
        return text[:limit - 1] + "…"
    return text[:limit]
