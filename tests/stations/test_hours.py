"""Opening hours and closures, on a controlled clock (2026-03-02 is a Monday)."""
from __future__ import annotations

import datetime as dt

import pytest

from service.common.clock import SHANGHAI, local
from service.stations.hours import DAYS, HoursError, is_open, normalise, normalise_closure

UTC = dt.UTC


def test_a_range_past_midnight_keeps_the_station_open_into_the_next_morning():
    hours = {"mon": ["22:00-06:00"]}
    assert is_open(hours, None, local(2026, 3, 2, 23, 0))       # Monday night
    assert is_open(hours, None, local(2026, 3, 3, 3, 0))        # Tuesday 03:00, Monday's range
    assert is_open(hours, None, local(2026, 3, 3, 5, 59))
    assert not is_open(hours, None, local(2026, 3, 3, 6, 0))    # ends exactly at 06:00
    assert not is_open(hours, None, local(2026, 3, 2, 3, 0))    # Monday 03:00: Sunday has nothing
    assert not is_open(hours, None, local(2026, 3, 2, 21, 59))
    assert not is_open(hours, None, local(2026, 3, 3, 23, 0))   # Tuesday night has no range


def test_sundays_past_midnight_range_opens_monday_morning():
    hours = {"sun": ["22:00-06:00"]}
    assert is_open(hours, None, local(2026, 3, 2, 3, 0))        # Monday 03:00
    assert not is_open(hours, None, local(2026, 3, 3, 3, 0))


def test_a_range_ends_exactly_at_its_minute_and_starts_at_its_first():
    hours = {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert not is_open(hours, None, local(2026, 3, 2, 7, 59, 59))
    assert is_open(hours, None, local(2026, 3, 2, 8, 0))
    assert is_open(hours, None, local(2026, 3, 2, 17, 59, 59))
    assert not is_open(hours, None, local(2026, 3, 2, 18, 0))


def test_several_ranges_a_day_leave_the_lunch_break_closed():
    hours = {"mon": ["07:00-11:30", "13:30-21:00"]}
    assert is_open(hours, None, local(2026, 3, 2, 11, 29))
    assert not is_open(hours, None, local(2026, 3, 2, 12, 0))
    assert is_open(hours, None, local(2026, 3, 2, 13, 30))


def test_a_missing_or_empty_day_is_closed():
    hours = {"mon": [], "tue": ["08:00-18:00"]}
    assert not is_open(hours, None, local(2026, 3, 2, 10, 0))   # Monday: empty
    assert is_open(hours, None, local(2026, 3, 3, 10, 0))
    assert not is_open(hours, None, local(2026, 3, 4, 10, 0))   # Wednesday: missing


def test_24h_is_always_open_and_midnight_end_means_end_of_day():
    assert is_open("24h", None, local(2026, 3, 2, 0, 0))
    assert is_open("24h", None, local(2026, 3, 8, 23, 59))
    assert is_open({"mon": ["20:00-24:00"]}, None, local(2026, 3, 2, 23, 59))
    assert is_open({"mon": ["20:00-00:00"]}, None, local(2026, 3, 2, 23, 59))
    assert not is_open({"mon": ["20:00-00:00"]}, None, local(2026, 3, 3, 0, 0))
    assert normalise("00:00-24:00") == "24h"
    assert normalise("全天") == "24h"


def test_a_closure_covers_its_dates_inclusively_in_shanghai_time():
    closure = {"from": "2026-03-02", "until": "2026-03-04", "reason": "装修"}
    assert is_open("24h", closure, local(2026, 3, 1, 23, 59))
    assert not is_open("24h", closure, local(2026, 3, 2, 0, 0))
    assert not is_open("24h", closure, local(2026, 3, 4, 23, 59))
    assert is_open("24h", closure, local(2026, 3, 5, 0, 0))
    # the same instants given in UTC: the Shanghai calendar date counts
    assert not is_open("24h", closure, dt.datetime(2026, 3, 1, 16, 30, tzinfo=UTC))   # 3-2 00:30 +08
    assert is_open("24h", closure, dt.datetime(2026, 3, 4, 16, 30, tzinfo=UTC))       # 3-5 00:30 +08
    assert not is_open("24h", closure, dt.datetime(2026, 3, 4, 15, 30, tzinfo=UTC))   # 3-4 23:30 +08


def test_a_closure_without_end_lasts_until_further_notice():
    closure = normalise_closure({"from": "2026-03-02", "until": None, "reason": None})
    assert not is_open("24h", closure, local(2027, 1, 1, 12, 0))
    assert is_open("24h", closure, local(2026, 3, 1, 12, 0))


def test_hours_are_read_on_the_shanghai_wall_clock():
    hours = {"mon": ["08:00-09:00"]}
    assert is_open(hours, None, dt.datetime(2026, 3, 2, 0, 30, tzinfo=UTC))    # 08:30 in Shanghai
    assert not is_open(hours, None, dt.datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    assert is_open(hours, None, dt.datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI))


def test_normalising_rewrites_ranges_and_fills_every_day():
    assert normalise("8:00~20:00") == {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    out = normalise({"sat": "9:30-12:00", "sun": []})
    assert out["sat"] == ["09:30-12:00"] and out["mon"] == [] and list(out) == [
        "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert normalise('{"mon": ["22:00-06:00"]}')["mon"] == ["22:00-06:00"]


@pytest.mark.parametrize("bad", ["25:00-26:00", "08:00-08:00", "8点到20点", "", {"xyz": ["08:00-09:00"]},
                                 {"mon": "08:00"}, {"mon": [8]}, 24, ["08:00-20:00"]])
def test_nonsense_hours_are_refused_in_chinese(bad):
    with pytest.raises(HoursError) as err:
        normalise(bad)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))


def test_a_closure_ending_before_it_starts_is_refused():
    with pytest.raises(HoursError):
        normalise_closure({"from": "2026-03-05", "until": "2026-03-01"})


@pytest.mark.parametrize("typed", [
    "08:00-11:30, 13:30-21:00", "08:00-11:30，13:30-21:00", "08:00-11:30、13:30-21:00", "08:00-11:30; 13:30-21:00",
    "8:00～11:30；13:30至21:00", "０８：００—１１：３０，１３：３０到２１：００", "08:00 - 11:30  13:30 -- 21:00",
])
def test_the_ways_clerks_type_two_ranges_a_day(typed):
    assert normalise(typed) == {day: ["08:00-11:30", "13:30-21:00"] for day in DAYS}
    assert normalise({"mon": typed})["mon"] == ["08:00-11:30", "13:30-21:00"]


def test_next_day_is_read_and_what_is_not_understood_is_named():
    assert normalise("22:00-次日06:00")["sun"] == ["22:00-06:00"]
    assert normalise("２４ｈ") == "24h"
    refused = {
        "8点-20点": "时间段“8点-20点”格式不正确",
        "08:00-12:00-14:00-18:00": "时间段“08:00-12:00-14:00-18:00”格式不正确",
        "08:00-12:00，下午 14:00-18:00": "时间段“下午 14:00-18:00”格式不正确",
        "0800-2000": "时间段“0800-2000”格式不正确",
        "08:00-次日20:00": "时间段“08:00-次日20:00”写了“次日”，但结束时间晚于开始时间，请核对",
        "25:00-26:00": "时间段“25:00-26:00”中的时间无效",
        ", ".join(["08:00-09:00"] * 7): "每天最多 6 个时间段",
    }
    for typed, message in refused.items():
        with pytest.raises(HoursError) as err:
            normalise(typed)
        assert str(err.value).startswith(message), (typed, str(err.value))
    with pytest.raises(HoursError) as err:
        normalise({"tue": "08:00-12:00，14点-18点"})
    assert str(err.value).startswith("周二：时间段“14点-18点”格式不正确")
