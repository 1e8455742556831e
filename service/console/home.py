"""The dashboard: what needs doing today, one card per section the clerk may see."""
from __future__ import annotations

from flask import abort, render_template

from service.console import arrears, breakfast, core, enrollment, legal_aid, stations

bp = core.child("home", __name__)

# Each section module offers ROLES and summary() → the context of its card.
SECTIONS = (enrollment, breakfast, legal_aid, stations, arrears)


@bp.route("/")
@core.staff_page()
def dashboard():
    """工作台：待审核入会申请、今日早餐、今日咨询、未处理的驿站反馈"""
    cards = [(section.__name__.rsplit(".", 1)[-1], section.summary())
             for section in SECTIONS if core.may(*section.ROLES)]
    return render_template("console/dashboard.html", cards=cards)


@bp.route("/<path:anything>")
@core.staff_page()
def unknown(anything):
    """Any other console address: the 404 page."""
    abort(404)
