"""The stations feature's refusals (docs/contract.md §5), one class per code and message."""
from __future__ import annotations

from service.errors import ServiceError


class StationNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "驿站不存在或已撤销"


class StationCodeTaken(ServiceError):
    """Another live station has this code (partial unique index ``uq_stations_code_live``)."""

    status = 409
    code = "station_code_taken"
    message = "驿站编码已被使用，请换一个编码"


class ReportNotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "反馈不存在"


class ReportExists(ServiceError):
    """The worker already has an open report of this kind for this station (``uq_station_reports_open``)."""

    status = 409
    code = "report_exists"
    message = "您已反馈过该问题，工作人员正在处理"


class ReportAlreadyResolved(ServiceError):
    status = 409
    code = "invalid_state"
    message = "该反馈已处理"
