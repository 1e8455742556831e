"""Imports at the console: the preview step shared by the stations and roster import pages
(upload → what would be created, updated and refused → confirm → imported), and the list
of imports with their undo.

The previewed file is kept server-side (``service/imports/staging.py``) under a random
token the confirmation form carries, so the clerk confirms without choosing the file
again and exactly the previewed bytes are imported.
"""
from __future__ import annotations

import io

from flask import g, render_template, request
from werkzeug.datastructures import FileStorage

from service.console import core
from service.errors import ValidationFailed
from service.imports import records, services, staging
from service.imports.schemas import KIND_LABELS, ImportListArgs

bp = core.child("imports", __name__, url_prefix="/imports")

ROLES = ("station_manager", "breakfast_manager")
SHOWN_ROWS = 200  # rows of a preview listed on the page; the counts cover them all


def upload(storage) -> tuple[str, bytes]:
    """The uploaded file's name and bytes (422 naming the field when none was chosen)."""
    if storage is None or not storage.filename:
        raise ValidationFailed({"file": ["请选择要导入的文件（xlsx 或 csv）"]})
    return storage.filename, storage.read()


def as_file(filename: str, content: bytes) -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=filename)


def preview(kind: str, filename: str, content: bytes, organization_id: int | None, answer: dict) -> dict:
    """Keep the previewed file for the confirmation → the page's preview: the dry run's
    answer, the token, and the first rows to list."""
    token = staging.stage(kind, g.staff.id, filename, organization_id, content) \
        if answer["created"] or answer["updated"] else None
    return {**answer, "token": token, "filename": filename, "shown": answer["rows"][:SHOWN_ROWS]}


def confirmed(kind: str) -> tuple[FileStorage, dict]:
    """The file previewed under the posted token, taken from the store (409 ``preview_expired``
    when gone) → the file and the organization it was previewed for (empty: the default)."""
    staged = staging.take(kind, g.staff.id, request.form.get("token", ""))
    given = {} if staged.organization_id is None else {"organization_id": staged.organization_id}
    return as_file(staged.filename, staged.content), given


@bp.route("/")
@core.staff_page(*ROLES)
def index():
    """导入记录：驿站与早餐名册的每次导入，可在期限内撤销"""
    page = services.list_imports(services.scopes_of(g.staff), core.query_args(ImportListArgs))
    return render_template("console/imports/index.html", page=page, kinds=KIND_LABELS, can_undo=records.can_undo,
                           undo_until=records.undo_deadline)


@bp.route("/<int:import_id>/undo", methods=["POST"])
@core.staff_page(*ROLES)
def undo(import_id):
    """撤销一次导入"""
    def action():
        result = services.undo_import(g.staff, services.scopes_of(g.staff), import_id)
        core.flash_result(f"已撤销：删除新增的 {result['removed']} 条，恢复被更新的 {result['restored']} 条"
                          + (f"；{len(result['skipped'])} 行未撤销" if result["skipped"] else ""),
                          [s["message"] for s in result["skipped"]])
    return core.run(action, None, core.back("console.imports.index"))
