"""Bad input is a 422 naming each field in Chinese — never a 500."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from service.common import clock
from tests.arrears.helpers import NOW, World, jpeg, png
from tests.helpers import bearer, error_code


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def fields_of(resp) -> dict[str, list[str]]:
    assert resp.status_code == 422, (resp.status_code, resp.get_json())
    assert error_code(resp) == "validation_error"
    return resp.get_json()["error"]["details"]["fields"]


@pytest.mark.parametrize("change, field, message", [
    ({"employer_credit_code": "91110000600037341M"}, "employer_credit_code", "校验位不正确"),
    ({"employer_credit_code": "9111000060003734"}, "employer_credit_code", "应为 18 位"),
    ({"employer_credit_code": "91110000600O37341L"}, "employer_credit_code", "格式不正确"),
    ({"amount_owed": 0}, "amount_owed", "金额应大于 0"),
    ({"amount_owed": -5}, "amount_owed", "金额应大于 0"),
    ({"amount_owed": 10.005}, "amount_owed", "两位小数"),
    ({"amount_owed": "很多"}, "amount_owed", "应为数字"),
    ({"amount_owed": 1e12}, "amount_owed", "金额过大"),
    ({"amount_owed": True}, "amount_owed", "应为数字"),
    ({"workers_affected": 0}, "workers_affected", "大于或等于 1"),
    ({"period_from": "2026-02", "period_to": "2026-01"}, "period_to", "不能早于起始月份"),
    ({"period_to": "2026-13"}, "period_to", "YYYY-MM"),
    ({"period_from": "2026/01"}, "period_from", "YYYY-MM"),
    ({"period_from": "1999-12"}, "period_from", "2000-01"),
    ({"period_to": "2026-04"}, "period_to", "不能晚于本月"),
    ({"employer_name": "  "}, "employer_name", "不能为空"),
    ({"employer_name": "（有限公司）"}, "employer_name", "完整的单位名称"),
    ({"description": ""}, "description", "不能为空"),
    ({"work_address": "a\x00b"}, "work_address", "控制字符"),
    ({"organization_id": 999999}, "organization_id", "工会组织不存在"),
    ({"organization_id": 2**31}, "organization_id", "小于或等于"),
    ({"boss_phone": "13900000000"}, "boss_phone", "不支持的字段"),
])
def test_bad_reports_are_refused_field_by_field(world, client, change, field, message):
    worker = world.worker("amy")
    resp = world.report(worker, **change)
    problems = fields_of(resp)
    assert field in problems and any(message in m for m in problems[field]), problems


def test_missing_fields_are_each_named(world, client):
    worker = world.worker("amy")
    resp = client.post("/api/v1/arrears/reports", json={}, headers=bearer(worker))
    assert set(fields_of(resp)) == {"employer_name", "work_address", "organization_id", "period_from",
                                    "period_to", "amount_owed", "workers_affected", "description"}
    resp = client.post("/api/v1/arrears/reports", data="{", content_type="application/json",
                       headers=bearer(worker))
    assert resp.status_code == 400 and error_code(resp) == "bad_request"


def test_photos_must_be_real_small_jpeg_or_png_images_and_at_most_three(world, app, client):
    worker = world.worker("amy")
    report = world.submitted(worker)

    def refused(data: bytes, filename: str, message: str):
        problems = fields_of(world.upload(worker, report["id"], data, filename))
        assert any(message in m for m in problems["file"]), problems

    limit = app.config["ARREARS_EVIDENCE_MAX_BYTES"]
    refused(png() + b"\0" * (limit - len(png()) + 1), "big.png", "不能超过 5 MB")
    refused("这是一个文本文件，不是照片".encode() * 10, "photo.jpg", "JPEG 或 PNG")
    refused(png(200, 150, noise=True)[:2000], "cut.png", "JPEG 或 PNG")
    refused(jpeg(200, 150)[:400], "cut.jpg", "JPEG 或 PNG")
    refused(b"", "empty.png", "空的")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    refused(gif.getvalue(), "photo.png", "JPEG 或 PNG")
    bomb = io.BytesIO()
    Image.new("1", (8000, 6000)).save(bomb, format="PNG")
    refused(bomb.getvalue(), "bomb.png", "尺寸过大")
    resp = client.post(f"/api/v1/arrears/reports/{report['id']}/evidence", headers=bearer(worker), data={},
                       content_type="multipart/form-data")
    assert "file" in fields_of(resp)

    for data, name in ((png(), "a.png"), (jpeg(), "b.jpg"), (png(32, 32), "c.png")):
        resp = world.upload(worker, report["id"], data, name)
        assert resp.status_code == 201, resp.get_json()
    assert world.mine(worker, report["id"])["can_add_evidence"] is False
    refused(png(), "d.png", "最多上传 3 张")
    assert [e["mime_type"] for e in world.mine(worker, report["id"])["evidence"]] == [
        "image/png", "image/jpeg", "image/png"]


def test_a_body_beyond_the_upload_limit_is_413(world, app, client):
    worker = world.worker("amy")
    report = world.submitted(worker)
    resp = world.upload(worker, report["id"], b"\0" * (app.config["UPLOAD_MAX_BYTES"] + 1))
    assert resp.status_code == 413 and error_code(resp) == "payload_too_large"


def test_someone_elses_report_takes_no_photos(world, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    report = world.submitted(amy)
    resp = world.upload(ben, report["id"], png())
    assert resp.status_code == 404 and error_code(resp) == "not_found"


@pytest.mark.parametrize("body, field", [
    ({"to": "referred"}, "referred_to"),
    ({"to": "referred", "referred_to": "police"}, "referred_to"),
    ({"to": "resolved"}, "amount_recovered"),
    ({"to": "resolved", "amount_recovered": -1}, "amount_recovered"),
    ({"to": "closed"}, "note"),
    ({"to": "closed", "note": "   "}, "note"),
    ({"to": "coordinating", "amount_recovered": 100}, "amount_recovered"),
    ({"to": "coordinating", "referred_to": "court"}, "referred_to"),
    ({"to": "referred", "referred_to": "court", "legal_aid_booking_id": 1}, "legal_aid_booking_id"),
    ({"to": "finished"}, "to"),
    ({}, "to"),
])
def test_bad_transitions_are_422_before_any_state_check(world, client, body, field):
    worker = world.worker("amy")
    case_id = world.accepted(world.submitted(worker)["id"])["case_id"]
    assert field in fields_of(world.move(case_id, **body))


def test_a_resolution_day_in_the_future_is_refused(world, client):
    worker = world.worker("amy")
    case_id = world.accepted(world.submitted(worker)["id"])["case_id"]
    world.moved(case_id, to="coordinating")
    problems = fields_of(world.move(case_id, to="resolved", amount_recovered=100, resolved_on="2026-03-03"))
    assert "resolved_on" in problems
    problems = fields_of(world.move(case_id, to="resolved", amount_recovered=100, resolved_on="2026-03-01"))
    assert "resolved_on" in problems  # before the case was opened
    resp = world.move(case_id, to="resolved", amount_recovered=100, resolved_on="2026-03-02")
    assert resp.status_code == 200 and resp.get_json()["resolved_on"] == "2026-03-02"
