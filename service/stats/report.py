"""The annual work report drafted as Word from the year's figures, and its templates
(docs/contract.md §7).  Admins, within their organizations.

Rules and error cases:
- The report speaks for one organization: the one named (``organization_id``,
  422 outside the caller's organizations), else the caller's single top
  organization (``owning_organization``; 422 asking to choose when the caller
  holds several).  Its figures are those of ``GET /admin/stats/annual``: the
  caller's organizations, or the named organization's subtree.
- The template in use for an organization is its own, else its nearest
  ancestor's, else the default shipped in ``service/stats/templates/``
  (written by ``service/stats/make_template.py``).
- An upload replaces the organization's own template — one row per
  organization, replaced in one ``INSERT … ON CONFLICT DO UPDATE``, so
  concurrent uploads leave exactly one, the last — with who and when, and an
  audit row in the same transaction.  It is stored only after it rendered the
  current year's figures; a template that does not render is 422
  ``template_invalid`` naming the problem (``templating``), on upload and on
  every draft.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import Organization, StaffUser, db
from models.report import ReportTemplate
from service.auth.permissions import Scope, subtree_ids
from service.common import clock
from service.common.audit import record as audit
from service.enrollment.rules import OCCUPATION_LABELS
from service.legal_aid.display import TOPICS as TOPIC_LABELS
from service.organizations.services import owning_organization
from service.stats import services as figures_of
from service.stats import templating

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "annual_report.docx"
TEMPLATE_NAME = "年度工作报告模板.docx"
TEMPLATE_ASCII_NAME = "annual-report-template.docx"

# Every placeholder a template may use: name → what it holds (docs/contract.md §7 lists the same).
PLACEHOLDERS = {
    "工会名称": "报告单位：本人所在的最上级工会（或所选的工会组织）的名称，如 扬州市总工会",
    "年度": "报告年度，如 2026",
    "成稿日期": "生成草稿的日期，如 2026年3月2日",
    "入会申请数": "年内提交的入会申请（份）",
    "新发展会员数": "年内审核通过的新会员（人）",
    "新会员职业分布": "新会员按职业的人数，如 快递员3人、外卖送餐员2人（无新会员时为“无”）",
    "驿站总数": "年末在用的户外劳动者驿站（个）",
    "新建驿站数": "其中年内新建的（个）",
    "设母婴室驿站数": "其中设有母婴室的（个）",
    "早餐点数": "年末已设立的爱心早餐点（个）",
    "供餐人次": "年内供应的免费早餐（人次）",
    "受益人数": "年内吃到早餐的环卫工人（人）",
    "咨询预约数": "年内的法律咨询预约，已取消的除外（人次）",
    "完成咨询数": "其中已完成的（人次）",
    "咨询事项分布": "咨询预约按事项的人次，如 欠薪5人次、工伤2人次（无预约时为“无”）",
    "欠薪报工数": "年内职工提交的欠薪报工（件）",
    "欠薪立案数": "年内立案的欠薪案件（件）",
    "欠薪解决数": "年内解决的欠薪案件（件）",
    "帮助职工人数": "年内解决的案件所涉职工（人，按报工所填人数合计）",
    "追回金额": "年内解决的案件追回的欠薪（元，带千位分隔符和两位小数，如 12,000.50）",
}


def _breakdown(counts: dict[str, int], labels: dict[str, str], unit: str) -> str:
    parts = [f"{labels.get(key, key)}{n}{unit}" for key, n in counts.items() if n]
    return "、".join(parts) or "无"


def placeholders(figures: dict, organization: str, today: dt.date) -> dict:
    """The values of ``PLACEHOLDERS`` for the year's ``figures`` (``services.annual``)."""
    e, s, b, la, a = (figures[k] for k in ("enrollment", "stations", "breakfast", "legal_aid", "arrears"))
    return {
        "工会名称": organization, "年度": figures["year"], "成稿日期": f"{today.year}年{today.month}月{today.day}日",
        "入会申请数": e["applications"], "新发展会员数": e["new_members"],
        "新会员职业分布": _breakdown(e["by_occupation"], OCCUPATION_LABELS, "人"),
        "驿站总数": s["total"], "新建驿站数": s["new"], "设母婴室驿站数": s["with_nursing_room"],
        "早餐点数": b["points"], "供餐人次": b["servings"], "受益人数": b["distinct_workers"],
        "咨询预约数": la["bookings"], "完成咨询数": la["completed"],
        "咨询事项分布": _breakdown(la["by_topic"], TOPIC_LABELS, "人次"),
        "欠薪报工数": a["reports"], "欠薪立案数": a["cases"], "欠薪解决数": a["resolved"],
        "帮助职工人数": a["workers"], "追回金额": f"{a['amount_recovered']:,.2f}",
    }


def organization_and_scope(scope: Scope, args: dict) -> tuple[Organization, Scope]:
    """The organization the report speaks for, and the scope of its figures."""
    org = db.session.get(Organization, owning_organization(scope, args, noun="工作报告"))
    if args.get("organization_id") is None:
        return org, scope
    return org, Scope(scope.roles, frozenset(subtree_ids(org.id)))


def _own_or_inherited(org: Organization) -> ReportTemplate | None:
    """The template of ``org`` or of its nearest ancestor that has one."""
    chain = [int(part) for part in org.path.strip("/").split("/") if part]  # the root first
    rows = db.session.execute(select(ReportTemplate.id, ReportTemplate.organization_id)
                              .where(ReportTemplate.organization_id.in_(chain))).all()
    if not rows:
        return None
    nearest = max(rows, key=lambda row: chain.index(row.organization_id))
    return db.session.get(ReportTemplate, nearest.id)


def _content(template: ReportTemplate | None) -> bytes:
    return template.content if template is not None else DEFAULT_TEMPLATE.read_bytes()


def template_status(scope: Scope, args: dict) -> dict:
    """Which template the organization's drafts use: ``{organization_id, organization, source:
    "own" | "inherited" | "default", from_organization, filename, size, uploaded_by, uploaded_at}``."""
    org, _ = organization_and_scope(scope, args)
    template = _own_or_inherited(org)
    out = {"organization_id": org.id, "organization": org.name}
    if template is None:
        return out | {"source": "default", "from_organization": None, "filename": TEMPLATE_NAME,
                      "size": DEFAULT_TEMPLATE.stat().st_size, "uploaded_by": None, "uploaded_at": None}
    owner = db.session.get(Organization, template.organization_id)
    return out | {"source": "own" if owner.id == org.id else "inherited", "from_organization": owner.name,
                  "filename": template.filename, "size": template.size, "uploaded_by": template.uploaded_by_name,
                  "uploaded_at": template.uploaded_at}


def template_in_use(scope: Scope, args: dict) -> bytes:
    """The .docx template the organization's drafts use (its own, inherited or the default)."""
    org, _ = organization_and_scope(scope, args)
    return _content(_own_or_inherited(org))


def draft(scope: Scope, args: dict) -> tuple[bytes, str]:
    """The year's draft report as .docx bytes, and its file name (``扬州市总工会2026年度工作报告（草稿）.docx``);
    422 ``template_invalid`` when the template in use does not render."""
    org, figures_scope = organization_and_scope(scope, args)
    values = placeholders(figures_of.annual(figures_scope, args["year"]), org.name, clock.today_local())
    document = templating.render(_content(_own_or_inherited(org)), values)
    return document, f"{org.name}{args['year']}年度工作报告（草稿）.docx"


def _filename(name: str | None) -> str:
    """The uploaded file's own name, without a path or characters that cannot be shown or stored."""
    base = "".join(ch for ch in (name or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base[-200:] or TEMPLATE_NAME


def replace_template(scope: Scope, staff: StaffUser, upload, args: dict) -> dict:
    """Store ``upload`` (a .docx) as the organization's own template once it renders the
    current year's figures; 422 ``template_invalid`` naming the problem, nothing stored.
    → ``template_status`` of the organization."""
    org, figures_scope = organization_and_scope(scope, args)
    raw = upload.read(templating.MAX_TEMPLATE_BYTES + 1)
    today = clock.today_local()
    templating.render(raw, placeholders(figures_of.annual(figures_scope, today.year), org.name, today))
    now = clock.now()
    values = {"organization_id": org.id, "filename": _filename(upload.filename), "size": len(raw), "content": raw,
              "uploaded_by_id": staff.id, "uploaded_by_name": staff.display_name or staff.username,
              "uploaded_at": now}
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ReportTemplate).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["organization_id"],
                                      set_={k: stmt.excluded[k] for k in values if k != "organization_id"})
    template_id = db.session.execute(stmt.returning(ReportTemplate.id)).scalar_one()
    audit("stats.report_template.replace", "report_template", template_id, organization_id=org.id,
          details={"filename": values["filename"], "size": len(raw)})
    db.session.commit()
    return template_status(scope, args)
