"""Validators of Chinese identity data, shared by every form that takes them.

``id_number_problem`` checks an 18-character resident ID (GB 11643) with
python-stdnum's ``cn.ric``: the format, a six-digit region code that names a
county or city in some edition of GB/T 2260 since 1980 (stdnum's table), a
real birth date and the ISO 7064 MOD 11-2 check digit.  It returns a Chinese
message naming the problem, or None when the number is valid.

The region is not required to have existed in the birth year (the check of
``ric.get_birth_place``): a number is given at registration, often years
after birth, so someone born in 1985 may rightly hold 110112 (通州区, since
1997); and a county since abolished (321027 邗江县, until 2000) stays on its
people's cards.
"""
from __future__ import annotations

import datetime as dt
import re

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from service.common import clock

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper()


def check_digit(first17: str) -> str:
    """The check digit of the first 17 digits (``ric.calc_check_digit`` reads those only)."""
    return ric.calc_check_digit(first17 + "0")


def region_known(code: str) -> bool:
    """Whether six digits name a county or a city (not a whole province) in some
    edition of GB/T 2260, abolished ones included."""
    if code.endswith("0000"):
        return False
    return any("county" in props for _, props in numdb.get("cn/loc").info(code))


def gender_of(id_number: str) -> str:
    """The 17th digit: odd male, even female."""
    return "male" if int(id_number[16]) % 2 == 1 else "female"


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def id_number_problem(value: str, today: dt.date | None = None, min_age: int | None = None) -> str | None:
    """None if ``value`` is a valid resident ID (and old enough), else why not, in Chinese."""
    number = normalise_id_number(value)
    if not _ID_RE.match(number):
        return "身份证号应为 18 位，前 17 位为数字，最后一位为数字或 X"
    if not region_known(number[:6]):
        return "身份证号的地区码无效"
    today = today or clock.today_local()
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent:
        born = None
    if born is None or born.year < 1900 or born > today:
        return "身份证号中的出生日期无效"
    if ric.calc_check_digit(number) != number[17]:
        return "身份证号校验位不正确，请核对"
    if min_age is not None and age_on(born, today) < min_age:
        return f"年满 {min_age} 周岁方可申请"
    return None


def is_mainland_mobile(value: str) -> bool:
    return bool(MOBILE_RE.match((value or "").strip()))
