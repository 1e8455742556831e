"""The steps of reports and cases: their Chinese names, the timeline rows, and the
messages that tell the worker (through the outbox, in the caller's transaction).

Message kinds (``NOTIFY_TEMPLATES``): ``arrears_accepted``, ``arrears_declined``
and ``arrears_progress``, each with ``thing1`` the employer, ``phrase2`` the
new state, ``thing3`` what happened (the reason, the note) and ``time4`` when.
"""
from __future__ import annotations

import datetime as dt

from models import db
from models.arrears import ArrearsEvent, ArrearsReport
from service.notifications import outbox

REPORT_STATUS_LABELS = {"submitted": "待受理", "accepted": "已受理", "declined": "不予受理",
                        "withdrawn": "已撤回", "closed": "已办结"}
CASE_STATUS_LABELS = {"accepted": "已受理", "coordinating": "协调中", "referred": "已移交",
                      "resolved": "已解决", "closed": "已结案"}
REFERRAL_LABELS = {"labor_inspection": "劳动保障监察", "arbitration": "劳动人事争议仲裁", "court": "人民法院",
                   "legal_aid": "法律援助"}
EVENT_LABELS = {"submitted": "提交报工", "withdrawn": "撤回报工", "accepted": "受理报工", "declined": "不予受理",
                "opened": "立案", "transition": "案件进展", "collective": "群体性欠薪提醒"}
# What a step means to the worker when staff wrote no note.
DEFAULT_NOTES = {"coordinating": "工会正在与用人单位协调", "referred": "案件已移交{referral}",
                 "resolved": "欠薪问题已解决", "closed": "案件已结案"}


def record(kind: str, at: dt.datetime, *, report_id: int | None = None, case_id: int | None = None,
           from_status: str | None = None, to_status: str | None = None, note: str | None = None,
           staff_id: int | None = None) -> ArrearsEvent:
    """Add one step to the timeline (in the caller's transaction)."""
    event = ArrearsEvent(kind=kind, report_id=report_id, case_id=case_id, from_status=from_status,
                         to_status=to_status, note=note, staff_id=staff_id, at=at)
    db.session.add(event)
    return event


def tell_worker(report: ArrearsReport, kind: str, state: str, what: str, at: dt.datetime,
                dedupe_key: str) -> None:
    """Queue the message of one step for the report's worker (none once the worker erased their data)."""
    if report.worker_id is None:
        return
    outbox.enqueue(report.worker_id, kind,
                   {"employer": report.employer_name, "state": state, "what": what, "at": at,
                    "report_id": report.id}, dedupe_key=dedupe_key)
