"""Build the default Word template of the annual work report (docs/contract.md §7).

The template the service ships, ``service/stats/templates/annual_report.docx``,
is written by this script, so its wording can be reviewed here and changed in
one place; run it again after a change and commit both:

    .venv/bin/python -m service.stats.make_template

The document follows the usual shape of a federation's annual work report: a
title, a date line, "一、工作开展情况" with one paragraph per line of work,
then the parts only the clerk can write.  ``{{ … }}`` and ``{% … %}`` are
Jinja2 placeholders filled by docxtpl (the names are listed in
``service/stats/report.py: PLACEHOLDERS``); every ``**`` is a figure the
service does not hold, highlighted and underlined for the clerk to fill in.
"""
from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

TEMPLATE = Path(__file__).resolve().parent / "templates" / "annual_report.docx"
BLANK = "**"

BODY_FONT, TITLE_FONT, HEADING_FONT, SUBHEADING_FONT = "仿宋", "宋体", "黑体", "楷体"
BLACK = RGBColor(0, 0, 0)

TITLE = "{{ 工会名称 }}{{ 年度 }}年度工作报告（草稿）"
DATE_LINE = "（{{ 成稿日期 }}）"
OPENING = ("{{ 年度 }}年，{{ 工会名称 }}在上级工会和同级党委的领导下，坚持以职工为中心的工作导向，围绕新就业形态"
           "劳动者入会、户外劳动者服务、环卫工人关爱、职工法律服务和劳动报酬权益维护等重点工作，推动各项工作落地见效。"
           "现将一年来的工作情况报告如下。")
# (heading, paragraph) for each line of work under "一、工作开展情况"
WORK = [
    ("（一）新就业形态劳动者入会",
     "全年通过“工会职工服务”小程序受理入会申请{{ 入会申请数 }}份，新发展会员{{ 新发展会员数 }}人"
     "{% if 新发展会员数 %}，其中{{ 新会员职业分布 }}{% endif %}。全年新建基层工会**个，开展集中入会活动**场。"),
    ("（二）户外劳动者服务站点建设",
     "截至{{ 年度 }}年底，共建成户外劳动者服务站点（驿站）{{ 驿站总数 }}个，其中本年新建{{ 新建驿站数 }}个，"
     "设有母婴室的{{ 设母婴室驿站数 }}个。全年投入驿站建设资金**万元，驿站服务户外劳动者**人次。"),
    ("（三）环卫工人爱心早餐",
     "全年设立爱心早餐点{{ 早餐点数 }}个，为环卫工人提供免费早餐{{ 供餐人次 }}人次，惠及环卫工人{{ 受益人数 }}人。"
     "全年投入资金**万元，参与爱心商户**家。"),
    ("（四）职工法律咨询服务",
     "全年受理职工法律咨询预约{{ 咨询预约数 }}人次，完成咨询{{ 完成咨询数 }}人次"
     "{% if 咨询预约数 %}，咨询事项中{{ 咨询事项分布 }}{% endif %}。全年开展普法宣传活动**场，培训职工**人次。"),
    ("（五）欠薪报工与劳动报酬权益维护",
     "全年通过小程序受理职工欠薪报工{{ 欠薪报工数 }}件，立案办理欠薪案件{{ 欠薪立案数 }}件，解决{{ 欠薪解决数 }}件，"
     "帮助{{ 帮助职工人数 }}名职工追回欠薪{{ 追回金额 }}元。"),
]
CLOSING = [("二、存在的问题和不足", BLANK), ("三、下一年度工作打算", BLANK)]
NOTE = ("说明：本草稿中的数字由工会职工服务平台按{{ 年度 }}年1月1日至12月31日（北京时间）的数据生成，"
        "统计范围为{{ 工会名称 }}及其下级工会；标注**的内容平台没有相应数据，请核实后填写。")


def _font(target, name: str, size: float, bold: bool = False) -> None:
    """``target`` (a style or a run) in ``name`` for Latin and Chinese text alike."""
    target.font.name = name
    target.font.size = Pt(size)
    target.font.bold = bold
    target.font.color.rgb = BLACK
    target.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _styles(doc) -> None:
    normal = doc.styles["Normal"]
    _font(normal, BODY_FONT, 16)  # 三号仿宋, as official documents are set
    normal.paragraph_format.line_spacing = Pt(28)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.first_line_indent = Pt(32)  # two characters
    for name, font, size, bold in (("Title", TITLE_FONT, 22, True), ("Heading 1", HEADING_FONT, 16, False),
                                   ("Heading 2", SUBHEADING_FONT, 16, True)):
        style = doc.styles[name]
        _font(style, font, size, bold)
        style.font.italic = False
        fmt = style.paragraph_format
        fmt.space_before, fmt.space_after = Pt(12 if name == "Title" else 6), Pt(6)
        fmt.first_line_indent = Pt(0) if name == "Title" else Pt(32)
        fmt.line_spacing = Pt(36 if name == "Title" else 28)
    title = doc.styles["Title"].element.pPr
    border = title.find(qn("w:pBdr")) if title is not None else None
    if border is not None:  # the stock Title style underlines itself
        title.remove(border)


def _paragraph(doc, text: str, style: str | None = None):
    """A paragraph of ``text``, each ``**`` in a run of its own, highlighted and underlined."""
    paragraph = doc.add_paragraph(style=style)
    for index, part in enumerate(text.split(BLANK)):
        if index:
            blank = paragraph.add_run(BLANK)
            blank.font.highlight_color = WD_COLOR_INDEX.YELLOW
            blank.font.underline = True
        if part:
            paragraph.add_run(part)
    return paragraph


def build() -> Document:
    """The default template as a python-docx ``Document``."""
    doc = Document()
    section = doc.sections[0]
    section.start_type = WD_SECTION_START.NEW_PAGE
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    _styles(doc)
    doc.core_properties.title = "年度工作报告（草稿）模板"
    doc.core_properties.author = "工会职工服务平台"

    title = _paragraph(doc, TITLE, "Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    date_line = _paragraph(doc, DATE_LINE)
    date_line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    date_line.paragraph_format.first_line_indent = Pt(0)
    _paragraph(doc, OPENING)
    _paragraph(doc, "一、工作开展情况", "Heading 1")
    for heading, text in WORK:
        _paragraph(doc, heading, "Heading 2")
        _paragraph(doc, text)
    for heading, text in CLOSING:
        _paragraph(doc, heading, "Heading 1")
        _paragraph(doc, text)
    note = _paragraph(doc, NOTE)
    note.paragraph_format.space_before = Pt(18)
    for run in note.runs:
        _font(run, BODY_FONT, 12)
    return doc


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else TEMPLATE
    target.parent.mkdir(parents=True, exist_ok=True)
    build().save(str(target))
    print(f"written {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
