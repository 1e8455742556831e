"""The audit log: every staff write recorded with who, what, which record, when and from where."""
from __future__ import annotations

from tests.helpers import bearer, make_org, staff_token


def test_staff_writes_are_recorded_and_scoped(app, client):
    city = make_org(app, "市总工会")
    admin = staff_token(app, client, "admin")
    resp = client.post("/api/v1/admin/organizations", headers={**bearer(admin), "X-Request-ID": "req-audit-0001"},
                       json={"name": "东区总工会", "parent_id": city})
    east = resp.get_json()["id"]
    client.post("/api/v1/admin/organizations", headers=bearer(admin), json={"name": "西区总工会", "parent_id": city})
    client.patch(f"/api/v1/admin/organizations/{east}", headers=bearer(admin), json={"region": "东区"})

    page = client.get("/api/v1/admin/audit-log?action=organization.", headers=bearer(admin)).get_json()
    assert page["total"] == 3
    newest = page["items"][0]
    assert newest["action"] == "organization.update" and newest["target_id"] == str(east)
    assert newest["actor_name"].startswith("admin_")
    assert newest["ip"] == "127.0.0.1"
    assert newest["created_at"].endswith("+08:00")
    created = client.get(f"/api/v1/admin/audit-log?target_type=organization&target_id={east}",
                         headers=bearer(admin)).get_json()["items"]
    assert {e["action"] for e in created} == {"organization.create", "organization.update"}
    assert any(e["request_id"] == "req-audit-0001" for e in created)

    east_admin = staff_token(app, client, "admin", east)
    seen = client.get("/api/v1/admin/audit-log", headers=bearer(east_admin)).get_json()["items"]
    assert seen and all(e["organization_id"] == east for e in seen)
