"""The worker-wide use cases — ``GET /me``, ``GET /me/data`` and ``DELETE /me`` —
and the one list of every feature that stores a worker's personal data.

A feature that starts storing personal data adds its functions to the lists
below; ``tests/test_personal_data.py`` fails when a table with a worker
reference is reached by no eraser.
"""
from __future__ import annotations

from models import Worker, db
from service.arrears import reports as arrears
from service.auth import binding, sessions
from service.auth.services import worker_phone
from service.breakfast import roster as breakfast
from service.common import clock, pii
from service.enrollment import personal_data as enrollment
from service.imports import services as imports
from service.legal_aid import booking as legal_aid
from service.notifications import outbox
from service.stations import services as stations

# ``fn(worker) -> dict``, merged into ``GET /me``.
PROFILE_FIELDS = (
    enrollment.profile_fields,
    breakfast.profile_fields,
)

# ``name -> fn(worker_id)``: shown under ``name`` in ``GET /me/data``.
PERSONAL_DATA = {
    "enrollment": enrollment.personal_data,
    "breakfast": breakfast.personal_data,
    "legal_aid": legal_aid.personal_data,
    "station_reports": stations.personal_data,
    "arrears": arrears.personal_data,
    "staff_binding": binding.personal_data,
}

# ``fn(worker_id)``: removes or anonymises the feature's personal data inside
# the caller's transaction (``DELETE /me``).
ERASERS = (
    enrollment.erase_personal_data,
    imports.erase_personal_data,  # before the roster's own: it finds the worker's entry by its link
    breakfast.erase_personal_data,
    legal_aid.erase_personal_data,
    stations.erase_personal_data,
    arrears.erase_personal_data,
    binding.erase_personal_data,
    outbox.erase_personal_data,
)


def me_for_worker(worker: Worker) -> dict:
    out = {"id": worker.id, "kind": "worker", "roles": [], "phone": pii.mask(worker_phone(worker)),
           "membership": None, "breakfast_eligible": False}
    for fn in PROFILE_FIELDS:
        out.update(fn(worker))
    return out


def export_for(worker_id: int) -> dict:
    return {name: fn(worker_id) for name, fn in PERSONAL_DATA.items()}


def worker_data(worker: Worker) -> dict:
    """Everything stored about the worker, decrypted for them alone (PIPL access)."""
    data = {
        "account": {"id": worker.id, "openid": worker.openid, "unionid": worker.unionid,
                    "phone": worker_phone(worker),
                    "phone_verified_at": clock.isoformat(worker.phone_verified_at),
                    "created_at": clock.isoformat(worker.created_at),
                    "last_login_at": clock.isoformat(worker.last_login_at)},
    }
    data.update(export_for(worker.id))
    return data


def erase_worker(worker: Worker) -> None:
    """PIPL deletion: personal data removed or anonymised in every table, sessions
    revoked; counts (breakfasts served, bookings, members) stay correct."""
    for fn in ERASERS:
        fn(worker.id)
    worker.openid = None
    worker.unionid = None
    worker.phone_enc = None
    worker.phone_hash = None
    worker.phone_verified_at = None
    worker.erased_at = clock.now()
    db.session.commit()
    sessions.revoke_all("worker", worker.id)
    sessions.forget_session_key(worker.id)
