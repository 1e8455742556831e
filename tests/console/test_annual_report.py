"""The console's 年度统计 page: the wage-arrears figures, the Word draft and its template."""
from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from service.common import clock
from service.stats.report import DEFAULT_TEMPLATE
from tests.arrears.helpers import NOW, World
from tests.console.conftest import PASSWORD, Browser, flashes, make_clerk, signed_in
from tests.console.test_browser import flash_texts, sign_in
from tests.helpers import make_org
from tests.stats.helpers import edited, paragraph_with, read_docx, texts

OPENING_END = "现将一年来的工作情况报告如下。"


@pytest.fixture
def world(app, client):
    """Yangzhou with one wage-arrears case resolved this year: 4 workers, 12,345.60 yuan."""
    clock.freeze(NOW)
    w = World(app, client)
    case_id = w.accepted(w.submitted(w.worker("amy"), workers_affected=4)["id"])["case_id"]
    w.moved(case_id, to="coordinating")
    w.moved(case_id, to="resolved", amount_recovered="12345.60")
    return w


def post_template(browser: Browser, data: bytes | None, year: int = 2026):
    body = {} if data is None else {"file": (io.BytesIO(data), "我们的模板.docx")}
    return browser.post(f"/console/annual/report-template?year={year}", body, content_type="multipart/form-data")


def test_the_annual_page_shows_the_wage_arrears_figures_and_offers_the_draft(app, client, world):
    admin = signed_in(app, client, "admin", world.city)
    page = admin.text("/console/annual?year=2026")
    assert "<h2>欠薪报工</h2>" in page
    assert re.search(r"<td>帮助职工人数</td><td class=\"num\">4</td>", page)
    assert re.search(r"<td>追回金额（元）</td><td class=\"num\">12,345.60</td>", page)
    assert "下载工作报告草稿（Word）" in page
    assert re.search(r'class="template-source">当前使用：\s*系统默认模板', page)

    resp = admin.get("/console/annual/report.docx?year=2026")
    assert resp.status_code == 200
    assert unquote(resp.headers["Content-Disposition"].split("''")[1]) == "扬州市总工会2026年度工作报告（草稿）.docx"
    document = read_docx(resp.data)
    assert texts(document)[0] == "扬州市总工会2026年度工作报告（草稿）"
    assert "帮助4名职工追回欠薪12,345.60元" in paragraph_with(document, "职工欠薪报工").text
    resp = admin.get("/console/annual/report-template.docx")
    assert resp.status_code == 200 and resp.data == DEFAULT_TEMPLATE.read_bytes()


def test_a_clerk_uploads_a_template_and_reads_why_a_bad_one_is_refused(app, client, world):
    admin = signed_in(app, client, "admin", world.city)
    default = DEFAULT_TEMPLATE.read_bytes()

    bad = edited(default, OPENING_END, OPENING_END + "全年发展{{ 新会员 }}人。")
    resp = post_template(admin, bad)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "模板中的占位符 新会员 不存在" in flashes(page)
    assert "<h1>2026 年度工作报告数据</h1>" in page and "系统默认模板" in page
    assert admin.get("/console/annual/report-template.docx").data == default

    resp = post_template(admin, None)
    assert resp.status_code == 302
    assert "文件：必填" in flashes(admin.text(resp.headers["Location"]))

    mine = edited(default, OPENING_END, "特此报告。")
    resp = post_template(admin, mine)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/annual?year=2026")
    page = admin.text(resp.headers["Location"])
    assert "模板已更新（我们的模板.docx），之后生成的扬州市总工会工作报告草稿将使用该模板" in flashes(page)
    assert "本组织上传的模板（我们的模板.docx" in page and "2026-03-02 09:00 上传" in page
    assert texts(read_docx(admin.get("/console/annual/report.docx?year=2026").data))[2].endswith("落地见效。特此报告。")
    assert "更换年度工作报告模板" in admin.text("/console/audit-log")

    district = signed_in(app, client, "admin", world.district)
    assert "上级组织“扬州市总工会”的模板（我们的模板.docx）" in district.text("/console/annual")


def test_a_broken_stored_template_shows_its_reason_on_the_error_page(app, client, world):
    from models import db
    from models.report import ReportTemplate

    stale = edited(DEFAULT_TEMPLATE.read_bytes(), OPENING_END, "{{ 去年会员数 }}")
    with app.app_context():
        db.session.add(ReportTemplate(organization_id=world.city, filename="旧模板.docx", size=len(stale),
                                      content=stale, uploaded_at=clock.now()))
        db.session.commit()
    admin = signed_in(app, client, "admin", world.city)
    resp = admin.get("/console/annual/report.docx?year=2026")
    assert resp.status_code == 422 and "模板中的占位符 去年会员数 不存在" in resp.get_data(as_text=True)


def test_a_clerk_over_two_districts_chooses_which_report_to_draft(app, client, world):
    from werkzeug.security import generate_password_hash

    from models import StaffRole, StaffUser, db

    with app.app_context():
        staff = StaffUser(username="two_districts", display_name="两区管理员", created_at=clock.now(),
                          password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                          roles=[StaffRole(role="admin", organization_id=world.district),
                                 StaffRole(role="admin", organization_id=world.other)])
        db.session.add(staff)
        db.session.commit()
    b = Browser(client)
    assert b.login("two_districts").status_code == 302
    page = b.text("/console/annual?year=2026")
    assert "请选择工作报告所属的工会组织" in page and "下载工作报告草稿" not in page
    assert re.search(r"<td>追回金额（元）</td><td class=\"num\">12,345.60</td>", page)  # both districts' figures

    page = b.text(f"/console/annual?year=2026&organization_id={world.other}")
    assert re.search(r"<td>追回金额（元）</td><td class=\"num\">0.00</td>", page)  # 邗江's alone
    link = re.search(r'href="(/console/annual/report\.docx\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert texts(read_docx(b.get(link).data))[0] == "邗江区总工会2026年度工作报告（草稿）"


@pytest.mark.browser
def test_in_a_browser_download_the_draft_and_read_why_a_template_is_refused(page, live, tmp_path):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "admin", root))
    page.get_by_role("link", name="年度统计").click()
    year = page.locator("input[name=year]").input_value()
    with page.expect_download() as info:
        page.get_by_role("link", name="下载工作报告草稿（Word）").click()
    assert info.value.suggested_filename == f"扬州市总工会{year}年度工作报告（草稿）.docx"
    assert texts(read_docx(Path(info.value.path()).read_bytes()))[0] == f"扬州市总工会{year}年度工作报告（草稿）"

    bad = tmp_path / "模板.docx"
    bad.write_bytes(edited(DEFAULT_TEMPLATE.read_bytes(), OPENING_END, "全年发展{{ 新会员 }}人。"))
    page.locator("input[name=file]").set_input_files(str(bad))
    page.get_by_role("button", name="上传模板").click()
    assert "模板中的占位符 新会员 不存在" in flash_texts(page)
    assert page.locator("h1").inner_text() == f"{year} 年度工作报告数据"
