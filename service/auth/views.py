"""Sign-in, sessions and the caller's own account (docs/contract.md §2)."""
from __future__ import annotations

from flask import g

from service import worker_data
from service.auth import binding, services, sessions
from service.auth.permissions import current_identity, require_auth, require_staff_account, require_worker
from service.auth.schemas import (
    BindingCodeSchema,
    LoginResultSchema,
    MeSchema,
    MyDataSchema,
    PhoneBindSchema,
    PhoneResultSchema,
    StaffBindResultSchema,
    StaffBindSchema,
    StaffLoginSchema,
    WeChatLoginSchema,
)
from service.common.http import config_limit
from service.errors import ErrorEnvelopeSchema
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


# --- a staff member's own WeChat (docs/contract.md §2) ---------------------------------------

@blp.route("/admin/me/wechat-binding", methods=["POST"])
@require_staff_account
@blp.response(201, BindingCodeSchema)
def new_binding_code():
    """工作人员获取微信绑定码（6 位数字，10 分钟内有效；新码生成后旧码作废）"""
    return binding.issue_code(g.staff)


@blp.route("/admin/me/wechat-binding", methods=["DELETE"])
@require_staff_account
@blp.response(204)
def unbind_wechat():
    """工作人员解除本人账号的微信绑定"""
    binding.unbind(g.staff)
    return None


@blp.route("/me/staff-binding", methods=["POST"])
@require_worker(limit="RATELIMIT_STAFF_BINDING")
@blp.arguments(StaffBindSchema)
@blp.response(200, StaffBindResultSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema, description="binding_code_invalid：绑定码错误或已过期")
@blp.alt_response(409, schema=ErrorEnvelopeSchema, description="wechat_already_bound：该微信已绑定其他工作人员账号")
@blp.alt_response(429, schema=ErrorEnvelopeSchema, description="rate_limited（每人每小时限次）")
def bind_staff(body):
    """在小程序「我的」中输入工作人员控制台显示的绑定码，将本微信绑定到该工作人员账号"""
    staff = binding.bind(g.worker, body["code"])
    return {"bound": True, "staff_name": staff.display_name or staff.username}
