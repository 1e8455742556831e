"""The domain errors of the annual report (docs/contract.md §7)."""
from __future__ import annotations

from service.errors import ServiceError


class TemplateInvalid(ServiceError):
    """A Word template that cannot make the report; raised with a message naming the problem."""

    status = 422
    code = "template_invalid"
    message = "模板无法生成工作报告，请检查后重新上传"
