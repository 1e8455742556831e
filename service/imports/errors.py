"""The imports' refusals (docs/contract.md §5), one class per code and message."""
from __future__ import annotations

from service.errors import ServiceError


class ImportNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "导入记录不存在"


class ImportAlreadyUndone(ServiceError):
    """The import was undone already (the conditional update of its status found it so)."""

    status = 409
    code = "invalid_state"
    message = "该次导入已经撤销过了"


class UndoWindowClosed(ServiceError):
    status = 409
    code = "undo_window_closed"
    message = "该次导入已超过可撤销的期限"


class PreviewExpired(ServiceError):
    """The console's confirmation came after the file's preview expired, or a second time."""

    status = 409
    code = "preview_expired"
    message = "预览已过期或文件已导入，请重新上传文件"
