"""The console's main journeys in a real browser (headless Chromium) against a live server:
sign in, approve an application, import a roster (preview, confirm, undo), print a QR poster, read the
annual figures."""
from __future__ import annotations

import re

import pytest

from tests.console.conftest import PASSWORD, make_clerk
from tests.enrollment import apply, make_id
from tests.helpers import login_worker, make_org

pytestmark = pytest.mark.browser


def sign_in(page, username, expect_title="工作台"):
    page.goto("/console/")
    assert "/console/login" in page.url
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")
    assert page.locator("h1").first.inner_text().startswith(expect_title)


def flash_texts(page) -> list[str]:
    return page.locator(".flash").all_inner_texts()


def test_sign_in_and_approve_an_application(page, live):
    root = make_org(live, "扬州市总工会")
    district = make_org(live, "广陵区总工会", root)
    api = live.test_client()
    id_number = make_id("19900101", "male")
    assert apply(api, login_worker(api, "xiaoming"), district, id_number=id_number).status_code == 201
    sign_in(page, make_clerk(live, "enrollment_reviewer", root, display_name="李审核"))
    assert page.locator(".summary-enrollment .stat").inner_text() == "1"

    page.get_by_role("link", name="入会审核").click()
    row = page.locator("tbody tr", has_text="王小明")
    assert id_number not in row.inner_text() and id_number[-4:] in row.inner_text()
    row.get_by_role("link", name="查看").click()
    assert page.locator(".id-number").inner_text() == id_number[:3] + "*" * 11 + id_number[-4:]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="通过").click()
    page.wait_for_selector(".flash-success")
    assert "已通过，已生成会员编号并通知申请人" in flash_texts(page)
    assert re.fullmatch(rf"{district:04d}-\d{{4}}-000001", page.locator(".member-no").inner_text())

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    page.goto("/console/enrollment/")
    assert "/console/login" in page.url


def test_import_a_roster_preview_it_and_undo_it(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.get_by_role("link", name="爱心早餐").click()
    page.get_by_role("link", name="名册").click()
    content = "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n李四,13952710002,广陵环卫所\n王五,12345,广陵环卫所\n"
    page.locator("input[type=file]").set_input_files(
        {"name": "名册.csv", "mimeType": "text/csv", "buffer": content.encode("utf-8")})
    page.get_by_role("button", name="上传并预览").click()
    preview = page.locator("#import-preview")
    preview.wait_for()
    assert preview.locator(".num-created").inner_text() == "2"
    assert preview.locator(".num-errors").inner_text() == "1"
    assert "名册为空" in page.content()  # nothing written yet
    page.get_by_role("button", name="确认导入").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert result.locator(".num-created").inner_text() == "2"
    assert result.locator(".num-errors").inner_text() == "1"
    assert "4" in result.locator("tbody td").first.inner_text()  # the bad row's number
    assert page.get_by_role("cell", name="139****0001").is_visible()
    assert "13952710001" not in page.content()

    page.locator("#import-record").get_by_role("link", name="导入记录").click()
    row = page.locator("tbody tr", has_text="名册.csv")
    page.once("dialog", lambda dialog: dialog.dismiss())  # a second thought: nothing happens
    row.get_by_role("button", name="撤销").click()
    assert row.get_by_role("button", name="撤销").is_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="撤销").click()
    page.wait_for_selector(".flash-success")
    assert "已撤销：删除新增的 2 条，恢复被更新的 0 条" in flash_texts(page)
    page.goto("/console/breakfast/roster")
    assert "名册为空" in page.content()


def test_print_a_qr_poster(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.goto("/console/breakfast/points/new")
    page.get_by_label("名称").fill("文昌中路爱心早餐点")
    page.get_by_label("地址").fill("扬州市广陵区文昌中路 118 号")
    page.get_by_label("纬度（GCJ-02）").fill("32.39452")
    page.get_by_label("经度（GCJ-02）").fill("119.43631")
    page.get_by_label("每日份数").fill("320")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".flash-success")
    page.locator("tr", has_text="文昌中路爱心早餐点").get_by_role("link", name="二维码海报").click()

    poster = page.locator(".poster img")
    poster.wait_for()
    page.wait_for_function("document.querySelector('.poster img').complete")
    assert page.evaluate("document.querySelector('.poster img').naturalWidth") > 0
    page.evaluate("window.__printed = false; window.print = () => { window.__printed = true; }")
    page.get_by_role("button", name="打印海报").click()
    assert page.evaluate("window.__printed") is True
    page.emulate_media(media="print")
    assert not page.locator(".menu").is_visible() and not page.locator(".topbar").is_visible()
    assert poster.is_visible()
    assert page.pdf(format="A4")[:4] == b"%PDF"


def test_read_the_annual_figures_on_a_tablet(page, live):
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    assert apply(api, login_worker(api, "xiaoming"), root).status_code == 201
    page.set_viewport_size({"width": 820, "height": 1180})
    sign_in(page, make_clerk(live, "admin", root))
    page.get_by_role("link", name="年度统计").click()
    year = page.locator("input[name=year]").input_value()
    assert page.locator("h1").inner_text() == f"{year} 年度工作报告数据"
    enrollment = page.locator(".annual-section", has_text="入会")
    assert enrollment.locator("tr", has_text="入会申请数").locator("td.num").inner_text() == "1"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 Excel").click()
    assert info.value.suggested_filename == f"年度统计-{year}.xlsx"
