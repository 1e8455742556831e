"""Word documents from templates a clerk can edit: docxtpl, Jinja2 placeholders inside a .docx.

A template is input like any upload.  It is checked when it is stored and
again each time it is used; whatever is wrong with it is a ``TemplateInvalid``
(422 ``template_invalid``) naming the problem in Chinese, never a 500:

- empty, over ``MAX_TEMPLATE_BYTES``, not a .docx, or a zip bomb (the
  spreadsheets' check, ``service/common/excel.py: unzips_too_large``);
- a placeholder written wrong (``{{ 年度 }``, a ``{% endif %}`` too many),
  named with its paragraph — counted from the top of the document, title,
  headings and empty lines included — and that paragraph's text;
- a placeholder name the report does not have (``{{ 新会员 }}``), found in
  the whole text, branches not taken included (``StrictUndefined`` catches
  the headers and footers as they render);
- anything else that fails while it renders.

Rendering runs in Jinja2's sandbox, so a placeholder reaches nothing of
Python's internals; ``range`` and ``lipsum`` are gone and ``**`` and
repeating a text or a list with ``*`` are refused, so a template cannot ask
for a billion of anything.  Values are XML-escaped (docxtpl's autoescape).
"""
from __future__ import annotations

import io
import logging
import re
import zipfile
from urllib.parse import quote

from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from flask import Response
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from service.common.excel import unzips_too_large
from service.stats.errors import TemplateInvalid

log = logging.getLogger(__name__)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_TEMPLATE_BYTES = 5 * 1024 * 1024
SNIPPET_CHARS = 40

# docxtpl's own tag forms ({%p if %}, {{r x }}, {% colspan n %} …) as plain Jinja2, for the paragraph check
_DOCXTPL_PREFIX = re.compile(r"(\{%-?|\{\{|\{#)(?:tr|tc|p|r)\s")
_DOCXTPL_TAGS = re.compile(r"\{%\s*(?:colspan|cellbg)\s[^%]*%\}|\{%\s*(?:vm|hm)\s*%\}")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")
_UNKNOWN_TAG = re.compile(r"unknown tag '([^']+)'")
_BLOCK_TAG = re.compile(r"\{%-?(?:p|tr|tc)?\s*(if|for|endif|endfor)\b")

UNREADABLE = "无法读取模板：请上传 Word 文档（.docx 格式；.doc 文件请先在 Word 中另存为 .docx）"
NOT_ALLOWED = "模板中含有不允许的写法：占位符只能引用报告中的数字和文字，可使用 {% if %} 和 {% for %}"
FAILED = "模板无法生成工作报告，请检查占位符的写法（可下载默认模板对照）"
UNBALANCED = "模板中的 {% if %} 或 {% for %} 缺少对应的 {% endif %} 或 {% endfor %}"


class _Sandbox(SandboxedEnvironment):
    """The sandbox, without ``**`` and without repeating a text or a list with ``*``."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" or isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            raise SecurityError(f"operator {operator} refused")
        return super().call_binop(context, operator, left, right)


def _environment() -> SandboxedEnvironment:
    """A fresh environment for one rendering (docxtpl switches its autoescape on)."""
    env = _Sandbox(undefined=StrictUndefined)
    for name in ("range", "lipsum"):
        env.globals.pop(name, None)
    return env


def _open(raw: bytes) -> DocxTemplate:
    if not raw:
        raise TemplateInvalid("上传的模板文件是空的")
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateInvalid(f"模板文件过大（不能超过 {MAX_TEMPLATE_BYTES // (1024 * 1024)} MB），"
                              "请压缩或删除其中的图片后重试")
    try:
        too_large = unzips_too_large(raw)
    except zipfile.BadZipFile:
        raise TemplateInvalid(UNREADABLE) from None
    if too_large:
        raise TemplateInvalid("模板文件解压后过大，请删除多余的内容或图片后重试")
    document = DocxTemplate(io.BytesIO(raw))
    try:
        document.init_docx()
    except Exception:  # python-docx refuses a zip that is no Word document in several ways
        raise TemplateInvalid(UNREADABLE) from None
    return document


def _paragraphs(document: DocxTemplate) -> list[str]:
    """The text of every paragraph of the body, tables included, in the order Word shows them."""
    body = document.docx.element.body
    return ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in body.iter(qn("w:p"))]


def _snippet(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"


def _syntax_hint(err: TemplateSyntaxError) -> str:
    tag = _UNKNOWN_TAG.search(err.message or "")
    if tag and tag.group(1).startswith("end"):
        return f"多出的 {{% {tag.group(1)} %}}，前面没有与之对应的开始标签"
    if tag:
        return f"不认识的标签 {tag.group(1)}"
    return "{{ }} 或 {% %} 的写法有误（括号是否成对，名称中是否有空格或标点）"


def _unclosed(texts: list[str]) -> TemplateInvalid:
    """The ``{% if %}`` or ``{% for %}`` left open, named with its paragraph when it can be found."""
    opened: list[tuple[int, str]] = []
    for number, text in enumerate(texts, 1):
        for tag in _BLOCK_TAG.findall(text):
            if not tag.startswith("end"):
                opened.append((number, tag))
            elif opened and opened[-1][1] == tag[3:]:
                opened.pop()
    if not opened:
        return TemplateInvalid(UNBALANCED)
    number, tag = opened[-1]
    return TemplateInvalid(f"模板第 {number} 段的 {{% {tag} %}} 缺少对应的 {{% end{tag} %}}。"
                           f"该段内容：「{_snippet(texts[number - 1])}」", {"paragraph": number})


def _check_paragraphs(document: DocxTemplate, env: SandboxedEnvironment) -> None:
    """The body's text, one paragraph a line, parsed as Jinja2: a syntax error names its paragraph."""
    texts = _paragraphs(document)
    source = "\n".join(_DOCXTPL_TAGS.sub("", _DOCXTPL_PREFIX.sub(r"\1 ", t)).translate(_SMART_QUOTES)
                       for t in texts)
    try:
        env.parse(source)
    except TemplateSyntaxError as err:
        if (err.message or "").lower().startswith("unexpected end of template"):
            raise _unclosed(texts) from None
        number = min(max(err.lineno or 1, 1), len(texts))
        problem = f"模板第 {number} 段的占位符有误：{_syntax_hint(err)}。该段内容：「{_snippet(texts[number - 1])}」"
        raise TemplateInvalid(problem, {"paragraph": number}) from None


def _check_names(document: DocxTemplate, env: SandboxedEnvironment, context: dict) -> None:
    """Every name the body's placeholders use is one the report has."""
    try:
        names = meta.find_undeclared_variables(env.parse(document.patch_xml(document.get_xml())))
    except TemplateSyntaxError:
        raise TemplateInvalid(FAILED) from None
    unknown = sorted(names - set(context) - set(env.globals))
    if unknown:
        raise TemplateInvalid(f"模板中的占位符 {'、'.join(unknown)} 不存在", {"placeholders": unknown})


def _undefined(err: UndefinedError) -> TemplateInvalid:
    text = err.message or ""
    if "is unsafe" in text:  # the sandbox hides Python's internals (``__class__`` …) as unsafe
        return TemplateInvalid(NOT_ALLOWED)
    found = _UNDEFINED_NAME.search(text) or _MISSING_ATTRIBUTE.search(text)
    if found is None:
        return TemplateInvalid(FAILED)
    return TemplateInvalid(f"模板中的占位符 {found.group(1)} 不存在", {"placeholders": [found.group(1)]})


def render(raw: bytes, context: dict) -> bytes:
    """The .docx ``raw`` rendered with ``context`` (placeholder name → value), as .docx bytes;
    ``TemplateInvalid`` naming the problem when the template cannot make it."""
    document = _open(raw)
    env = _environment()
    _check_paragraphs(document, env)
    _check_names(document, env, context)
    out = io.BytesIO()
    try:
        document.render(context, jinja_env=env, autoescape=True)
        document.save(out)
    except UndefinedError as err:
        raise _undefined(err) from None
    except SecurityError:
        raise TemplateInvalid(NOT_ALLOWED) from None
    except TemplateError:
        raise TemplateInvalid(FAILED) from None
    except Exception as err:  # a template is input: whatever it breaks is the clerk's to fix, not a 500
        log.warning("a report template failed to render: %s", type(err).__name__)
        raise TemplateInvalid("模板中的标签打乱了文档结构，无法生成工作报告：请把 {% if %} 与 {% endif %}、"
                              "{% for %} 与 {% endfor %} 写在同一段内，或各占一段") from None
    return out.getvalue()


def docx_response(data: bytes, filename: str, *, ascii_name: str) -> Response:
    """A Word download: ``filename`` (Chinese) for ``filename*``, ``ascii_name`` for older clients."""
    resp = Response(data, mimetype=DOCX)
    resp.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return resp
