"""How legal-aid records read to people: the Chinese labels of the codes, where a
slot takes place, a booking's description and (masked) contact phone.

The one place these are worked out: the output schemas, the console pages,
the day sheet and the subscribe messages all read them from here.
"""
from __future__ import annotations

from models.legal_aid import LegalAidBooking, LegalAidSlot
from service.common import pii

TOPICS = {
    "wage_arrears": "欠薪",
    "labor_contract": "劳动合同",
    "work_injury": "工伤",
    "social_insurance": "社会保险",
    "dismissal": "解除劳动关系",
    "other": "其他",
}
TOPIC_LIST = tuple({"code": code, "label": label} for code, label in TOPICS.items())
KIND_LABELS = {"lawyer": "律师", "volunteer_station": "志愿法律服务站"}
MODE_LABELS = {"online": "线上", "offline": "线下"}
STATUS_LABELS = {"booked": "已预约", "cancelled": "已取消", "completed": "已完成", "no_show": "未到场"}
OUTCOME_LABELS = {"advised": "已解答", "referred_to_legal_aid_case": "转法律援助案件",
                  "mediation": "调解", "other": "其他"}
ONLINE_LOCATION = "线上咨询"

DESCRIPTION = "legal_aid.description"  # the encryption contexts of the booking's personal fields
CONTACT_PHONE = "legal_aid.contact_phone"


def slot_location(slot: LegalAidSlot) -> str | None:
    """An offline slot's place; an online slot's link or instructions, else ``线上咨询``."""
    return slot.location if slot.mode == "offline" else (slot.location or ONLINE_LOCATION)


def description(booking: LegalAidBooking) -> str | None:
    return pii.decrypt_optional(booking.description_enc, DESCRIPTION)


def contact_phone(booking: LegalAidBooking) -> str | None:
    """In full: for the worker's own export, and the phone to call that legal-aid
    staff see (``contacts``); every other reader gets ``masked_contact_phone``."""
    return pii.decrypt_optional(booking.contact_phone_enc, CONTACT_PHONE)


def masked_contact_phone(booking: LegalAidBooking) -> str | None:
    return pii.mask(contact_phone(booking))
