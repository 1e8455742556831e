"""Opening hours and temporary closures of a station: a pure module (no Flask, no database).

Forms accepted for ``opening_hours``:

- ``"24h"`` (also ``24小时`` / ``全天`` / ``00:00-24:00`` on input): always open;
- ``{"mon": ["08:00-12:00", "14:00-18:00"], ..., "sun": [...]}``: weekday
  keys ``mon`` … ``sun``; a missing or empty day is closed; a range whose end
  is not after its start passes midnight (``"22:00-06:00"`` on Monday keeps the
  station open Tuesday until 06:00); ``24:00`` may end a range;
- on input only, a string of ranges: the same ranges every day.

The grammar of ranges on input, one for the API, the console form and the
spreadsheet import (``parse_ranges``): ``HH:MM-HH:MM`` ranges separated by
``,`` ``，`` ``、`` ``;`` ``；`` or blanks (``08:00-11:30, 13:30-21:00``);
full-width characters count as their plain forms (``０８：００``); between
the two times ``-`` ``–`` ``—`` ``――`` ``~`` ``～`` ``至`` or ``到``, and the end
may say ``次日`` (next day).  Anything else is refused with a Chinese message
naming the piece that was not understood.

A range contains its start minute and excludes its end minute: with
``"08:00-18:00"`` the station is open at 17:59 and closed at 18:00.

``closure`` is ``{"from": "YYYY-MM-DD", "until": "YYYY-MM-DD" | None, "reason": str}``:
closed on every Asia/Shanghai calendar date from ``from`` to ``until``, both
inclusive (``until`` null: until further notice).

``is_open(opening_hours, closure, local_datetime)`` answers for one moment;
the moment's Asia/Shanghai wall clock is what counts.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五", "sat": "周六", "sun": "周日"}
ALWAYS = "24h"
MAX_RANGES_PER_DAY = 6
_ALWAYS_WORDS = {"24h", "24小时", "24 小时", "全天", "全天开放", "24小时开放", "00:00-24:00", "0:00-24:00"}
# One range, after NFKC (full-width digits, colons, tildes and hyphens are plain by then).
_RANGE = r"(\d{1,2})\s*:\s*(\d{2})\s*(?:[-‐‑–—―−~〜]{1,2}|至|到)\s*(次日|翌日)?\s*(\d{1,2})\s*:\s*(\d{2})"
_RANGE_RE = re.compile(f"^{_RANGE}$")
_ONE_RANGE = re.compile(_RANGE)
_PIECES = re.compile(r"[,;、]")


class HoursError(ValueError):
    """Opening hours or a closure that cannot be understood; ``str()`` is a Chinese message."""


# --- opening hours -----------------------------------------------------------------

def parse_range(text) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` → (start minute, end minute); end 0 means midnight (1440).

    The end may be before the start (the range passes midnight).  Raises
    HoursError for a malformed range, an impossible time or start == end.
    """
    if not isinstance(text, str):
        raise HoursError("时间段应为“HH:MM-HH:MM”格式的文本")
    m = _RANGE_RE.match(_plain(text).strip())
    if not m:
        raise HoursError(f"时间段“{text.strip()}”格式不正确，应为 HH:MM-HH:MM，例如 08:00-20:00")
    next_day = m.group(3) is not None
    sh, sm, eh, em = (int(m.group(i)) for i in (1, 2, 4, 5))
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em != 0):
        raise HoursError(f"时间段“{text.strip()}”中的时间无效")
    start, end = sh * 60 + sm, eh * 60 + em
    if next_day and end > start:
        raise HoursError(f"时间段“{text.strip()}”写了“{m.group(3)}”，但结束时间晚于开始时间，请核对")
    if end == 0:
        end = 1440
    if start == end:
        raise HoursError(f"时间段“{text.strip()}”的开始和结束时间不能相同")
    return start, end


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _normal_range(text: str) -> str:
    start, end = parse_range(text)
    return f"{_fmt(start)}-{_fmt(end)}"


def parse_ranges(text: str) -> list[str]:
    """A day's ranges as typed → ``["HH:MM-HH:MM", …]`` (empty text: none).

    ``08:00-11:30, 13:30-21:00``, ``8:00～11:30；13:30至21:00`` and
    ``08:00-11:30 13:30-21:00`` are the same two ranges.  Raises HoursError
    naming the first piece that is not a range (``8点-20点``, ``08:00-12:00-14:00``).
    """
    out: list[str] = []
    for piece in _PIECES.split(_plain(text)):
        piece = piece.strip()
        rest = piece
        while rest:
            m = _ONE_RANGE.match(rest)
            if m is None or (m.end() < len(rest) and not rest[m.end()].isspace()):
                raise HoursError(f"时间段“{piece}”格式不正确，应为 HH:MM-HH:MM，多个时间段用逗号分隔，"
                                 "例如 08:00-11:30, 13:30-21:00")
            out.append(_normal_range(m.group(0)))
            rest = rest[m.end():].lstrip()
    return out


def _day_ranges(value, day: str) -> list[str]:
    """One weekday's value of the object form: a list of ranges or a string of them."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise HoursError(f"{DAY_NAMES[day]}的开放时间应为时间段列表")
    try:
        ranges = [r for item in items for r in parse_ranges(item)]
    except HoursError as err:
        raise HoursError(f"{DAY_NAMES[day]}：{err}") from None
    if len(ranges) > MAX_RANGES_PER_DAY:
        raise HoursError(f"{DAY_NAMES[day]}最多 {MAX_RANGES_PER_DAY} 个时间段")
    return ranges


def normalise(value):
    """The stored form of ``value``: ``"24h"`` or a dict with all seven days.

    Ranges are rewritten as ``HH:MM-HH:MM`` (``8:00~20:00`` → ``08:00-20:00``);
    a string of ranges (``parse_ranges``) means the same ranges every day.
    Raises HoursError (Chinese message) for anything else.
    """
    if isinstance(value, str):
        text = _plain(value).strip()
        if text.lower() in _ALWAYS_WORDS:
            return ALWAYS
        if not text:
            raise HoursError("开放时间不能为空")
        if text.startswith("{"):
            try:
                return normalise(json.loads(text))
            except json.JSONDecodeError:
                raise HoursError("开放时间不是有效的 JSON 对象") from None
        ranges = parse_ranges(text)
        if len(ranges) > MAX_RANGES_PER_DAY:
            raise HoursError(f"每天最多 {MAX_RANGES_PER_DAY} 个时间段")
        if ranges == ["00:00-24:00"]:
            return ALWAYS
        return {day: list(ranges) for day in DAYS}
    if isinstance(value, dict):
        unknown = [str(k) for k in value if k not in DAYS]
        if unknown:
            raise HoursError("开放时间中有未知的星期：" + "、".join(unknown) + "（应为 mon … sun）")
        return {day: _day_ranges(value.get(day), day) for day in DAYS}
    raise HoursError("开放时间应为“24h”或按星期列出的时间段")


def compile_hours(value) -> tuple[tuple[tuple[int, int], ...], ...] | None:
    """Normalised hours → per weekday (Monday = 0) the open minute intervals
    ``[start, end)`` of that calendar day, past-midnight tails moved onto the
    next day (Sunday's onto Monday).  ``None`` for always open."""
    if value == ALWAYS:
        return None
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for index, day in enumerate(DAYS):
        for text in value.get(day) or []:
            start, end = parse_range(text)
            if end > start:
                days[index].append((start, end))
            else:  # passes midnight
                days[index].append((start, 1440))
                days[(index + 1) % 7].append((0, end))
    return tuple(tuple(sorted(d)) for d in days)


def open_at_minute(compiled, weekday: int, minute: int) -> bool:
    if compiled is None:
        return True
    for start, end in compiled[weekday]:
        if start <= minute < end:
            return True
    return False


# --- closures --------------------------------------------------------------------

def _as_date(value, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    label = "开始日期" if field == "from" else "结束日期"
    raise HoursError(f"暂停开放的{label}格式无效（YYYY-MM-DD）")


def normalise_closure(value) -> dict | None:
    """``{"from": "YYYY-MM-DD", "until": "YYYY-MM-DD" | None, "reason": str | None}`` or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HoursError("暂停开放应为包含 from、until、reason 的对象")
    start = _as_date(value.get("from"), "from")
    if start is None:
        raise HoursError("暂停开放需要开始日期（from）")
    until = _as_date(value.get("until"), "until")
    if until is not None and until < start:
        raise HoursError("暂停开放的结束日期不能早于开始日期")
    reason = value.get("reason")
    if reason is not None:
        reason = str(reason).strip()[:200] or None
    return {"from": start.isoformat(), "until": until.isoformat() if until else None, "reason": reason}


def closed_on(closure, day: dt.date) -> bool:
    """True when ``closure`` covers the calendar date ``day`` (both ends inclusive)."""
    if not closure:
        return False
    start = _as_date(closure.get("from"), "from")
    until = _as_date(closure.get("until"), "until")
    if start is not None and day < start:
        return False
    if until is not None and day > until:
        return False
    return True


# --- the question ------------------------------------------------------------------

def is_open(opening_hours, closure, local_datetime: dt.datetime) -> bool:
    """Is the station open at ``local_datetime``?

    An aware datetime is read on the Asia/Shanghai wall clock; a naive one is
    taken to be Shanghai wall-clock time already.  Closed on a closure date
    whatever the hours say.  Seconds are ignored: open at 17:59:59 and closed
    at 18:00:00 for a range ending at 18:00.
    """
    local = local_datetime.astimezone(SHANGHAI) if local_datetime.tzinfo else local_datetime
    if closed_on(closure, local.date()):
        return False
    value = opening_hours if opening_hours == ALWAYS else normalise(opening_hours)
    return open_at_minute(compile_hours(value), local.weekday(), local.hour * 60 + local.minute)


def moment(local_datetime: dt.datetime) -> tuple[dt.date, int, int]:
    """(date, weekday, minute of day) of a moment in Asia/Shanghai: computed once per query."""
    local = local_datetime.astimezone(SHANGHAI)
    return local.date(), local.weekday(), local.hour * 60 + local.minute


def canonical(value):
    """Hours with the weekdays in calendar order (JSONB reorders object keys)."""
    if isinstance(value, dict):
        return {day: list(value[day]) for day in DAYS if day in value}
    return value


def canonical_closure(value):
    """A closure with its keys in the documented order, or None."""
    if not value:
        return None
    return {"from": value.get("from"), "until": value.get("until"), "reason": value.get("reason")}
