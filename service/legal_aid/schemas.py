"""Input and output schemas of legal-aid booking (docs/contract.md §4).

Input schemas refuse unknown body fields.  Output schemas read the model
objects the use cases return; what is worked out rather than stored (labels,
a slot's place, decrypted and masked fields, whether a slot can be booked now)
comes from ``display`` and ``booking``, so it is written once.  The fields
that depend on the time read one instant per response, set by
``at_one_instant`` around the view.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import TypedDict

import marshmallow as ma
from marshmallow import fields, validate, validates_schema
from marshmallow.experimental.context import Context

from models.legal_aid import (
    BOOKING_OUTCOMES,
    BOOKING_STATUSES,
    BOOKING_TOPICS,
    PROVIDER_KINDS,
    SLOT_MODES,
    SLOT_STATUSES,
)
from service.common import clock
from service.common.schemas import (
    ID_RANGE,
    BodySchema,
    ComputedBoolean,
    ComputedInteger,
    ComputedString,
    LocalDateTime,
    OutSchema,
    PageArgs,
    QuerySchema,
)
from service.common.validators import is_mainland_mobile
from service.legal_aid import booking, display

_PHONE_RE = re.compile(r"^[0-9+\-() ]{5,32}$")


class HourMinute(fields.Time):
    """A wall-clock time in Asia/Shanghai, ``HH:MM`` (``HH:MM:SS`` accepted on input)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")


class StrippedString(fields.String):
    """Text without surrounding blanks; NUL refused (PostgreSQL text cannot hold it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise ma.ValidationError("不能包含控制字符")
        return value.strip()


class OptionalStrippedString(StrippedString):
    """Stripped text where an empty input means none (a form's untouched field sends "")."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs) or None


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


# --- output building blocks ------------------------------------------------------------

class ResponseContextData(TypedDict):
    now: dt.datetime


ResponseContext = Context[ResponseContextData]


def at_one_instant(view):
    """Around a view (outside ``blp.response``): its response's time-dependent
    fields (``bookable``, ``can_cancel``) all read the same instant."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with ResponseContext({"now": clock.now()}):
            return view(*args, **kwargs)
    return wrapper


def _now() -> dt.datetime:
    return ResponseContext.get()["now"]


class Label(ComputedString):
    """The Chinese label of the object's code ``code`` (null for no code)."""

    def __init__(self, labels: dict[str, str], code: str, **kwargs):
        super().__init__(self._label, **kwargs)
        self.labels, self.code = labels, code

    def _label(self, obj) -> str | None:
        value = getattr(obj, self.code)
        return None if value is None else self.labels.get(value, value)


# --- shared output pieces ------------------------------------------------------------

class LegalAidOrganizationRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class LegalAidProviderRefSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(PROVIDER_KINDS)})
    kind_label = Label(display.KIND_LABELS, "kind")
    firm = fields.String(allow_none=True)
    organization = fields.Nested(LegalAidOrganizationRefSchema, required=True)


class LegalAidSlotSchema(OutSchema):
    id = fields.Integer(required=True)
    provider = fields.Nested(LegalAidProviderRefSchema, required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    mode = fields.String(required=True, metadata={"enum": list(SLOT_MODES)})
    mode_label = Label(display.MODE_LABELS, "mode")
    location = ComputedString(display.slot_location, allow_none=True, required=True)
    capacity = fields.Integer(required=True)
    remaining = ComputedInteger(lambda slot: max(slot.capacity - slot.booked, 0), required=True)
    bookable = ComputedBoolean(lambda slot: booking.bookable(slot, _now()),
                               metadata={"description": "within the booking window now"})


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
    kind_label = Label(display.KIND_LABELS, "kind")
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
    organization_id = fields.Integer(required=True, validate=ID_RANGE)
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
    organization_id = fields.Integer(validate=ID_RANGE)
    active = fields.Boolean()


# --- slots and weekly rules ---------------------------------------------------------

class LegalAidSlotCreateSchema(BodySchema):
    """One slot ``{provider_id, starts_at, ends_at, capacity, mode, location?}`` or a
    weekly rule ``{provider_id, weekdays, start, end, capacity, mode, location, from, until}``."""

    provider_id = fields.Integer(required=True, validate=ID_RANGE)
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
    start = HourMinute(required=True, attribute="start_time")
    end = HourMinute(required=True, attribute="end_time")
    capacity = fields.Integer(required=True)
    mode = fields.String(required=True, metadata={"enum": list(SLOT_MODES)})
    location = fields.String(allow_none=True)
    valid_from = fields.Date(data_key="from", required=True)
    valid_until = fields.Date(data_key="until", required=True)
    upcoming_slots = fields.Integer(metadata={"description": "open future slots of the rule"})  # counted by schedule
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
    provider_id = fields.Integer(validate=ID_RANGE)


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
    provider_id = fields.Integer(validate=ID_RANGE)


class LegalAidAdminSlotListArgs(LegalAidSlotListArgs):
    status = fields.String(validate=validate.OneOf(SLOT_STATUSES))


# --- bookings ----------------------------------------------------------------------------

class LegalAidBookingCreateSchema(BodySchema):
    slot_id = fields.Integer(required=True, validate=ID_RANGE)
    topic = fields.String(required=True, validate=validate.OneOf(BOOKING_TOPICS))
    description = StrippedString(required=True, validate=[validate.Length(min=1, max=500), _not_blank])
    contact_phone = OptionalStrippedString(allow_none=True, validate=_mobile, metadata={
        "description": "回电号码；不填（或空字符串）则用本人绑定的手机号"})


class _BookingFields(OutSchema):
    """What a worker and the legal-aid staff both see of a booking."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(BOOKING_STATUSES)})
    status_label = Label(display.STATUS_LABELS, "status")
    topic = fields.String(required=True, metadata={"enum": list(BOOKING_TOPICS)})
    topic_label = Label(display.TOPICS, "topic")
    description = ComputedString(display.description, allow_none=True)
    contact_phone = ComputedString(display.masked_contact_phone, allow_none=True, metadata={"description": "masked"})
    outcome = fields.String(allow_none=True, metadata={"enum": list(BOOKING_OUTCOMES)})
    outcome_label = Label(display.OUTCOME_LABELS, "outcome", allow_none=True)
    cancelled_by = fields.String(allow_none=True, metadata={"enum": ["worker", "staff"]})
    cancel_reason = fields.String(allow_none=True)
    created_at = LocalDateTime()
    cancelled_at = LocalDateTime(allow_none=True)


class LegalAidBookingSchema(_BookingFields):
    slot = fields.Nested(LegalAidSlotSchema, required=True)
    can_cancel = ComputedBoolean(lambda b: booking.can_cancel(b, _now()),
                                 metadata={"description": "booked and before the cancellation cut-off"})


class LegalAidMyBookingsArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(BOOKING_STATUSES))


class LegalAidWorkerContactSchema(OutSchema):
    """The worker to call, in full: legal-aid staff and admins of the organization only."""

    name = fields.String(allow_none=True, required=True,
                         metadata={"description": "as on the union application or breakfast roster entry"})
    phone = fields.String(allow_none=True, required=True,
                          metadata={"description": "the booking's contact phone, else the worker's bound phone"})


class LegalAidAdminBookingSchema(_BookingFields):
    worker_id = fields.Integer(required=True)
    worker = fields.Nested(LegalAidWorkerContactSchema, attribute="worker_contact",
                           metadata={"description": "in the booking list and a booking's details (audit-logged)"})
    slot = fields.Nested(LegalAidAdminSlotSchema, required=True)
    notes = fields.String(allow_none=True)
    handled_by_id = fields.Integer(allow_none=True)
    updated_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)


class LegalAidAdminBookingListArgs(_DateRangeArgs):
    provider_id = fields.Integer(validate=ID_RANGE)
    status = fields.String(validate=validate.OneOf(BOOKING_STATUSES))
    topic = fields.String(validate=validate.OneOf(BOOKING_TOPICS))


class LegalAidCompleteSchema(BodySchema):
    outcome = fields.String(required=True, validate=validate.OneOf(BOOKING_OUTCOMES))
    notes = StrippedString(allow_none=True, validate=validate.Length(max=2000))


class LegalAidDaySheetArgs(QuerySchema):
    date = fields.Date(required=True, validate=_sane_date)
