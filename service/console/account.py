"""Sign in and out of the console (the staff accounts and lockout of the API), and the
staff member's own account: their roles and the WeChat linked to it (docs/contract.md §2)."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from service.auth import binding
from service.auth.services import authenticate_staff, roles_named
from service.common.http import config_limit
from service.console import core
from service.errors import ServiceError
from service.extensions import client_address_key, limiter

bp = core.child("account", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_LOGIN"), key_func=client_address_key, methods=["POST"])
def login():
    """登录：用户名密码；15 分钟内失败 5 次锁定（与 API 相同）"""
    target = core.safe_target(request.values.get("next")) or url_for("console.home.dashboard")
    if request.method == "GET" and core.signed_in_staff() is not None:
        return redirect(target)
    status = 200
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            staff = authenticate_staff(username[:64], request.form.get("password", ""))
        except ServiceError as err:  # wrong credentials (401) or locked (429)
            core.flash_error(err)
            status = err.status
        else:
            core.sign_in(staff)
            flash(f"欢迎，{staff.display_name or staff.username}", "success")
            return redirect(target)
    return render_template("console/login.html", username=username, next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout():
    """退出登录：注销服务端会话"""
    core.sign_out()
    flash("您已退出登录", "success")
    return redirect(url_for("console.account.login"))


@bp.route("/me")
@core.staff_page()
def me():
    """我的账号：角色，以及微信绑定（绑定后可在小程序收到群体性欠薪等提醒）"""
    return render_template("console/account/me.html", roles=roles_named(g.staff), binding=binding.state(g.staff))


@bp.route("/me/wechat-binding", methods=["POST"])
@core.staff_page()
def new_binding_code():
    """获取微信绑定码（新码生成后旧码作废）"""
    return core.run(lambda: binding.issue_code(g.staff), "绑定码已生成，请在 10 分钟内于小程序中输入",
                    url_for("console.account.me"))


@bp.route("/me/wechat-binding/delete", methods=["POST"])
@core.staff_page()
def unbind_wechat():
    """解除微信绑定"""
    return core.run(lambda: binding.unbind(g.staff), "已解除微信绑定", url_for("console.account.me"))
