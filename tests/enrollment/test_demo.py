"""The demo data: a queue for the reviewer, one member, valid fictional ID numbers, idempotent."""
from __future__ import annotations

from service.common.validators import gender_of, id_number_problem
from tests.enrollment import quick_staff
from tests.helpers import bearer, login_worker, make_org

NAMES = ["广陵区总工会", "邗江区总工会", "扬州市快递行业工会联合会", "扬州市网约车司机工会联合会",
         "扬州市货车司机工会联合会"]


def _seed(app):
    from models import Organization, db
    from service.enrollment import demo

    with app.app_context():
        orgs = {o.name: o for o in db.session.query(Organization)}
        demo.seed({"orgs": orgs, "city": orgs["扬州市总工会"]})
        db.session.commit()


def test_demo_seed(app, client):
    city = make_org(app, "扬州市总工会")
    for name in NAMES:
        make_org(app, name, city)
    _seed(app)
    _seed(app)  # idempotent

    from service.enrollment.demo import DEMO_APPLICANTS, demo_id_number
    for _, _, gender, region, birth, seq, *_ in DEMO_APPLICANTS:
        number = demo_id_number(region, birth, seq)
        assert id_number_problem(number, min_age=16) is None and gender_of(number) == gender

    reviewer = quick_staff(app, client, "enrollment_reviewer")
    queue = client.get("/api/v1/admin/enrollment/applications", headers=bearer(reviewer)).get_json()
    assert queue["total"] == len(DEMO_APPLICANTS)
    assert sum(1 for a in queue["items"] if a["status"] == "pending") == len(DEMO_APPLICANTS) - 1
    card = client.get("/api/v1/enrollment/membership", headers=bearer(login_worker(client, "wangfang")))
    assert card.status_code == 200 and card.get_json()["organization"] == "扬州市快递行业工会联合会"
