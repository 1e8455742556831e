"""The imports' inputs and outputs: the answer of a stations or roster import (dry run or real),
the list of imports and the answer of an undo."""
from __future__ import annotations

from marshmallow import fields, validate

from models.imports import IMPORT_KINDS, IMPORT_STATUSES, ITEM_ACTIONS
from service.common.schemas import (
    ComputedBoolean,
    ComputedTime,
    LocalDateTime,
    OutSchema,
    PageArgs,
    QuerySchema,
    page_schema,
)
from service.imports.records import can_undo, undo_deadline

KIND_LABELS = {"stations": "驿站", "roster": "早餐名册"}


class DryRunArgs(QuerySchema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "true：只检查文件，返回将新增、更新和拒绝的行，不写入任何数据（不记录、不可撤销）"})


class ImportRowSchema(OutSchema):
    row = fields.Integer(required=True, metadata={"description": "表格中的行号"})
    action = fields.String(required=True, validate=validate.OneOf(ITEM_ACTIONS),
                           metadata={"description": "created 新增，updated 更新"})
    key = fields.String(required=True, metadata={"description": "驿站编码；名册为脱敏手机号"})
    name = fields.String(required=True, metadata={"description": "驿站名称；名册为姓名"})


class RowMessageSchema(OutSchema):
    row = fields.Integer(required=True)
    message = fields.String(required=True)


class ImportResultSchema(OutSchema):
    dry_run = fields.Boolean(required=True, metadata={"description": "true：仅预览，未写入任何数据"})
    import_id = fields.Integer(allow_none=True, required=True,
                               metadata={"description": "导入记录编号（可撤销）；预览时为 null"})
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    errors = fields.List(fields.Nested(RowMessageSchema), required=True, metadata={"description": "拒绝的行及原因"})
    rows = fields.List(fields.Nested(ImportRowSchema), required=True, metadata={"description": "新增和更新的行"})


class ImportListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(IMPORT_KINDS), metadata={"description": "stations 或 roster"})
    status = fields.String(validate=validate.OneOf(IMPORT_STATUSES), metadata={"description": "done 或 undone"})


class ImportRecordSchema(OutSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "stations 驿站，roster 早餐名册"})
    organization_id = fields.Integer(allow_none=True, required=True)
    actor = fields.String(allow_none=True, attribute="actor_name", metadata={"description": "导入人"})
    filename = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "done 已导入，undone 已撤销"})
    undo_until = ComputedTime(undo_deadline, required=True,
                               metadata={"description": "可撤销的截止时间（导入后 IMPORT_UNDO_DAYS 天）"})
    can_undo = ComputedBoolean(can_undo, required=True, metadata={"description": "现在能否撤销"})
    undone_at = LocalDateTime(allow_none=True)
    undone_by = fields.String(allow_none=True, attribute="undone_by_name")
    removed = fields.Integer(allow_none=True)
    restored = fields.Integer(allow_none=True)
    skipped = fields.Integer(allow_none=True)


ImportPageSchema = page_schema(ImportRecordSchema, "ImportPage")


class UndoResultSchema(OutSchema):
    import_id = fields.Integer(required=True)
    removed = fields.Integer(required=True, metadata={"description": "撤销的新增记录数（驿站为撤销，名册为删除）"})
    restored = fields.Integer(required=True, metadata={"description": "恢复为导入前内容的记录数"})
    skipped = fields.List(fields.Nested(RowMessageSchema), required=True,
                          metadata={"description": "导入后又被修改等原因而未撤销的行"})
