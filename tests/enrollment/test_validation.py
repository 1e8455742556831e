"""The application form is checked like a government form: each bad field gets its own Chinese message."""
from __future__ import annotations

import datetime as dt

import pytest

from service.common import clock
from service.common.validators import check_digit, id_number_problem
from tests.enrollment import apply, make_id
from tests.helpers import error_code, login_worker, make_org

TODAY = dt.date(2026, 3, 1)


def with_check(first17: str) -> str:
    return first17 + check_digit(first17)


def test_the_standards_own_example_is_valid():
    assert id_number_problem("11010519491231002X", TODAY, 16) is None
    assert id_number_problem("11010519491231002x", TODAY, 16) is None  # lower-case x is the same number


@pytest.mark.parametrize("number,fragment", [
    ("110105194912310021", "校验位"),                      # wrong check digit
    (with_check("32100219990230123"), "出生日期"),          # 30 February
    (with_check("32100219991301123"), "出生日期"),          # month 13
    (with_check("32100221000101123"), "出生日期"),          # born in the future
    (with_check("99010519491231002"), "地区码"),            # no province 99
    (with_check("32000019900101123"), "地区码"),            # region 0000
    (with_check("32100220120101123"), "16"),               # 14 years old
    ("11010519491231002", "18 位"),                         # 17 characters
    ("1101051949123100XX", "18 位"),                        # X not in last place
    ("", "18 位"),
])
def test_invalid_id_numbers(number, fragment):
    problem = id_number_problem(number, TODAY, 16)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize("region", [
    "990101",   # no province 99 in any edition
    "321099",   # 扬州 has no county 99 in any edition: a real province is not enough
    "110199",   # nor 北京 a county 99
])
def test_a_region_code_that_never_existed(region):
    assert "地区码" in id_number_problem(with_check(f"{region}19900101123"), TODAY, 16)


@pytest.mark.parametrize("number", [
    with_check("32102719750101123"),  # 邗江县, until 2000: a Yangzhou county that no longer exists
    with_check("11010319800101123"),  # 崇文区 of 北京, merged away in 2010
    with_check("11011219850101123"),  # 通州区 since 1997, on the card of someone born in 1985
    with_check("44190019900101123"),  # 东莞市: a city without counties, its city code is the region
])
def test_a_region_code_of_any_edition_is_accepted(number):
    assert id_number_problem(number, TODAY, 16) is None


def test_sixteenth_birthday_is_old_enough():
    assert id_number_problem(with_check("32100220100301123"), TODAY, 16) is None
    assert "16" in id_number_problem(with_check("32100220100302123"), TODAY, 16)


def test_every_bad_field_gets_its_own_chinese_message(client, app):
    clock.freeze(clock.local(2026, 3, 1, 10))
    org = make_org(app)
    token = login_worker(client, "formfiller")
    resp = apply(client, token, org, id_number="110105194912310021", phone="12345",
                 occupation="other", consent=False, name="1", employer="")
    assert resp.status_code == 422
    assert error_code(resp) == "validation_error"
    fields = resp.get_json()["error"]["details"]["fields"]
    assert "校验位" in fields["id_number"][0]
    assert "手机号" in fields["phone"][0]
    assert "其他" in fields["occupation_other"][0]
    assert fields["consent"] and fields["name"] and fields["employer"]
    for messages in fields.values():
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in messages), fields


ONE_BAD_FIELD = [
    ({"id_number": with_check("32100219990230123")}, "id_number", "出生日期"),
    ({"id_number": with_check("99010519491231002")}, "id_number", "地区码"),
    ({"id_number": with_check("32109919900101123")}, "id_number", "地区码"),
    ({"id_number": make_id("20120101")}, "id_number", "16"),
    ({"gender": "female", "id_number": make_id(gender="male")}, "gender", "不符"),
    ({"gender": "male", "id_number": make_id(gender="female")}, "gender", "不符"),
    ({"occupation": "courier", "occupation_other": "送水工"}, "occupation_other", "仅在"),
    ({"consent": None}, "consent", "必填"),
    ({"gender": "unknown"}, "gender", "取值"),
    ({"organization_id": 999999}, "organization_id", "不存在"),
    ({"phone": "+86 139 1234 567"}, "phone", "手机号"),
    ({"phone": "021-12345678"}, "phone", "手机号"),
    ({"work_region": "   "}, "work_region", "工作区域"),
    ({"privacy_notice_version": "1999-01"}, "privacy_notice_version", "更新"),
]


def test_one_bad_field_one_message(client, app):
    clock.freeze(clock.local(2026, 3, 1, 10))
    org = make_org(app)
    token = login_worker(client, "onefield")
    for overrides, field, fragment in ONE_BAD_FIELD:
        resp = apply(client, token, org, **overrides)
        assert resp.status_code == 422, (overrides, resp.get_json())
        fields = resp.get_json()["error"]["details"]["fields"]
        assert list(fields) == [field], overrides
        assert fragment in fields[field][0], (overrides, fields)
    assert apply(client, token, org).status_code == 201  # nothing was stored meanwhile


def test_accepted_forms_normalise_what_people_type(client, app):
    clock.freeze(clock.local(2026, 3, 1, 10))
    org = make_org(app)
    token = login_worker(client, "typist")
    resp = apply(client, token, org, id_number="11010519491231002x", gender="female",
                 phone="+86 139-1234-5678", occupation="other", occupation_other="  送水工 ", name=" 欧阳  娜娜 ")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending"
    assert body["id_number"] == "110***********002X"
    assert body["phone"] == "139****5678"
    assert body["occupation_other"] == "送水工"
    assert body["name"] == "欧阳 娜娜"
    assert body["consent_version"] and body["consented_at"].endswith("+08:00")


def test_a_worker_from_a_county_since_abolished_can_join(client, app):
    clock.freeze(clock.local(2026, 3, 1, 10))
    org = make_org(app)
    token = login_worker(client, "hanjiangxian")
    resp = apply(client, token, org, id_number=with_check("32102719750101123"))  # 邗江县, until 2000
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["id_number"] == "321***********1232"


def test_an_organization_that_does_not_take_that_occupation(client, app):
    clock.freeze(clock.local(2026, 3, 1, 10))
    couriers = make_org(app, "快递行业工会", occupations=["courier"])
    token = login_worker(client, "driver")
    resp = apply(client, token, couriers, occupation="ride_hailing")
    assert resp.status_code == 422
    assert "不接收" in resp.get_json()["error"]["details"]["fields"]["occupation"][0]
