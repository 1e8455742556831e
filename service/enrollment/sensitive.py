"""An applicant's ID number and phone: sealed at rest, found by blind index, shown masked.

Both are stored AES-GCM encrypted with their column as associated data
(``ID_CONTEXT``, ``PHONE_CONTEXT``), next to an HMAC blind index (``ID_INDEX``,
``PHONE_INDEX``) so that equal values are found and kept unique without
decrypting.  They are shown masked everywhere but the worker's own export
(``GET /me/data``) and an admin's full member export.
"""
from __future__ import annotations

from models.enrollment import EnrollmentApplication
from service.common import pii

ID_CONTEXT = "enrollment.id_number"
PHONE_CONTEXT = "enrollment.phone"
ID_INDEX = "id_number"
PHONE_INDEX = "phone"


def shown(token: str | None, context: str, *, full: bool = False) -> str | None:
    """A sealed value for display: masked (``110***********002X``), whole with ``full``;
    None when erased or sealed under a key no longer configured."""
    value = pii.decrypt_optional(token, context)
    return value if full else pii.mask(value)


def id_number_of(application: EnrollmentApplication, *, full: bool = False) -> str | None:
    return shown(application.id_number_enc, ID_CONTEXT, full=full)


def phone_of(application: EnrollmentApplication, *, full: bool = False) -> str | None:
    return shown(application.phone_enc, PHONE_CONTEXT, full=full)
