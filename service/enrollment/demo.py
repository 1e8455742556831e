"""Demo enrollment data: a few pending applications for the reviewers' queue and one member.

The applicants are fictional; their resident ID numbers are built from
Yangzhou region codes with correct check digits.  Sign in as one of them with
the login code ``dev-<name>`` (e.g. ``dev-wangfang``).  Idempotent: a demo
worker who already has an application is left alone.
"""
from __future__ import annotations

import click
from sqlalchemy import select

from models import Worker, db
from models.enrollment import EnrollmentApplication
from service.auth.permissions import Scope
from service.common import clock
from service.common.validators import check_digit
from service.enrollment import applications, review

# (login name, name, gender, region code, birth date, sequence, phone, occupation, other,
#  employer, work region, organization, approve?)
DEMO_APPLICANTS = [
    ("wangfang", "王芳", "female", "321002", "19900312", "042", "13905140001", "courier", None,
     "顺丰速运", "广陵区文昌中路", "扬州市快递行业工会联合会", True),
    ("liqiang", "李强", "male", "321003", "19880705", "117", "13905140002", "food_delivery", None,
     "美团", "邗江区江阳中路", "邗江区总工会", False),
    ("zhangwei", "张伟", "male", "321012", "19851120", "235", "13905140003", "ride_hailing", None,
     "滴滴出行", "江都区及市区", "扬州市网约车司机工会联合会", False),
    ("chenjing", "陈静", "female", "321002", "19960218", "064", "13905140004", "courier", None,
     "中通快递", "广陵区湾头镇", "广陵区总工会", False),
    ("liuyang", "刘洋", "male", "321081", "19790909", "311", "13905140005", "truck_driver", None,
     "扬州港物流", "扬州港", "扬州市货车司机工会联合会", False),
    ("zhaolei", "赵磊", "male", "321003", "19920430", "159", "13905140006", "other", "外卖站点站长",
     "饿了么", "邗江区西湖街道", "邗江区总工会", False),
]


def demo_id_number(region: str, birth: str, sequence: str) -> str:
    first17 = region + birth + sequence
    return first17 + check_digit(first17)


def seed(ctx: dict) -> None:
    orgs = ctx["orgs"]
    admin_scope = Scope(frozenset({"admin"}), None)
    for (login, name, gender, region, birth, seq, phone, occupation, other, employer, work_region,
         org_name, approve) in DEMO_APPLICANTS:
        org = orgs.get(org_name)
        if org is None:
            continue
        openid = f"fake-{login}"
        worker = db.session.scalar(select(Worker).where(Worker.openid == openid))
        if worker is None:
            worker = Worker(openid=openid, created_at=clock.now())
            db.session.add(worker)
            db.session.commit()
        has_application = db.session.scalar(
            select(EnrollmentApplication.id).where(EnrollmentApplication.worker_id == worker.id).limit(1))
        if has_application is not None:
            continue
        application = applications.submit_application(worker, {
            "name": name, "gender": gender, "id_number": demo_id_number(region, birth, seq), "phone": phone,
            "occupation": occupation, "occupation_other": other, "employer": employer,
            "work_region": work_region, "organization_id": org.id, "consent": True,
        })
        if approve:
            review.approve(admin_scope, application.id, None)
    members = [a[0] for a in DEMO_APPLICANTS if a[-1]]
    pending = [a[0] for a in DEMO_APPLICANTS if not a[-1]]
    click.echo("Enrollment demo: member " + ", ".join(f"dev-{n}" for n in members)
               + "; pending applications of " + ", ".join(f"dev-{n}" for n in pending) + ".")
