"""Sign-in, sessions and the caller's own account (docs/contract.md §2)."""
from __future__ import annotations

from flask import g

from service import worker_data
from service.auth import services, sessions
from service.auth.permissions import current_identity, require_auth, require_worker
from service.auth.schemas import (
    LoginResultSchema,
    MeSchema,
    MyDataSchema,
    PhoneBindSchema,
    PhoneResultSchema,
    StaffLoginSchema,
    WeChatLoginSchema,
)
from service.common.http import config_limit
from service.extensions import Blueprint, client_address_key, limiter
from wechat.errors import WeChatCodeInvalid, WeChatPhoneCodeInvalid

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="登录与账号")


@blp.route("/auth/wechat/login", methods=["POST"])
@limiter.limit(config_limit("RATELIMIT_LOGIN"), key_func=client_address_key)
@blp.arguments(WeChatLoginSchema)
@blp.response(200, LoginResultSchema)
def wechat_login(body):
    """用 wx.login() 的 code 登录；首次登录自动注册"""
    result = services.wechat_login(body["code"])
    result["user"] = worker_data.me_for_worker(result.pop("worker"))
    return result


@blp.route("/auth/wechat/phone", methods=["POST"])
@require_worker(limit="RATELIMIT_PHONE")
@blp.arguments(PhoneBindSchema)
@blp.response(200, PhoneResultSchema)
def bind_phone(body):
    """绑定微信验证过的手机号（getPhoneNumber 的 code，或旧版 encrypted_data + iv）；
    手机号 code 无效或已使用为 422（登录仍有效，请重新授权）"""
    try:
        phone = services.bind_phone(g.worker, body.get("code"), body.get("encrypted_data"), body.get("iv"))
    except WeChatCodeInvalid as err:  # the session stays valid: 422, never the login's 401
        raise WeChatPhoneCodeInvalid.of(err) from None
    return {"phone": phone}


@blp.route("/auth/staff/login", methods=["POST"])
@limiter.limit(config_limit("RATELIMIT_LOGIN"), key_func=client_address_key)
@blp.arguments(StaffLoginSchema)
@blp.response(200, LoginResultSchema)
def staff_login(body):
    """工作人员用户名密码登录；15 分钟内失败 5 次将锁定"""
    return services.staff_login(body["username"], body["password"])


@blp.route("/auth/logout", methods=["POST"])
@require_auth
@blp.response(204)
def logout():
    """注销当前登录"""
    sessions.revoke(current_identity().token_hash)
    return None


@blp.route("/me", methods=["GET"])
@require_auth
@blp.response(200, MeSchema)
def me():
    """当前用户信息（个人信息已脱敏）"""
    if g.identity.kind == "worker":
        return worker_data.me_for_worker(g.worker)
    return services.me_for_staff(g.staff)


@blp.route("/me", methods=["DELETE"])
@require_worker
@blp.response(204)
def delete_me():
    """删除本人个人信息（个人信息保护法：删除权）"""
    worker_data.erase_worker(g.worker)
    return None


@blp.route("/me/data", methods=["GET"])
@require_worker
@blp.response(200, MyDataSchema)
def my_data():
    """本人存储在系统中的全部信息（未脱敏，仅本人可见）"""
    return worker_data.worker_data(g.worker)
