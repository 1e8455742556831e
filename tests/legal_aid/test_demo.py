"""The demo schedule: a lawyer and a volunteer station with slots over the next two weeks, once."""
from __future__ import annotations

from sqlalchemy import func, select

from models.legal_aid import LegalAidProvider, LegalAidRule, LegalAidSlot
from service.common import clock
from tests.helpers import make_org
from tests.legal_aid.helpers import NOW, query


def _seed(app):
    from models import Organization, db
    from service.legal_aid import demo

    with app.app_context():
        orgs = {o.name: o for o in db.session.scalars(select(Organization))}
        demo.seed({"orgs": orgs, "city": orgs["扬州市总工会"]})
        db.session.commit()
        db.session.remove()


def test_demo_seed_is_idempotent_and_bookable(app, client):
    clock.freeze(NOW)
    city = make_org(app, "扬州市总工会")
    make_org(app, "广陵区总工会", city)
    _seed(app)
    counts = lambda: tuple(query(app, select(func.count()).select_from(m))[0][0]  # noqa: E731
                           for m in (LegalAidProvider, LegalAidRule, LegalAidSlot))
    first = counts()
    assert first[0] == 2 and first[1] == 3 and first[2] > 10
    _seed(app)
    assert counts() == first

    listed = client.get("/api/v1/legal-aid/slots", query_string={"per_page": 100}).get_json()["items"]
    firms = {s["provider"]["firm"] for s in listed}
    assert "江苏某某律师事务所" in firms
    orgs = {s["provider"]["organization"]["name"] for s in listed}
    assert orgs == {"扬州市总工会", "广陵区总工会"}
    assert max(s["starts_at"] for s in listed) < "2026-03-16"
