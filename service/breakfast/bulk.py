"""Fast set-up of many points and eligible workers, for benchmarks, race tests and demos.

Rows go in with multi-row INSERT … RETURNING (a few statements per thousand
rows), bypassing the HTTP API and the per-row checks of the roster import:
use only on data you make up.  Each function commits.

    points = create_points(org_id, 20, daily_quota=600)
    workers = create_eligible_workers(org_id, 10_000)      # [(worker_id, roster_entry_id)]
    tokens = issue_worker_tokens([w for w, _ in workers])  # bearer tokens, in Redis
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from models import Worker, db
from models.breakfast import BreakfastPoint, RosterEntry
from service.auth import sessions
from service.common import clock, pii

BATCH = 1000


def create_points(organization_id: int, count: int, *, daily_quota: int = 320,
                  serving_start: dt.time = dt.time(5, 30), serving_end: dt.time = dt.time(8, 30),
                  geofence_m: int | None = None, lat: float = 32.39, lng: float = 119.41,
                  name_prefix: str = "测试早餐点") -> list[int]:
    """``count`` active points around (lat, lng), 0.001° apart; returns their ids."""
    now = clock.now()
    rows = [{"organization_id": organization_id, "name": f"{name_prefix}{i + 1}", "address": f"测试地址 {i + 1} 号",
             "lat": lat + 0.001 * i, "lng": lng, "serving_start": serving_start, "serving_end": serving_end,
             "daily_quota": daily_quota, "geofence_m": geofence_m, "active": True, "qr_generation": 1,
             "created_at": now, "updated_at": now} for i in range(count)]
    ids = list(db.session.scalars(insert(BreakfastPoint).returning(BreakfastPoint.id, sort_by_parameter_order=True),
                                  rows))
    db.session.commit()
    return ids


def create_eligible_workers(organization_id: int, count: int, *, phone_start: int = 15000000000,
                            employer: str = "扬州市环境卫生管理处", link: bool = True,
                            openid_prefix: str = "bulk-") -> list[tuple[int, int | None]]:
    """``count`` workers with verified phones ``phone_start + i`` and roster entries with
    the same phones (linked to them when ``link``, as after the eligibility claim).

    Returns ``[(worker_id, roster_entry_id), …]``.
    """
    out: list[tuple[int, int | None]] = []
    now = clock.now()
    for offset in range(0, count, BATCH):
        phones = [str(phone_start + i) for i in range(offset, min(count, offset + BATCH))]
        hashes = [pii.blind_index(p, "phone") for p in phones]
        worker_ids = list(db.session.scalars(
            insert(Worker).returning(Worker.id, sort_by_parameter_order=True),
            [{"openid": f"{openid_prefix}{p}", "phone_enc": pii.encrypt(p, "worker.phone"), "phone_hash": h,
              "phone_verified_at": now, "created_at": now, "last_login_at": now} for p, h in zip(phones, hashes)]))
        entry_ids = list(db.session.scalars(
            insert(RosterEntry).returning(RosterEntry.id, sort_by_parameter_order=True),
            [{"organization_id": organization_id, "name": f"职工{p[-4:]}",
              "phone_enc": pii.encrypt(p, "breakfast_roster.phone"), "phone_hash": h, "phone_masked": pii.mask(p),
              "employer": employer, "active": True, "worker_id": w if link else None,
              "linked_at": now if link else None, "created_at": now, "updated_at": now}
             for p, h, w in zip(phones, hashes, worker_ids)]))
        out.extend(zip(worker_ids, entry_ids))
    db.session.commit()
    return out


def issue_worker_tokens(worker_ids: list[int]) -> list[str]:
    """A bearer token for each worker, as after a WeChat login."""
    return [sessions.create("worker", wid)[0] for wid in worker_ids]
