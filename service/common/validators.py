"""Validators of Chinese identity data, shared by every form that takes them.

``id_number_problem`` checks an 18-character resident ID by GB 11643: a real
province code in the first two digits of the six-digit region code, a real
birth date, and the ISO 7064 MOD 11-2 check digit.  It returns a Chinese
message naming the problem, or None when the number is valid.
"""
from __future__ import annotations

import datetime as dt
import re

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# GB/T 2260 province-level codes.
PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西", "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾", "81": "香港", "82": "澳门",
}


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper()


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def birth_date(id_number: str) -> dt.date | None:
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


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
    if number[:2] not in PROVINCES or number[2:6] == "0000":
        return "身份证号的地区码无效"
    born = birth_date(number)
    today = today or dt.date.today()
    if born is None or born.year < 1900 or born > today:
        return "身份证号中的出生日期无效"
    if check_digit(number[:17]) != number[17]:
        return "身份证号校验位不正确，请核对"
    if min_age is not None and age_on(born, today) < min_age:
        return f"年满 {min_age} 周岁方可申请"
    return None


def is_mainland_mobile(value: str) -> bool:
    return bool(MOBILE_RE.match((value or "").strip()))
