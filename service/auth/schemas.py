"""Request and response schemas of sign-in and the caller's account (docs/contract.md §2)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from service.common import pii
from service.common.schemas import BodySchema, LocalDateTime, OutSchema


class Masked(fields.String):
    """Personal data shown masked: ``138****8000``."""

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask(value)


class WeChatLoginSchema(BodySchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))


class PhoneBindSchema(BodySchema):
    code = fields.String(validate=validate.Length(min=1, max=128))
    encrypted_data = fields.String(validate=validate.Length(min=1, max=4096))
    iv = fields.String(validate=validate.Length(min=1, max=64))

    @ma.validates_schema
    def _one_flow(self, data, **kwargs):
        if data.get("code"):
            return
        if not (data.get("encrypted_data") and data.get("iv")):
            raise ma.ValidationError("请提供 code，或 encrypted_data 与 iv", "code")


class StaffLoginSchema(BodySchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class MeSchema(OutSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["worker", "staff"]))
    roles = fields.Raw(required=True, metadata={"description": "staff: [{role, organization_id}]; worker: []"})
    phone = fields.String(allow_none=True, metadata={"description": "masked: 138****8000"})
    membership = fields.Dict(allow_none=True)
    breakfast_eligible = fields.Boolean()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    wechat_bound = fields.Boolean(metadata={"description": "staff: whether their own WeChat account is linked"})


class LoginResultSchema(OutSchema):
    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    is_new_user = fields.Boolean()
    user = fields.Nested(MeSchema, required=True)


class PhoneResultSchema(OutSchema):
    phone = Masked(required=True)


class MyDataSchema(OutSchema):
    """Everything stored about the caller, one section per feature (unmasked)."""

    account = fields.Dict(required=True)
    enrollment = fields.Raw(metadata={"description": "入会申请与会员信息"})
    legal_aid = fields.Raw(metadata={"description": "法律咨询预约"})
    breakfast = fields.Raw(metadata={"description": "爱心早餐资格与用餐记录"})
    station_reports = fields.Raw(metadata={"description": "驿站问题反馈"})
    arrears = fields.Raw(metadata={"description": "欠薪报工"})
    staff_binding = fields.Raw(allow_none=True, metadata={"description": "本微信绑定的工作人员账号（如有）"})
    notifications = fields.Raw(metadata={"description": "微信订阅消息"})


class BindingCodeSchema(OutSchema):
    """A staff member's one-time code, entered in the mini-program to link their WeChat."""

    code = fields.String(required=True, metadata={"description": "6 digits"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    expires_at = LocalDateTime(required=True)


class StaffBindSchema(BodySchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "the 6-digit binding code shown in the staff console"})


class StaffBindResultSchema(OutSchema):
    bound = fields.Boolean(required=True)
    staff_name = fields.String(required=True, metadata={"description": "the staff account's display name"})
