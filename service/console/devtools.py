"""Development only: the WeChat subscribe messages the service sent, as the fake
WeChat received them, so that a newcomer sees what a worker would read.

The app factory registers ``bp`` when ``APP_ENV`` is ``development`` and never
otherwise: in testing and production the address does not exist.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template

from service.common import clock, pii
from service.console import core
from service.extensions import redis_store
from wechat import fake

bp = Blueprint("console_dev", __name__, url_prefix="/console/dev")

KIND_LABELS = {"enrollment_approved": "入会审核通过", "enrollment_rejected": "入会申请驳回",
               "booking_confirmed": "咨询预约成功", "booking_reminder": "咨询提醒", "booking_cancelled": "咨询预约取消"}
SHOWN = 200  # the newest messages; the fake keeps them all


def _row(message: dict, kinds: dict[str, list[str]]) -> dict:
    """One received message as the page shows it: the worker's openid masked."""
    sent_at = message.get("sent_at")
    return {"sent_at": clock.to_local(dt.datetime.fromtimestamp(sent_at, clock.UTC)) if sent_at else None,
            "openid": pii.mask(message.get("touser")), "template_id": message.get("template_id"),
            "kinds": kinds.get(message.get("template_id"), []), "page": message.get("page"),
            "values": [(key, (item or {}).get("value")) for key, item in (message.get("data") or {}).items()]}


@bp.route("/wechat-messages")
@core.staff_page()
def wechat_messages():
    """开发环境：模拟微信收到的订阅消息，最新在前"""
    kinds: dict[str, list[str]] = {}
    for kind, template in (current_app.config["NOTIFY_TEMPLATES"] or {}).items():
        kinds.setdefault(template["template_id"], []).append(KIND_LABELS.get(kind, kind))
    received = fake.sent_messages(redis_store.client)
    rows = [_row(m, kinds) for m in reversed(received[-SHOWN:])]
    return render_template("console/dev/wechat_messages.html", rows=rows, total=len(received), shown=SHOWN,
                           api_base=current_app.config["WECHAT_API_BASE"])
