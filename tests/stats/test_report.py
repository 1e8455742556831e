"""The annual work report drafted as Word: the year's real figures in the text, blanks for what
the service does not hold, the organization's own template, bad templates refused with the reason."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from service.common import clock
from service.stats import make_template
from service.stats.report import DEFAULT_TEMPLATE, PLACEHOLDERS
from tests.helpers import bearer, error_code, login_worker, staff_token
from tests.stats.helpers import (
    DOCX,
    REPORT,
    TEMPLATE,
    Year,
    blanks,
    edited,
    other_city,
    paragraph_with,
    read_docx,
    texts,
    upload,
    with_part,
)

ROOT = Path(__file__).resolve().parents[2]
OPENING_END = "现将一年来的工作情况报告如下。"


@pytest.fixture
def year(app, client):
    return Year(app, client)


def draft(client, token: str, **params):
    resp = client.get(REPORT, query_string={"year": 2026, **params}, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == DOCX
    return read_docx(resp.data)


def default_template() -> bytes:
    return DEFAULT_TEMPLATE.read_bytes()


def refused(resp) -> str:
    assert resp.status_code == 422, resp.get_data(as_text=True)[:500]
    assert error_code(resp) == "template_invalid"
    return resp.get_json()["error"]["message"]


def test_the_draft_tells_the_year_in_the_federations_own_figures(year, client):
    resp = client.get(REPORT, query_string={"year": 2026}, headers=bearer(year.admin))
    assert resp.status_code == 200 and resp.mimetype == DOCX
    disposition = resp.headers["Content-Disposition"]
    assert 'filename="annual-report-2026.docx"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "扬州市总工会2026年度工作报告（草稿）.docx"
    document = read_docx(resp.data)

    assert document.paragraphs[0].text == "扬州市总工会2026年度工作报告（草稿）"
    assert document.paragraphs[0].style.name == "Title"
    assert document.paragraphs[1].text == "（2026年3月20日）"
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == [
        "一、工作开展情况", "二、存在的问题和不足", "三、下一年度工作打算"]
    enrollment = paragraph_with(document, "入会申请")
    assert "受理入会申请4份，新发展会员3人，其中快递员2人、外卖送餐员1人。" in enrollment.text
    assert "新建基层工会**个，开展集中入会活动**场。" in enrollment.text
    assert len(blanks(enrollment)) == 2  # highlighted and underlined for the clerk
    stations = paragraph_with(document, "驿站")
    assert "共建成户外劳动者服务站点（驿站）4个，其中本年新建4个，设有母婴室的1个。" in stations.text
    assert "投入驿站建设资金**万元" in stations.text and len(blanks(stations)) == 2
    breakfast = paragraph_with(document, "爱心早餐点")
    assert "设立爱心早餐点1个，为环卫工人提供免费早餐3人次，惠及环卫工人2人。" in breakfast.text
    legal = paragraph_with(document, "法律咨询预约")
    assert "受理职工法律咨询预约2人次，完成咨询1人次，咨询事项中欠薪1人次、工伤1人次。" in legal.text
    assert "培训职工**人次" in legal.text
    arrears = paragraph_with(document, "职工欠薪报工")
    assert ("全年通过小程序受理职工欠薪报工1件，立案办理欠薪案件1件，解决1件，"
            "帮助4名职工追回欠薪12,345.60元。") in arrears.text
    assert "{{" not in "\n".join(texts(document)) and "{%" not in "\n".join(texts(document))


def test_a_district_admin_drafts_the_districts_report_and_a_city_admin_may_draft_it_too(year, client):
    district_admin = year.admin_of(year.district)
    document = draft(client, district_admin)
    assert document.paragraphs[0].text == "广陵区总工会2026年度工作报告（草稿）"
    body = "\n".join(texts(document))
    assert "受理入会申请3份，新发展会员2人，其中快递员1人、外卖送餐员1人。" in body  # 邗江's member is not ours
    assert "共建成户外劳动者服务站点（驿站）3个" in body
    assert "帮助4名职工追回欠薪12,345.60元" in body

    sibling = draft(client, year.admin_of(year.other))
    body = "\n".join(texts(sibling))
    assert sibling.paragraphs[0].text == "邗江区总工会2026年度工作报告（草稿）"
    assert "受理入会申请1份，新发展会员1人，其中快递员1人。" in body
    assert "受理职工法律咨询预约0人次，完成咨询0人次。" in body  # no breakdown of nothing
    assert "受理职工欠薪报工0件" in body and "追回欠薪0.00元" in body

    chosen = draft(client, year.admin, organization_id=year.district)
    assert texts(chosen)[0] == "广陵区总工会2026年度工作报告（草稿）"
    assert "共建成户外劳动者服务站点（驿站）3个" in "\n".join(texts(chosen))
    resp = client.get(REPORT, query_string={"year": 2026, "organization_id": year.city}, headers=bearer(district_admin))
    assert resp.status_code == 422 and "organization_id" in resp.get_json()["error"]["details"]["fields"]

    other_city(year.app)  # a second federation: a whole-federation admin must say which one
    resp = client.get(REPORT, query_string={"year": 2026}, headers=bearer(year.admin_of(None)))
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["fields"] == {
        "organization_id": ["请选择工作报告所属的工会组织"]}
    chosen = draft(client, year.admin_of(None), organization_id=year.city)
    assert texts(chosen)[0] == "扬州市总工会2026年度工作报告（草稿）"

    resp = client.get(REPORT, query_string={"year": 2024}, headers=bearer(year.admin))
    body = "\n".join(texts(read_docx(resp.data)))
    assert "2024年度工作报告（草稿）" in body and "新发展会员0人。" in body


def test_the_annual_figures_count_the_wage_arrears_cases(year, client):
    body = client.get("/api/v1/admin/stats/annual?year=2026", headers=bearer(year.admin)).get_json()
    assert body["arrears"] == {"reports": 1, "cases": 1, "resolved": 1, "workers": 4, "amount_recovered": 12345.6}
    other = client.get("/api/v1/admin/stats/annual?year=2026", headers=bearer(year.admin_of(year.other))).get_json()
    assert other["arrears"] == {"reports": 0, "cases": 0, "resolved": 0, "workers": 0, "amount_recovered": 0.0}
    resp = client.get("/api/v1/admin/stats/annual.xlsx?year=2026", headers=bearer(year.admin))
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert ("欠薪报工", "欠薪报工数", 1) in rows and ("欠薪报工", "帮助职工人数", 4) in rows
    assert ("欠薪报工", "追回金额（元）", 12345.6) in rows


def test_a_template_edited_in_word_drafts_the_next_report(app, client):
    from tests.arrears.helpers import World

    clock.freeze(clock.local(2026, 5, 4, 9, 0))
    world = World(app, client)
    resp = client.get(TEMPLATE, headers=bearer(world.admin))
    assert resp.status_code == 200 and resp.mimetype == DOCX
    assert resp.data == default_template()

    mine = edited(resp.data, OPENING_END, "现将全年工作向全委会报告如下，请予审议。")
    resp = upload(client, world.admin, mine, filename="市总工会报告模板.docx")
    assert resp.status_code == 200, resp.get_json()
    status = resp.get_json()
    assert (status["organization_id"], status["organization"], status["source"]) == (world.city, "扬州市总工会", "own")
    assert status["filename"] == "市总工会报告模板.docx" and status["size"] == len(mine)
    assert status["uploaded_at"] == "2026-05-04T09:00:00+08:00" and status["uploaded_by"]

    opening = paragraph_with(draft(client, world.admin), "全委会")
    assert opening.text.startswith("2026年，扬州市总工会在上级工会和同级党委的领导下")
    assert opening.text.endswith("现将全年工作向全委会报告如下，请予审议。")
    assert client.get(TEMPLATE, headers=bearer(world.admin)).data == mine

    district_admin = staff_token(app, client, "admin", world.district)
    assert client.get(TEMPLATE, headers=bearer(district_admin)).data == mine  # the nearest ancestor's
    assert "现将全年工作向全委会报告如下" in paragraph_with(draft(client, district_admin), "全委会").text
    district_own = edited(mine, "现将全年工作向全委会报告如下，请予审议。", "特此报告。")
    assert upload(client, district_admin, district_own).status_code == 200
    assert "特此报告。" in "\n".join(texts(draft(client, district_admin)))
    assert "全委会" in "\n".join(texts(draft(client, world.admin)))  # the city keeps its own

    elsewhere = staff_token(app, client, "admin", other_city(app))
    assert client.get(TEMPLATE, headers=bearer(elsewhere)).data == default_template()
    assert OPENING_END in "\n".join(texts(draft(client, elsewhere)))

    log = client.get("/api/v1/admin/audit-log?action=stats.report_template.replace",
                     headers=bearer(world.admin)).get_json()["items"]
    assert sorted(e["organization_id"] for e in log) == sorted([world.city, world.district])


def _with_paragraph(text: str, after: str = OPENING_END) -> bytes:
    """The default template with ``after`` followed by ``text`` in the opening paragraph (the 3rd)."""
    return edited(default_template(), after, after + text)


def _xlsx() -> bytes:
    out = io.BytesIO()
    Workbook().save(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("unknown placeholder", lambda: _with_paragraph("全年发展{{ 新会员 }}人。"), "模板中的占位符 新会员 不存在"),
    ("unknown name in a branch not taken", lambda: _with_paragraph("{% if 0 %}{{ 会员总数 }}{% endif %}"),
     "模板中的占位符 会员总数 不存在"),
    ("unknown attribute", lambda: _with_paragraph("{{ 年度.上一年 }}"), "模板中的占位符 上一年 不存在"),
    ("unclosed placeholder", lambda: _with_paragraph("{{ 年度 }年"), "模板第 3 段的占位符有误"),
    ("an endif too many", lambda: _with_paragraph("{% endif %}"), "模板第 3 段的占位符有误：多出的 {% endif %}"),
    ("an if never closed", lambda: _with_paragraph("{% if 年度 %}"), "模板第 3 段的 {% if %} 缺少对应的 {% endif %}"),
    ("python internals", lambda: _with_paragraph("{{ 工会名称.__class__.__mro__ }}"), "模板中含有不允许的写法"),
    ("a billion of something", lambda: _with_paragraph("{{ 工会名称 * 1000000000 }}"), "模板中含有不允许的写法"),
    ("a spreadsheet", _xlsx, "无法读取模板：请上传 Word 文档（.docx 格式"),
    ("text named .docx", lambda: "这不是 Word 文档".encode(), "无法读取模板"),
    ("an empty file", lambda: b"", "上传的模板文件是空的"),
    ("over 5 MB", lambda: with_part(default_template(), "word/media/photo.bin", os.urandom(5 * 1024 * 1024),
                                    compress=False), "模板文件过大（不能超过 5 MB）"),
    ("a zip bomb", lambda: with_part(default_template(), "word/media/bomb.bin", bytes(8 * 1024 * 1024)),
     "模板文件解压后过大"),
])
def test_a_template_that_cannot_make_the_report_is_refused_with_the_reason(app, client, name, data, message):
    admin = staff_token(app, client, "admin", other_city(app))
    before = client.get(TEMPLATE, headers=bearer(admin)).data
    assert message in refused(upload(client, admin, data()))
    assert client.get(TEMPLATE, headers=bearer(admin)).data == before == default_template()
    log = client.get("/api/v1/admin/audit-log?action=stats.report_template.", headers=bearer(admin)).get_json()
    assert log["total"] == 0


def test_a_syntax_error_names_its_paragraph_and_shows_its_text(app, client):
    admin = staff_token(app, client, "admin", other_city(app))
    broken = edited(default_template(), "{{ 入会申请数 }}份", "{{ 入会申请数 }份")
    paragraphs = texts(read_docx(broken))
    assert paragraphs[5].startswith("全年通过“工会职工服务”小程序受理入会申请")  # title, date, opening, 2 headings
    message = refused(upload(client, admin, broken))
    assert message.startswith("模板第 6 段的占位符有误：")
    assert "该段内容：「全年通过“工会职工服务”小程序受理入会申请{{ 入会申请数 }份" in message


def test_names_with_xml_characters_reach_the_document_as_written(app):
    from service.stats.report import placeholders
    from service.stats.templating import render

    figures = {"year": 2026, "enrollment": {"applications": 0, "new_members": 0, "by_occupation": {}},
               "stations": {"total": 0, "new": 0, "with_nursing_room": 0},
               "breakfast": {"points": 0, "servings": 0, "distinct_workers": 0},
               "legal_aid": {"bookings": 0, "completed": 0, "by_topic": {}},
               "arrears": {"reports": 0, "cases": 0, "resolved": 0, "workers": 0, "amount_recovered": 1234567.5}}
    values = placeholders(figures, "A&B <工会> \"联合会\"", clock.today_local())
    with app.app_context():
        document = read_docx(render(default_template(), values))
    assert texts(document)[0] == "A&B <工会> \"联合会\"2026年度工作报告（草稿）"
    assert "追回欠薪1,234,567.50元" in "\n".join(texts(document))


def test_an_upload_without_a_file_or_outside_the_callers_organizations_is_refused(app, client):
    from tests.arrears.helpers import World

    world = World(app, client)
    resp = client.put(TEMPLATE, data={}, headers=bearer(world.admin), content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.get_json()["error"]["details"]["fields"]
    district_admin = staff_token(app, client, "admin", world.district)
    resp = upload(client, district_admin, default_template(), organization_id=world.city)
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["fields"]["organization_id"] == [
        "工会组织不存在或不在您的管辖范围内"]
    resp = upload(client, world.admin, default_template(), filename="/home/clerk/区工会模板.docx",
                  organization_id=world.district)
    assert resp.status_code == 200
    assert (resp.get_json()["organization"], resp.get_json()["filename"]) == ("广陵区总工会", "区工会模板.docx")


def test_a_stored_template_that_no_longer_renders_answers_422_not_500(app, client):
    """A template stored before a placeholder was renamed: the draft names the missing one."""
    from models import StaffUser, db
    from models.report import ReportTemplate
    from tests.arrears.helpers import World

    world = World(app, client)
    stale = _with_paragraph("{{ 去年会员数 }}")
    with app.app_context():
        staff = db.session.scalars(select(StaffUser)).first()
        db.session.add(ReportTemplate(organization_id=world.city, filename="旧模板.docx", size=len(stale),
                                      content=stale, uploaded_by_id=staff.id, uploaded_by_name=staff.username,
                                      uploaded_at=clock.now()))
        db.session.commit()
    resp = client.get(REPORT, query_string={"year": 2026}, headers=bearer(world.admin))
    assert refused(resp) == "模板中的占位符 去年会员数 不存在"
    assert client.get(TEMPLATE, headers=bearer(world.admin)).data == stale  # the clerk can fetch it and fix it


def test_only_admins_reach_the_report_and_its_template(app, client):
    from tests.arrears.helpers import World

    world = World(app, client)
    reviewer = staff_token(app, client, "enrollment_reviewer", world.city)
    for token in (world.staff, reviewer, login_worker(client, "w")):
        for resp in (client.get(REPORT, query_string={"year": 2026}, headers=bearer(token)),
                     client.get(TEMPLATE, headers=bearer(token)),
                     upload(client, token, default_template())):
            assert resp.status_code == 403 and error_code(resp) == "forbidden"
    assert error_code(client.get(REPORT, query_string={"year": 2026})) == "unauthenticated"
    resp = client.get(REPORT, query_string={"year": 1999}, headers=bearer(world.admin))
    assert resp.status_code == 422 and "year" in resp.get_json()["error"]["details"]["fields"]


def test_the_default_template_is_what_its_script_writes_and_every_placeholder_is_documented(app):
    from jinja2 import Environment, meta

    from service.auth.permissions import Scope
    from service.stats import services
    from service.stats.report import placeholders

    shipped, built = read_docx(default_template()), make_template.build()
    assert texts(shipped) == texts(built)
    assert [p.style.name for p in shipped.paragraphs] == [p.style.name for p in built.paragraphs]
    assert meta.find_undeclared_variables(Environment().parse("\n".join(texts(shipped)))) <= set(PLACEHOLDERS)
    with app.app_context():
        values = placeholders(services.annual(Scope(frozenset({"admin"}), None), 2026), "扬州市总工会",
                              clock.today_local())
    assert set(values) == set(PLACEHOLDERS)
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = contract.split("## 7.", 1)[1].split("\n## 8.", 1)[0]
    assert [name for name in PLACEHOLDERS if f"`{name}`" not in section] == []


def test_concurrent_uploads_leave_one_template_the_last_one_stored(pg_app, pg_client):
    import threading

    from models import db
    from models.report import ReportTemplate
    from tests.arrears.helpers import World

    world = World(pg_app, pg_client)
    versions = [edited(default_template(), OPENING_END, f"第{i}稿。") for i in range(8)]
    barrier = threading.Barrier(len(versions))
    answers: list[int] = []

    def put(i: int):
        client = pg_app.test_client()
        barrier.wait()
        answers.append(upload(client, world.admin, versions[i], filename=f"第{i}稿.docx").status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(versions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * len(versions)
    with pg_app.app_context():
        rows = db.session.execute(select(ReportTemplate.organization_id, ReportTemplate.filename)).all()
        db.session.remove()
    assert len(rows) == 1 and rows[0].organization_id == world.city
    stored = int(re.fullmatch(r"第(\d)稿\.docx", rows[0].filename).group(1))
    assert pg_client.get(TEMPLATE, headers=bearer(world.admin)).data == versions[stored]
    log = pg_client.get("/api/v1/admin/audit-log?action=stats.report_template.replace",
                        headers=bearer(world.admin)).get_json()
    assert log["total"] == len(versions)
    assert max(log["items"], key=lambda e: e["id"])["details"]["filename"] == rows[0].filename  # the last one won
