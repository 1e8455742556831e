"""Notifications over HTTP (docs/contract.md §8): the templates the mini-program asks the worker to accept."""
from __future__ import annotations

from service.extensions import Blueprint
from service.notifications import templates
from service.notifications.schemas import TemplateIdsSchema

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="订阅消息")


@blp.route("/notifications/templates", methods=["GET"])
@blp.response(200, TemplateIdsSchema)
def template_ids():
    """各类订阅消息的模板 ID（小程序据此调用 wx.requestSubscribeMessage）"""
    return templates.template_ids()
