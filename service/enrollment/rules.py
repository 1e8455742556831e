"""The rules of an enrollment form, checked field by field like a government form.

``application_problems`` returns ``{"field": ["中文消息", …]}`` for every bad
field at once (empty when the form is acceptable).  The schema calls it so a
worker sees all problems in one 422, and the service calls it again so no
other path (demo data, a future import) can skip it.
"""
from __future__ import annotations

import datetime as dt
import re

from models import Organization, db
from models.enrollment import GENDERS, OCCUPATIONS
from service.common.validators import gender_of, id_number_problem, is_mainland_mobile, normalise_id_number

MIN_AGE = 16
NAME_MIN, NAME_MAX = 2, 50
OCCUPATION_LABELS = {
    "courier": "快递员",
    "food_delivery": "外卖送餐员",
    "ride_hailing": "网约车司机",
    "truck_driver": "货车司机",
    "other": "其他",
}
GENDER_LABELS = {"male": "男", "female": "女"}
_NAME_PUNCT = set("·•. ")
_PHONE_PREFIX = re.compile(r"^(?:\+?86|0086)(?=1\d{10}$)")

assert set(OCCUPATION_LABELS) == set(OCCUPATIONS)


def normalise_name(value: str) -> str:
    return " ".join((value or "").split())


def normalise_phone(value: str) -> str:
    """``+86 138-0013-8000`` → ``13800138000``."""
    raw = re.sub(r"[\s-]", "", value or "")
    return _PHONE_PREFIX.sub("", raw)


def name_problem(value: str) -> str | None:
    name = normalise_name(value)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"姓名应为 {NAME_MIN} 到 {NAME_MAX} 个字"
    if not all(ch.isalpha() or ch in _NAME_PUNCT for ch in name) or not any(ch.isalpha() for ch in name):
        return "姓名只能包含文字和间隔号（·）"
    return None


def occupation_label(occupation: str | None, other: str | None = None) -> str | None:
    if occupation == "other" and other:
        return other
    return OCCUPATION_LABELS.get(occupation or "")


def application_problems(data: dict, today: dt.date, notice_version: str) -> dict[str, list[str]]:
    """Every problem of an application form (fields already of the right types).

    Checks: the name; the resident ID by GB 11643 (``id_number_problem``: a
    region code of some edition of GB/T 2260, birth date, check digit) and age
    ``MIN_AGE`` or over; the gender against the ID's sequence
    digit; a mainland mobile number; employer and work region not blank;
    ``occupation_other`` given exactly when
    the occupation is ``other``; consent given to the current privacy notice;
    the organization exists, takes members and takes that occupation.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.get("name") is not None:
        problem = name_problem(data["name"])
        if problem:
            add("name", problem)

    if data.get("id_number") is not None:
        number = normalise_id_number(data["id_number"])
        problem = id_number_problem(number, today, MIN_AGE)
        if problem:
            add("id_number", problem)
        elif data.get("gender") in GENDERS and gender_of(number) != data["gender"]:
            add("gender", "性别与身份证号不符，请核对")

    if data.get("phone") is not None and not is_mainland_mobile(normalise_phone(data["phone"])):
        add("phone", "请填写有效的中国大陆手机号（11 位数字）")

    for key, label in (("employer", "工作平台或单位"), ("work_region", "工作区域")):
        if data.get(key) is not None and not data[key].strip():
            add(key, f"请填写{label}")

    occupation = data.get("occupation")
    other = (data.get("occupation_other") or "").strip()
    if occupation == "other" and not other:
        add("occupation_other", "职业选择“其他”时，请填写具体职业")
    elif occupation is not None and occupation != "other" and other:
        add("occupation_other", "仅在职业选择“其他”时填写")

    if "consent" in data and data["consent"] is not True:
        add("consent", "请阅读并同意《个人信息保护说明》后再提交")
    version = data.get("privacy_notice_version")
    if version is not None and version != notice_version:
        add("privacy_notice_version", "个人信息保护说明已更新，请重新阅读并同意")

    if data.get("organization_id") is not None:
        org = db.session.get(Organization, data["organization_id"])
        if org is None:
            add("organization_id", "所选工会组织不存在")
        elif not org.accepts_members:
            add("organization_id", "所选工会组织暂不接收入会申请，请选择其他组织")
        elif occupation and org.occupations and occupation not in org.occupations:
            add("occupation", f"“{org.name}”不接收该职业的会员，请选择对应的工会组织")
    return errors
