"""Imports (docs/contract.md §5): HTTP only."""
from __future__ import annotations

from flask import g

from service.auth.permissions import require_staff
from service.extensions import Blueprint
from service.imports import services
from service.imports.schemas import ImportListArgs, ImportPageSchema, UndoResultSchema

blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="批量导入记录与撤销")

STAFF = ("station_manager", "breakfast_manager")


@blp.route("/admin/imports", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(ImportListArgs, location="query")
@blp.response(200, ImportPageSchema)
def list_imports(args):
    """批量导入记录（驿站、早餐名册；限管辖范围，最新在前）"""
    return services.list_imports(services.scopes_of(g.staff), args)


@blp.route("/admin/imports/<int:import_id>/undo", methods=["POST"])
@require_staff(*STAFF)
@blp.response(200, UndoResultSchema)
def undo_import(import_id):
    """撤销一次导入：删除新增的记录，恢复被更新的记录（导入后又被修改的行不动并列出）"""
    return services.undo_import(g.staff, services.scopes_of(g.staff), import_id)
