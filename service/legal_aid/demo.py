"""Demo data: a lawyer of the city federation and a volunteer station of 广陵区, with
weekly schedules over the next two weeks.  Idempotent: a second run creates nothing."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models import db
from models.legal_aid import LegalAidProvider, LegalAidRule
from service.auth.permissions import Scope
from service.common import clock
from service.legal_aid import schedule

FEDERATION = Scope(roles=frozenset({"admin"}), org_ids=None)

PROVIDERS = [
    {"org": "扬州市总工会", "name": "陈律师", "kind": "lawyer", "firm": "江苏某某律师事务所",
     "address": "扬州市总工会职工服务中心", "phone": "0514-80000001",
     "rules": [
         {"weekdays": [2, 4], "start": dt.time(14, 0), "end": dt.time(16, 0), "capacity": 4,
          "mode": "offline", "location": "扬州市总工会职工服务中心一楼法律援助窗口"},
         {"weekdays": [1, 3, 5], "start": dt.time(19, 0), "end": dt.time(20, 0), "capacity": 3,
          "mode": "online", "location": None},
     ]},
    {"org": "广陵区总工会", "name": "广陵区职工法律援助志愿服务站", "kind": "volunteer_station", "firm": None,
     "address": "扬州市广陵区示例路 1 号（广陵区总工会一楼）", "phone": "0514-80000002",
     "rules": [
         {"weekdays": [6], "start": dt.time(9, 0), "end": dt.time(11, 30), "capacity": 5,
          "mode": "offline", "location": None},
     ]},
]


def seed(ctx: dict) -> None:
    today = clock.today_local()
    until = today + dt.timedelta(days=13)
    for spec in PROVIDERS:
        org = ctx["orgs"].get(spec["org"])
        if org is None:
            continue
        provider = db.session.scalar(select(LegalAidProvider).where(
            LegalAidProvider.organization_id == org.id, LegalAidProvider.name == spec["name"]))
        if provider is None:
            provider = schedule.create_provider(FEDERATION, {
                "name": spec["name"], "kind": spec["kind"], "organization_id": org.id, "firm": spec["firm"],
                "address": spec["address"], "phone": spec["phone"], "active": True})
        provider_id = provider.id
        for rule in spec["rules"]:
            exists = db.session.scalar(select(LegalAidRule.id).where(
                LegalAidRule.provider_id == provider_id, LegalAidRule.start_time == rule["start"],
                LegalAidRule.end_time == rule["end"], LegalAidRule.valid_until >= today))
            if exists is not None:
                continue
            schedule.create_slots(FEDERATION, {
                "provider_id": provider_id, "weekdays": rule["weekdays"], "start": rule["start"],
                "end": rule["end"], "capacity": rule["capacity"], "mode": rule["mode"],
                "location": rule["location"], "valid_from": today, "valid_until": until})
