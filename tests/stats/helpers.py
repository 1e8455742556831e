"""A year of the union's work arranged over the API, and Word documents read back with python-docx."""
from __future__ import annotations

import io
import itertools
import zipfile

from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn

from service.common import clock
from tests.arrears.helpers import World
from tests.breakfast.helpers import check_in, create_point, eligible_worker, quick_staff_token, scene_of
from tests.enrollment import apply, quick_staff
from tests.helpers import bearer, login_worker, make_org, staff_token
from tests.stations.support import create as create_station

REPORT = "/api/v1/admin/stats/annual/report.docx"
TEMPLATE = "/api/v1/admin/stats/annual/report-template.docx"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The day the draft is made: its date line reads 2026年3月20日.
DRAFTED = clock.local(2026, 3, 20, 10, 0)
_admins = itertools.count(1)


class Year(World):
    """2026 in Yangzhou (扬州市总工会 → 广陵区总工会, 邗江区总工会), every line of work busy in the
    district and a little of it in the sibling district:

    - enrollment: 3 applications in the district, 2 approved (a courier, a rider); 1 approved in 邗江;
    - stations: 3 in the district (1 with a nursing room), 1 in 邗江;
    - breakfast: 1 point in the district, 2 sanitation workers, 3 breakfasts;
    - legal aid: 2 bookings in the district (wage arrears, work injury), the first completed;
    - wage arrears: 1 report of 4 workers, accepted, resolved with 12,345.60 yuan recovered.
    """

    def __init__(self, app, client):
        clock.freeze(clock.local(2026, 3, 2, 9, 0))
        super().__init__(app, client)
        self.enrollment()
        self.stations()
        self.legal_aid()
        self.arrears()
        self.breakfast()
        clock.freeze(DRAFTED)

    def enrollment(self):
        reviewer = quick_staff(self.app, self.client, "enrollment_reviewer", self.city)
        for name, org, occupation, approved in (("e1", self.district, "courier", True),
                                                ("e2", self.district, "food_delivery", True),
                                                ("e3", self.district, "truck_driver", False),
                                                ("e4", self.other, "courier", True)):
            resp = apply(self.client, login_worker(self.client, name), org, occupation=occupation)
            assert resp.status_code == 201, resp.get_json()
            if approved:
                done = self.client.post(f"/api/v1/admin/enrollment/applications/{resp.get_json()['id']}/approve",
                                        headers=bearer(reviewer))
                assert done.status_code == 200, done.get_json()

    def stations(self):
        district = quick_staff_token(self.app, "station_manager", self.district)
        create_station(self.client, district, "GL01", amenities=["water", "nursing_room"])
        create_station(self.client, district, "GL02", 500)
        create_station(self.client, district, "GL03", 1000)
        create_station(self.client, quick_staff_token(self.app, "station_manager", self.other), "HJ01", 2000)

    def legal_aid(self):
        staff = bearer(quick_staff_token(self.app, "legal_aid_staff", self.district))
        provider = self.client.post("/api/v1/admin/legal-aid/providers", headers=staff, json={
            "name": "王律师", "kind": "lawyer", "organization_id": self.district, "firm": "江苏某某律师事务所"})
        assert provider.status_code == 201, provider.get_json()
        starts = clock.local(2026, 3, 3, 10, 0)
        slot = self.client.post("/api/v1/admin/legal-aid/slots", headers=staff, json={
            "provider_id": provider.get_json()["id"], "starts_at": starts.isoformat(), "capacity": 2,
            "ends_at": clock.local(2026, 3, 3, 11, 0).isoformat(), "mode": "offline", "location": "区总工会"})
        assert slot.status_code == 201, slot.get_json()
        booked = []
        for name, topic in (("l1", "wage_arrears"), ("l2", "work_injury")):
            resp = self.client.post("/api/v1/legal-aid/bookings", headers=bearer(login_worker(self.client, name)),
                                    json={"slot_id": slot.get_json()["slot"]["id"], "topic": topic,
                                          "description": "老板拖欠工资"})
            assert resp.status_code == 201, resp.get_json()
            booked.append(resp.get_json()["id"])
        clock.freeze(clock.local(2026, 3, 3, 10, 40))
        done = self.client.post(f"/api/v1/admin/legal-aid/bookings/{booked[0]}/complete", headers=staff,
                                json={"outcome": "advised"})
        assert done.status_code == 200, done.get_json()

    def arrears(self):
        case_id = self.accepted(self.submitted(self.worker("a1"), workers_affected=4)["id"])["case_id"]
        self.moved(case_id, to="coordinating")
        self.moved(case_id, to="resolved", amount_recovered="12345.60")

    def breakfast(self):
        staff = quick_staff_token(self.app, "breakfast_manager", self.district)
        scene = scene_of(self.client, staff, create_point(self.client, staff)["id"])
        alice = eligible_worker(self.client, staff, "b1")
        bob = eligible_worker(self.client, staff, "b2")
        for token, day in ((alice, 10), (alice, 11), (bob, 11)):
            clock.freeze(clock.local(2026, 3, day, 6, 0))
            resp = check_in(self.client, token, scene)
            assert resp.status_code == 201, resp.get_json()

    def admin_of(self, org_id: int | None) -> str:
        return staff_token(self.app, self.client, "admin", org_id, username=f"year_admin_{next(_admins)}")


def other_city(app) -> int:
    return make_org(app, "镇江市总工会")


def read_docx(data: bytes) -> Document:
    return Document(io.BytesIO(data))


def texts(document) -> list[str]:
    """Every paragraph's text, in the order Word shows them."""
    return ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in document.element.body.iter(qn("w:p"))]


def paragraph_with(document, fragment: str):
    found = [p for p in document.paragraphs if fragment in p.text]
    assert found, f"no paragraph with {fragment!r}"
    return found[0]


def blanks(paragraph) -> list:
    """The runs of ``paragraph`` that are a visible blank: ``**``, highlighted and underlined."""
    return [r for r in paragraph.runs if r.text == "**" and r.font.highlight_color == WD_COLOR_INDEX.YELLOW
            and r.font.underline]


def edited(template: bytes, old: str, new: str) -> bytes:
    """``template`` with ``old`` replaced by ``new`` in the paragraph holding it, as a clerk
    edits in Word (the paragraph's formatting kept, its text in one run)."""
    document = read_docx(template)
    paragraph = paragraph_with(document, old)
    text = paragraph.text.replace(old, new)
    for run in paragraph.runs[1:]:
        run._element.getparent().remove(run._element)
    paragraph.runs[0].text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def with_part(template: bytes, name: str, data: bytes, compress: bool = True) -> bytes:
    """``template`` with one more part in its zip (an image, say, or a bomb)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return out.getvalue()


def upload(client, token: str, data: bytes, filename: str = "年度工作报告模板.docx", **form):
    body = {"file": (io.BytesIO(data), filename), **{k: str(v) for k, v in form.items()}}
    return client.put(TEMPLATE, data=body, headers=bearer(token), content_type="multipart/form-data")
