"""The errors of legal-aid booking (docs/contract.md §4), one class each.

The ``code`` strings are the contract's; the ``message`` is what the worker
or the clerk reads.  A ``raise`` may pass a more precise message (the
configured window, the cut-off), never another code.
"""
from __future__ import annotations

from service.errors import InvalidState, NotFound, ServiceError

# --- 409: the booking rules ------------------------------------------------------------

class SlotFull(ServiceError):
    status = 409
    code = "slot_full"
    message = "该时段已约满，请选择其他时段"


class AlreadyBooked(ServiceError):
    status = 409
    code = "already_booked"
    message = "您已预约该时段，请勿重复预约"


class TooManyActiveBookings(ServiceError):
    status = 409
    code = "too_many_active_bookings"
    message = "您的待咨询预约已达上限，请先完成或取消已有预约"


class OutsideBookingWindow(ServiceError):
    status = 409
    code = "outside_booking_window"
    message = "该时段不在可预约的时间范围内"


class SlotStarted(ServiceError):
    status = 409
    code = "slot_started"
    message = "该时段已开始，无法预约"


class CancelWindowClosed(ServiceError):
    status = 409
    code = "cancel_window_closed"
    message = "距咨询开始已不足 2 小时，无法取消预约"


class SlotOverlap(ServiceError):
    status = 409
    code = "slot_overlap"
    message = "该时段与此服务提供方已有的时段重叠"


class ConsultationNotStarted(ServiceError):
    """Completing or marking a no-show before the slot's start: a consultation
    never counts (in the annual figures) before it took place."""

    status = 409
    code = "consultation_not_started"
    message = "咨询尚未开始，不能登记完成或未到场"


# --- 409 invalid_state -------------------------------------------------------------------

class NotCancellable(InvalidState):
    message = "只有“已预约”状态的预约可以取消"


class NotHandleable(InvalidState):
    message = "只有“已预约”状态的预约可以办理"


class SlotAlreadyCancelled(InvalidState):
    message = "该时段已取消"


# --- 404 not_found -----------------------------------------------------------------------

class ProviderNotFound(NotFound):
    message = "服务提供方不存在"


class RuleNotFound(NotFound):
    message = "排班规则不存在"


class SlotNotFound(NotFound):
    message = "咨询时段不存在"


class SlotUnavailable(NotFound):
    """The worker's 404: a slot unknown, cancelled, or of a deactivated provider."""

    message = "该咨询时段不存在或已取消"


class BookingNotFound(NotFound):
    message = "预约不存在"
