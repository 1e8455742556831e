"""Rotating ``PII_KEY`` end to end on PostgreSQL, as docs/deploy.md "Key rotation" says.

Data is written under key 1.  The service is then configured with key 2 as
current and key 1 as old, ``flask --app wsgi pii rotate`` is run part way and
then to the end, and finally key 1 is dropped.  Before, during and after the
rotation everything a worker and a clerk do with an ID number or a phone keeps
working: the breakfast claim, the duplicate-ID refusals (409
``application_pending`` / ``already_member``), search by phone and by ID
number, the roster's upsert by phone, ``GET /me/data``, the full member
export, and a wage-arrears report's address and evidence photo.
"""
from __future__ import annotations

import io
import itertools
import secrets
import threading

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from config import ConfigError, load_config
from service.common import clock
from tests.arrears.helpers import png, report_body
from tests.breakfast.helpers import quick_staff_token, roster_csv, upload
from tests.conftest import build_app
from tests.enrollment import apply, make_id, quick_staff
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org
from tests.legal_aid.helpers import NOW, World, at, book

KEY_1 = secrets.token_urlsafe(32)
KEY_2 = secrets.token_urlsafe(32)
ROSTER_PHONES = [f"1395290{n:04d}" for n in range(6)]
SEALED_TABLES = {"workers": ["phone_enc"], "enrollment_applications": ["id_number_enc", "phone_enc"],
                 "breakfast_roster": ["phone_enc", "id_number_enc"],
                 "legal_aid_bookings": ["description_enc", "contact_phone_enc"],
                 "arrears_reports": ["work_address_enc", "description_enc"]}
INDEX_TABLES = {"workers": ["phone_hash"], "enrollment_applications": ["id_number_hash", "phone_hash"],
                "memberships": ["id_number_hash"], "breakfast_roster": ["phone_hash", "id_number_hash"]}
_names = itertools.count(1)


@pytest.fixture
def keyed(pg_app, pg_url, redis_server, fake_wechat_url):
    """Three apps on one (emptied) PostgreSQL database, differing only in their personal-data keys."""
    from models import db

    def make(**keys):
        return build_app(pg_url, redis_server.url, fake_wechat_url, RATELIMIT_LOGIN="1000 per minute", **keys)

    apps = {"key 1": make(PII_KEY=KEY_1, PII_KEY_VERSION=1),
            "key 2, key 1 old": make(PII_KEY=KEY_2, PII_KEY_VERSION=2, PII_OLD_KEYS=f"1:{KEY_1}"),
            "key 2 alone": make(PII_KEY=KEY_2, PII_KEY_VERSION=2)}
    clock.freeze(NOW)
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


class Story:
    """What was written under key 1, and the checks a worker and a clerk would make."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()
        client = self.client
        self.city = make_org(app, "扬州市总工会")
        self.manager = quick_staff_token(app, "breakfast_manager", self.city)
        self.reviewer = quick_staff(app, client, "enrollment_reviewer", self.city)
        self.admin = quick_staff(app, client, "admin", self.city)
        self.roster_ids = {ROSTER_PHONES[0]: make_id("19700101"), ROSTER_PHONES[1]: make_id("19710101")}
        rows = [(f"职工{n}", phone, "扬州市环境卫生管理处", self.roster_ids.get(phone, ""))
                for n, phone in enumerate(ROSTER_PHONES)]
        assert upload(client, self.manager, roster_csv(rows)).get_json()["created"] == len(ROSTER_PHONES)
        # workers who bound their roster phones (they claim later, one per phase)
        self.claimants = []
        for phone in ROSTER_PHONES:
            token = login_worker(client, f"claimant{next(_names)}")
            bind_phone(client, token, phone)
            self.claimants.append(token)
        # a pending application, and members
        self.pending_id, self.pending_phone = make_id("19850505"), "13700000001"
        self.pending_worker = login_worker(client, "pending")
        resp = apply(client, self.pending_worker, self.city, id_number=self.pending_id, phone=self.pending_phone)
        assert resp.status_code == 201, resp.get_json()
        self.member_ids = [make_id("1980010" + str(n)) for n in range(1, 5)]
        self.member_workers = []
        for n, id_number in enumerate(self.member_ids):
            token = login_worker(client, f"member{n}")
            resp = apply(client, token, self.city, id_number=id_number, phone=f"1370000010{n}",
                         name="会员" + "甲乙丙丁"[n])
            assert resp.status_code == 201, resp.get_json()
            assert client.post(f"/api/v1/admin/enrollment/applications/{resp.get_json()['id']}/approve",
                               headers=bearer(self.reviewer)).status_code == 200
            self.member_workers.append(token)
        # applications still to be decided during the rotation, one per phase
        self.undecided = []
        for n in range(3):
            token = login_worker(client, f"undecided{n}")
            id_number = make_id("1990020" + str(n + 1))
            resp = apply(client, token, self.city, id_number=id_number, name="待审" + "甲乙丙"[n])
            self.undecided.append((resp.get_json()["id"], id_number))
        # a legal-aid booking with a contact phone
        world = World(app, client)
        self.booker = login_worker(client, "booker")
        self.contact_phone = "13700000999"
        resp = book(client, self.booker, world.slot(at(5, 10)), contact_phone=self.contact_phone,
                    description="公司拖欠两个月工资")
        assert resp.status_code == 201, resp.get_json()
        # a wage-arrears report with its photo of evidence
        self.reporter = login_worker(client, "reporter")
        bind_phone(client, self.reporter, "13700000888")
        resp = client.post("/api/v1/arrears/reports", headers=bearer(self.reporter), json=report_body(
            organization_id=self.city, work_address="扬州市广陵区文昌东路 88 号工地"))
        assert resp.status_code == 201, resp.get_json()
        self.photo = png(noise=True)
        resp = client.post(f"/api/v1/arrears/reports/{resp.get_json()['id']}/evidence", headers=bearer(self.reporter),
                           data={"file": (io.BytesIO(self.photo), "evidence.png")}, content_type="multipart/form-data")
        assert resp.status_code == 201, resp.get_json()
        self.evidence = resp.get_json()["id"]

    def check(self, app, phase: int) -> None:
        """Everything that finds or shows personal data, as people would use it under ``app``."""
        client = app.test_client()
        # the breakfast claim: the worker's phone found on the roster
        resp = client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(self.claimants[phase]))
        assert resp.status_code == 200 and resp.get_json()["eligible"] is True, resp.get_json()
        # duplicate ID numbers refused
        newcomer = login_worker(client, f"newcomer{next(_names)}")
        resp = apply(client, newcomer, self.city, id_number=self.pending_id)
        assert (resp.status_code, error_code(resp)) == (409, "application_pending")
        resp = apply(client, newcomer, self.city, id_number=self.member_ids[phase])
        assert (resp.status_code, error_code(resp)) == (409, "already_member")
        # an application written under key 1 approved now, and its ID number is then a member's
        application_id, id_number = self.undecided[phase]
        resp = client.post(f"/api/v1/admin/enrollment/applications/{application_id}/approve",
                           headers=bearer(self.reviewer))
        assert resp.status_code == 200, resp.get_json()
        resp = apply(client, newcomer, self.city, id_number=id_number)
        assert (resp.status_code, error_code(resp)) == (409, "already_member")
        # clerks search by phone and by ID number
        search = "/api/v1/admin/enrollment/applications/search"
        for q in (self.pending_phone, self.pending_id):
            found = client.post(search, json={"q": q}, headers=bearer(self.reviewer)).get_json()
            assert found["total"] == 1 and found["items"][0]["status"] == "pending", q
        found = client.post("/api/v1/admin/breakfast/roster/search", json={"q": ROSTER_PHONES[5]},
                            headers=bearer(self.manager)).get_json()
        assert found["total"] == 1 and found["items"][0]["name"] == "职工5"
        # a roster imported again updates the entries it finds by phone (and by ID number)
        rows = [(f"职工{n}", phone, "扬州市环境卫生管理处", self.roster_ids.get(phone, ""))
                for n, phone in enumerate(ROSTER_PHONES[:2])]
        result = upload(client, self.manager, roster_csv(rows)).get_json()
        assert (result["created"], result["updated"], result["errors"]) == (0, 2, [])
        # each worker reads their own data in clear
        data = client.get("/api/v1/me/data", headers=bearer(self.claimants[phase])).get_json()
        assert data["account"]["phone"] == ROSTER_PHONES[phase]
        assert data["breakfast"]["roster"]["phone"] == ROSTER_PHONES[phase]
        data = client.get("/api/v1/me/data", headers=bearer(self.member_workers[phase])).get_json()
        assert [a["id_number"] for a in data["enrollment"]["applications"]] == [self.member_ids[phase]]
        text_of_booker = str(client.get("/api/v1/me/data", headers=bearer(self.booker)).get_json())
        assert self.contact_phone in text_of_booker and "公司拖欠两个月工资" in text_of_booker
        # the admin's full member list holds every ID number in clear
        resp = client.post("/api/v1/admin/enrollment/members.xlsx", json={"full": True}, headers=bearer(self.admin))
        assert resp.status_code == 200
        cells = {c for row in load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True) for c in row}
        assert set(self.member_ids) <= cells and "13700000100" in cells
        # the union's staff see the arrears report's photo, the worker their report's address
        resp = client.get(f"/api/v1/admin/arrears/evidence/{self.evidence}", headers=bearer(self.admin))
        assert resp.status_code == 200 and resp.data == self.photo
        mine = client.get("/api/v1/arrears/reports/mine", headers=bearer(self.reporter)).get_json()
        assert [r["work_address"] for r in mine["items"]] == ["扬州市广陵区文昌东路 88 号工地"]


def stored_versions(app) -> set[str]:
    """The key versions found in every sealed column and blind index."""
    from models import db

    found = set()
    with app.app_context():
        for table, columns in {**SEALED_TABLES, **INDEX_TABLES}.items():
            for column in columns:
                for (value,) in db.session.execute(text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")):
                    found.add(value.split(":", 1)[0])
        for (version,) in db.session.execute(text("SELECT key_version FROM arrears_evidence")):
            found.add(f"v{version}")  # the photos' own key version column
        db.session.remove()
    return found


def rotate(app, *args):
    return app.test_cli_runner().invoke(args=["pii", "rotate", *args])


def test_a_key_rotation_keeps_every_lookup_working_before_during_and_after(keyed):
    story = Story(keyed["key 1"])
    assert stored_versions(keyed["key 1"]) == {"v1"}
    rotating = keyed["key 2, key 1 old"]

    story.check(rotating, 0)  # the new key configured, nothing rotated yet

    part = rotate(rotating, "--batch-size", "1", "--max-batches", "1")
    assert part.exit_code == 0, part.output
    assert "workers.phone_enc: 1 rewritten, 0 failed" in part.output
    assert "memberships.id_number_hash: done, 1 rewritten, 0 failed" in part.output
    assert "arrears_evidence.content: done, 1 rewritten, 0 failed" in part.output
    assert stored_versions(rotating) == {"v1", "v2"}
    story.check(rotating, 1)  # half-way: some rows under each key

    rest = rotate(rotating, "--batch-size", "2")
    assert rest.exit_code == 0, rest.output
    assert "breakfast_roster.phone_hash: done" in rest.output and " failed" in rest.output
    assert stored_versions(rotating) == {"v2"}
    again = rotate(rotating)
    assert again.exit_code == 0 and "0 rewritten" in again.output and "1 rewritten" not in again.output

    story.check(keyed["key 2 alone"], 2)  # key 1 dropped


def test_a_value_whose_key_is_gone_is_reported_and_fails_the_command(keyed):
    client = keyed["key 1"].test_client()
    bind_phone(client, login_worker(client, "stray"), "13700000555")
    result = rotate(keyed["key 2 alone"])
    assert result.exit_code == 1
    assert "workers.phone_enc: done, 0 rewritten, 1 failed" in result.output
    assert "keep the old key in PII_OLD_KEYS" in result.output
    assert rotate(keyed["key 2, key 1 old"]).exit_code == 0
    assert stored_versions(keyed["key 2 alone"]) == {"v2"}


def test_the_rotation_never_undoes_what_the_service_writes_meanwhile(keyed):
    """Workers re-binding their phones and applying while the rotation runs: every new
    phone stays (the rotation's conditional updates leave rows the service rewrote),
    and a duplicate ID number is refused throughout."""
    old_app, app = keyed["key 1"], keyed["key 2, key 1 old"]
    client = old_app.test_client()
    city = make_org(old_app, "扬州市总工会")
    pending_id = make_id("19850505")
    assert apply(client, login_worker(client, "first"), city, id_number=pending_id).status_code == 201
    workers = []
    for n in range(8):
        token = login_worker(client, f"rebinder{n}")
        bind_phone(client, token, f"1370000{n:04d}")
        workers.append(token)
    barrier = threading.Barrier(len(workers) + 4)
    answers, errors = [], []

    def rebind(token: str, n: int) -> None:
        c = app.test_client()
        barrier.wait()
        resp = c.post("/api/v1/auth/wechat/phone", json={"code": f"phone-1380000{n:04d}"}, headers=bearer(token))
        answers.append(resp.status_code)

    def duplicate(n: int) -> None:
        c = app.test_client()
        token = login_worker(c, f"duplicate{n}")
        barrier.wait()
        resp = apply(c, token, city, id_number=pending_id)
        answers.append((resp.status_code, error_code(resp)))

    def rotation() -> None:
        barrier.wait()
        result = rotate(app, "--batch-size", "1")
        if result.exit_code != 0:
            errors.append(result.output)

    threads = ([threading.Thread(target=rebind, args=(t, n)) for n, t in enumerate(workers)]
               + [threading.Thread(target=duplicate, args=(n,)) for n in range(3)]
               + [threading.Thread(target=rotation)])
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(answers, key=str) == sorted([200] * len(workers) + [(409, "application_pending")] * 3, key=str)
    assert rotate(app).exit_code == 0  # whatever the service wrote under key 2 meanwhile is left as it is
    after = keyed["key 2 alone"].test_client()
    for n, token in enumerate(workers):
        assert after.get("/api/v1/me/data", headers=bearer(token)).get_json()["account"]["phone"] == f"1380000{n:04d}"
    assert stored_versions(app) == {"v2"}


@pytest.mark.parametrize("old_keys, says", [
    ("k" * 40, "write each old key as <version>:<key>"),
    ("one:" + "k" * 40, "write each old key as <version>:<key>"),
    ("2:" + "k" * 40, "key version 2 is given twice (or is PII_KEY_VERSION)"),
    ("1:" + "k" * 40 + ",1:" + "j" * 40, "key version 1 is given twice"),
])
def test_old_keys_are_checked_at_start(old_keys, says):
    with pytest.raises(ConfigError) as err:
        load_config("testing", {"PII_KEY_VERSION": 2, "PII_OLD_KEYS": old_keys})
    assert str(err.value).startswith("PII_OLD_KEYS is not valid: ") and says in str(err.value)
