"""Input and output schemas of legal-aid booking (docs/contract.md §4).

Output schemas describe the dicts built by ``services`` (``*_view``
functions); input schemas refuse unknown body fields.
"""
from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from models.legal_aid import (BOOKING_OUTCOMES, BOOKING_STATUSES, BOOKING_TOPICS, PROVIDER_KINDS,
                              SLOT_MODES, SLOT_STATUSES)
from service.common.schemas import (MAX_ID, BodySchema, LocalDateTime, OutSchema, PageArgs, QuerySchema)
from service.common.validators import is_mainland_mobile

_PHONE_RE = re.compile(r"^[0-9+\-() ]{5,32}$")


class HourMinute(fields.Time):
    """A wall-clock time in Asia/Shanghai, ``HH:MM`` (``HH:MM:SS`` accepted on input)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class StrippedString(fields.String):
    """Text without surrounding blanks; NUL refused (PostgreSQL text cannot hold it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise ma.ValidationError("不能包含控制字符")
        return _stripped(value)


def _not_blank(value):
    if value is not None and not value.strip():
        raise ma.ValidationError("不能为空")


def _phone(value):
    if value is not None and not _PHONE_RE.match(value):
        raise ma.ValidationError("电话号码格式不正确")


_FIRST_DAY, _LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def _sane_date(value):
    """Dates the service can compute with (no overflow at the calendar's ends)."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise ma.ValidationError("日期应在 2000 年至 2099 年之间")


def _mobile(value):
    if value is not None and not is_mainland_mobile(value):
        raise ma.ValidationError("请填写有效的 11 位手机号")


_weekdays = fields.List(fields.Integer(validate=validate.Range(min=1, max=7)),
                        validate=validate.Length(min=1, max=7),
                        metadata={"description": "ISO weekdays: 1 = Monday … 7 = Sunday"})


# --- shared output pieces ------------------------------------------------------------

class LegalAidOrganizationRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class LegalAidProviderRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(PROVIDER_KINDS)})
    kind_label = fields.String()
    firm = fields.String(allow_none=True)
    organization = fields.Nested(LegalAidOrganizationRefSchema, required=True)


class LegalAidSlotSchema(OutSchema):
    id = fields.Integer(required=True)
    provider = fields.Nested(LegalAidProviderRefSchema, required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    mode = fields.String(required=True, metadata={"enum": list(SLOT_MODES)})
    mode_label = fields.String()
    location = fields.String(allow_none=True, required=True)
    capacity = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    bookable = fields.Boolean(metadata={"description": "within the booking window now"})


class LegalAidAdminSlotSchema(LegalAidSlotSchema):
    booked = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(SLOT_STATUSES)})
    rule_id = fields.Integer(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancelled_at = LocalDateTime(allow_none=True)


class LegalAidTopicSchema(OutSchema):
    code = fields.String(required=True, metadata={"enum": list(BOOKING_TOPICS)})
    label = fields.String(required=True)


class LegalAidTopicListSchema(OutSchema):
    items = fields.List(fields.Nested(LegalAidTopicSchema), required=True)


# --- providers -----------------------------------------------------------------------

class LegalAidProviderSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(PROVIDER_KINDS)})
    kind_label = fields.String()
    organization_id = fields.Integer(required=True)
    organization = fields.Nested(LegalAidOrganizationRefSchema, required=True)
    firm = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "the provider's public office number"})
    active = fields.Boolean(required=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class LegalAidProviderCreateSchema(BodySchema):
    name = StrippedString(required=True, validate=[validate.Length(min=1, max=100), _not_blank])
    kind = fields.String(required=True, validate=validate.OneOf(PROVIDER_KINDS))
    organization_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    firm = StrippedString(allow_none=True, validate=validate.Length(max=200))
    address = StrippedString(allow_none=True, validate=validate.Length(max=255))
    phone = StrippedString(allow_none=True, validate=_phone)
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _kind_fields(self, data, **kwargs):
        if data.get("kind") == "lawyer" and not data.get("firm"):
            raise ma.ValidationError("律师须填写所在律师事务所", "firm")
        if data.get("kind") == "volunteer_station" and not data.get("address"):
            raise ma.ValidationError("志愿服务站须填写地址", "address")


class LegalAidProviderPatchSchema(BodySchema):
    name = StrippedString(validate=[validate.Length(min=1, max=100), _not_blank])
    firm = StrippedString(allow_none=True, validate=validate.Length(max=200))
    address = StrippedString(allow_none=True, validate=validate.Length(max=255))
    phone = StrippedString(allow_none=True, validate=_phone)
    active = fields.Boolean()


class LegalAidProviderListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(PROVIDER_KINDS))
    organization_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    active = fields.Boolean()


# --- slots and weekly rules ---------------------------------------------------------

class LegalAidSlotCreateSchema(BodySchema):
    """One slot ``{provider_id, starts_at, ends_at, capacity, mode, location?}`` or a
    weekly rule ``{provider_id, weekdays, start, end, capacity, mode, location, from, until}``."""

    provider_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    mode = fields.String(required=True, validate=validate.OneOf(SLOT_MODES))
    location = StrippedString(allow_none=True, validate=validate.Length(max=255))
    # one slot
    starts_at = LocalDateTime(validate=_sane_date)
    ends_at = LocalDateTime(validate=_sane_date)
    # a weekly rule
    weekdays = _weekdays
    start = HourMinute()
    end = HourMinute()
    valid_from = fields.Date(data_key="from", validate=_sane_date)
    valid_until = fields.Date(data_key="until", validate=_sane_date)

    @validates_schema
    def _one_shape(self, data, **kwargs):
        rule_keys = ("weekdays", "start", "end", "valid_from", "valid_until")
        slot_keys = ("starts_at", "ends_at")
        names = {"valid_from": "from", "valid_until": "until"}
        is_rule = any(k in data for k in rule_keys)
        errors: dict[str, list[str]] = {}
        if is_rule:
            for key in slot_keys:
                if key in data:
                    errors[key] = ["按周排班时不能同时填写单个时段"]
            for key in rule_keys:
                if data.get(key) is None:
                    errors[names.get(key, key)] = ["必填"]
            if not errors:
                if data["end"] <= data["start"]:
                    errors["end"] = ["结束时间应晚于开始时间"]
                if data["valid_until"] < data["valid_from"]:
                    errors["until"] = ["结束日期不能早于开始日期"]
                elif (data["valid_until"] - data["valid_from"]).days > 366:
                    errors["until"] = ["排班周期不能超过一年"]
        else:
            for key in slot_keys:
                if data.get(key) is None:
                    errors[key] = ["必填"]
            if not errors:
                if data["ends_at"] <= data["starts_at"]:
                    errors["ends_at"] = ["结束时间应晚于开始时间"]
                elif data["ends_at"] - data["starts_at"] > dt.timedelta(hours=12):
                    errors["ends_at"] = ["单个时段不能超过 12 小时"]
        if errors:
            raise ma.ValidationError(errors)


class LegalAidRuleSchema(OutSchema):
    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    provider = fields.Nested(LegalAidProviderRefSchema, required=True)
    weekdays = fields.List(fields.Integer(), required=True)
    start = HourMinute(required=True)
    end = HourMinute(required=True)
    capacity = fields.Integer(required=True)
    mode = fields.String(required=True, metadata={"enum": list(SLOT_MODES)})
    location = fields.String(allow_none=True)
    valid_from = fields.Date(data_key="from", required=True)
    valid_until = fields.Date(data_key="until", required=True)
    upcoming_slots = fields.Integer(metadata={"description": "open future slots of the rule"})
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class LegalAidSlotCreateResultSchema(OutSchema):
    created = fields.Integer(required=True, metadata={"description": "slots created"})
    skipped_dates = fields.List(fields.Date(), required=True,
                                metadata={"description": "dates left out because they overlap an existing slot"})
    slot = fields.Nested(LegalAidAdminSlotSchema, allow_none=True, required=True)
    rule = fields.Nested(LegalAidRuleSchema, allow_none=True, required=True)


class LegalAidRulePatchSchema(BodySchema):
    weekdays = _weekdays
    start = HourMinute()
    end = HourMinute()
    capacity = fields.Integer(validate=validate.Range(min=1, max=100))
    mode = fields.String(validate=validate.OneOf(SLOT_MODES))
    location = StrippedString(allow_none=True, validate=validate.Length(max=255))
    valid_from = fields.Date(data_key="from", validate=_sane_date)
    valid_until = fields.Date(data_key="until", validate=_sane_date)


class LegalAidRuleUpdateResultSchema(OutSchema):
    rule = fields.Nested(LegalAidRuleSchema, required=True)
    created = fields.Integer(required=True)
    removed = fields.Integer(required=True, metadata={"description": "future slots without bookings withdrawn"})
    kept_booked = fields.List(fields.Integer(), required=True,
                              metadata={"description": "ids of future slots kept unchanged because they have bookings"})
    skipped_dates = fields.List(fields.Date(), required=True)


class LegalAidRuleDeleteResultSchema(OutSchema):
    removed = fields.Integer(required=True)
    kept_booked = fields.List(fields.Integer(), required=True)


class LegalAidRuleListArgs(PageArgs):
    provider_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class LegalAidSlotCancelSchema(BodySchema):
    reason = StrippedString(required=True, validate=[validate.Length(min=1, max=200), _not_blank])


class LegalAidSlotCancelResultSchema(OutSchema):
    slot = fields.Nested(LegalAidAdminSlotSchema, required=True)
    cancelled_bookings = fields.Integer(required=True)


class _DateRangeArgs(PageArgs):
    date_from = fields.Date(validate=_sane_date)
    date_to = fields.Date(validate=_sane_date)

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError("结束日期不能早于开始日期", "date_to")


class LegalAidSlotListArgs(_DateRangeArgs):
    mode = fields.String(validate=validate.OneOf(SLOT_MODES))
    provider_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class LegalAidAdminSlotListArgs(LegalAidSlotListArgs):
    status = fields.String(validate=validate.OneOf(SLOT_STATUSES))


# --- bookings ----------------------------------------------------------------------------

class LegalAidBookingCreateSchema(BodySchema):
    slot_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    topic = fields.String(required=True, validate=validate.OneOf(BOOKING_TOPICS))
    description = StrippedString(required=True, validate=[validate.Length(min=1, max=500), _not_blank])
    contact_phone = StrippedString(allow_none=True, validate=_mobile)


class _BookingFields(OutSchema):
    """What a worker and the legal-aid staff both see of a booking."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(BOOKING_STATUSES)})
    status_label = fields.String()
    topic = fields.String(required=True, metadata={"enum": list(BOOKING_TOPICS)})
    topic_label = fields.String()
    description = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    outcome = fields.String(allow_none=True, metadata={"enum": list(BOOKING_OUTCOMES)})
    outcome_label = fields.String(allow_none=True)
    cancelled_by = fields.String(allow_none=True, metadata={"enum": ["worker", "staff"]})
    cancel_reason = fields.String(allow_none=True)
    created_at = LocalDateTime()
    cancelled_at = LocalDateTime(allow_none=True)


class LegalAidBookingSchema(_BookingFields):
    slot = fields.Nested(LegalAidSlotSchema, required=True)
    can_cancel = fields.Boolean(metadata={"description": "booked and before the cancellation cut-off"})


class LegalAidMyBookingsArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(BOOKING_STATUSES))


class LegalAidAdminBookingSchema(_BookingFields):
    worker_id = fields.Integer(required=True)
    slot = fields.Nested(LegalAidAdminSlotSchema, required=True)
    notes = fields.String(allow_none=True)
    handled_by_id = fields.Integer(allow_none=True)
    updated_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)


class LegalAidAdminBookingListArgs(_DateRangeArgs):
    provider_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    status = fields.String(validate=validate.OneOf(BOOKING_STATUSES))
    topic = fields.String(validate=validate.OneOf(BOOKING_TOPICS))


class LegalAidCompleteSchema(BodySchema):
    outcome = fields.String(required=True, validate=validate.OneOf(BOOKING_OUTCOMES))
    notes = StrippedString(allow_none=True, validate=validate.Length(max=2000))


class LegalAidDaySheetArgs(QuerySchema):
    date = fields.Date(required=True, validate=_sane_date)
