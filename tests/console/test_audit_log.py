"""The audit log in Chinese: actions and objects as a clerk says them, changes as
字段：旧值 → 新值 with personal data masked, the filter a select of kinds of action;
and every action and object written anywhere in the code has its label."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from service.audit import labels
from service.common import clock
from tests.console.conftest import api_token, signed_in
from tests.helpers import bearer, login_worker
from tests.legal_aid.helpers import World, at, book
from tests.stations.support import create as create_station

ROOT = Path(__file__).resolve().parents[2]
AUDIT_MODULE = "service.common.audit"


# --- every action written in the code has its label --------------------------------------

def _parents(tree) -> dict:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing_function(node, parents):
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _argument(call: ast.Call, position: int, name: str):
    if position < len(call.args):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _strings(expr, tree, parents, where: str) -> set[str]:
    """The string values ``expr`` can take: a literal, either branch of ``a if c else b``,
    or a parameter of the enclosing function, followed to every call of that function."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _strings(expr.body, tree, parents, where) | _strings(expr.orelse, tree, parents, where)
    if isinstance(expr, ast.Name):
        function = _enclosing_function(expr, parents)
        params = [a.arg for a in function.args.args] if function else []
        if expr.id in params:
            position = params.index(expr.id)
            calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and _called_name(c) == function.name]
            assert calls, f"{where}: {function.name}() is never called in its module"
            values: set[str] = set()
            for call in calls:
                arg = _argument(call, position, expr.id)
                assert arg is not None, f"{where}: a call of {function.name}() without {expr.id}"
                values |= _strings(arg, tree, parents, f"{where} via line {call.lineno}")
            return values
    pytest.fail(f"{where}: the audit action or object is not a literal the test can follow: {ast.unparse(expr)}")


def written_audit_records() -> tuple[set[str], set[str]]:
    """Every (action, object type) passed to ``service.common.audit.record`` under service/."""
    actions: set[str] = set()
    objects: set[str] = set()
    for path in sorted((ROOT / "service").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and node.module == AUDIT_MODULE for alias in node.names if alias.name == "record"}
        if not aliases:
            continue
        parents = _parents(tree)
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in aliases:
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                actions |= _strings(_argument(call, 0, "action"), tree, parents, where)
                target = _argument(call, 1, "target_type")
                if target is not None and not (isinstance(target, ast.Constant) and target.value is None):
                    objects |= _strings(target, tree, parents, where)
    return actions, objects


def test_every_action_and_object_written_in_the_code_has_a_chinese_label():
    actions, objects = written_audit_records()
    # the reader follows parameters and conditionals: these come through _finish, _commit_station, a ternary
    assert {"legal_aid.booking.complete", "station.update", "enrollment.export_full"} <= actions
    assert len(actions) >= 28 and len(objects) >= 12
    assert sorted(actions - set(labels.ACTIONS)) == []
    assert sorted(objects - set(labels.OBJECTS)) == []
    for action in actions:
        assert re.search(r"[\u4e00-\u9fff]", labels.ACTIONS[action]), action
        assert labels.group_of(action) != "其他", action


# --- the page, as an admin reads it ----------------------------------------------------------

@pytest.fixture
def world(app, client):
    """A city federation with legal-aid staff and a lawyer, at 09:00 on Monday 2 March 2026."""
    clock.freeze(at(2, 9, 0))
    return World(app, client)


def rows_of(page: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_changes_read_as_old_and_new_values_in_chinese_with_personal_data_masked(app, client, world):
    slot = world.slot(at(2, 14, 0))
    booking = book(client, login_worker(client, "li"), slot).get_json()
    clerk = signed_in(app, client, "legal_aid_staff", world.city)
    clock.freeze(at(2, 15, 0))
    clerk.post(f"/console/legal-aid/bookings/{booking['id']}/complete",
               {"outcome": "advised", "notes": "建议先向劳动监察大队投诉", "back": "/console/legal-aid/"})
    resp = client.patch(f"/api/v1/admin/legal-aid/providers/{world.lawyer}", headers=bearer(world.staff),
                        json={"phone": "13912345678"})
    assert resp.status_code == 200, resp.get_json()
    token = api_token(app, "station_manager", world.city)
    station = create_station(client, token, "YZ-GL-001", name="文昌阁驿站")
    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", headers=bearer(token), json={
        "lat": 32.4, "amenities": ["water", "charging"], "opening_hours": "08:00-20:00",
        "closure": {"from": "2026-03-05", "until": "2026-03-06", "reason": "设备检修"}})
    assert resp.status_code == 200, resp.get_json()

    admin = signed_in(app, client, "admin", world.city)
    page = admin.text("/console/audit-log")
    rows = rows_of(page)
    completed = next(r for r in rows if "登记咨询完成" in r)
    assert f"法律咨询预约 #{booking['id']}" in completed
    assert "状态：已预约 → 已完成" in completed and "处理结果：（空） → 已解答" in completed
    assert "建议先向劳动监察大队投诉" not in page  # the consultation notes never reach the log
    provider = next(r for r in rows if "修改律师或法律服务站" in r)
    assert f"律师或法律服务站 #{world.lawyer}" in provider
    assert "电话：051******0000 → 139****5678" in provider and "13912345678" not in page
    moved = next(r for r in rows if "修改驿站" in r)
    assert f"驿站 #{station['id']}" in moved and "编码：YZ-GL-001" in moved
    assert "纬度：32.394 → 32.4" in moved and "设施：饮水 → 饮水、充电" in moved
    assert "开放时间：24 小时开放 → 每天 08:00-20:00" in moved
    assert "临时闭站：无 → 2026-03-05 至 2026-03-06（设备检修）" in moved
    for raw in ("changed", "outcome=", "status=", "legal_aid_booking", "['", "advised"):
        assert raw not in " ".join(rows), raw


def test_the_filter_is_a_select_of_kinds_of_action(app, client, world):
    world.slot(at(3, 14, 0))
    world.rule()
    token = api_token(app, "station_manager", world.city)
    station = create_station(client, token, "YZ-A")
    worker = login_worker(client, "rider")
    report = client.post(f"/api/v1/stations/{station['id']}/reports", json={"kind": "closed"}, headers=bearer(worker))
    resolve = client.post(f"/api/v1/admin/stations/reports/{report.get_json()['id']}/resolve", json={},
                          headers=bearer(token))
    assert resolve.status_code == 200, resolve.get_json()
    admin = signed_in(app, client, "admin", world.city)

    page = admin.text("/console/audit-log")
    assert '<optgroup label="法律援助">' in page
    assert '<option value="legal_aid.slot.create">新增咨询时段</option>' in page
    assert '<option value="station*">全部驿站操作</option>' in page
    assert "前缀" not in page
    one = rows_of(admin.text("/console/audit-log?action=legal_aid.slot.create"))
    assert len(one) == 1 and "新增咨询时段" in one[0] and f"服务提供方：王律师 #{world.lawyer}" in one[0]
    chosen = admin.text("/console/audit-log?action=legal_aid.slot.create")
    assert '<option value="legal_aid.slot.create" selected>' in chosen
    stations = rows_of(admin.text("/console/audit-log?action=station*"))
    assert sorted(r.split(" ")[3] for r in stations) == ["处理驿站问题反馈", "新建驿站"]
    legal = rows_of(admin.text("/console/audit-log?action=legal_aid.*"))
    assert {r.split(" ")[3] for r in legal} == {"新增律师或法律服务站", "新增咨询时段", "新增按周排班"}
    by_object = rows_of(admin.text(f"/console/audit-log?target_type=station&target_id={station['id']}"))
    assert len(by_object) == 1 and f"驿站 #{station['id']}" in by_object[0]


def test_an_exact_kind_does_not_take_in_its_longer_namesakes(app, client, city):
    reviewer = signed_in(app, client, "enrollment_reviewer", city["root"])
    assert reviewer.get("/console/enrollment/members.xlsx").status_code == 200
    token = api_token(app, "admin", city["root"])
    assert client.get("/api/v1/admin/enrollment/members.xlsx?full=1", headers=bearer(token)).status_code == 200
    admin = signed_in(app, client, "admin", city["root"])
    masked = rows_of(admin.text("/console/audit-log?action=enrollment.export"))
    assert len(masked) == 1 and "导出会员名单（脱敏）" in masked[0] and "完整导出：否" in masked[0]
    full = rows_of(admin.text("/console/audit-log?action=enrollment.export_full"))
    assert len(full) == 1 and "导出会员名单（完整）" in full[0]
    assert len(rows_of(admin.text("/console/audit-log?action=enrollment.*"))) == 2


def test_the_api_keeps_its_fields_and_adds_the_chinese_labels(app, client, world):
    slot = world.slot(at(3, 14, 0))
    admin = api_token(app, "admin", world.city)
    resp = client.get("/api/v1/admin/audit-log", headers=bearer(admin))
    assert resp.status_code == 200
    entry = next(e for e in resp.get_json()["items"] if e["action"] == "legal_aid.slot.create")
    assert {"id", "actor_id", "actor_name", "action", "target_type", "target_id", "organization_id", "details",
            "ip", "request_id", "created_at"} <= set(entry)
    assert entry["target_type"] == "legal_aid_slot" and entry["target_id"] == str(slot)
    assert entry["details"]["capacity"] == 2
    assert entry["action_label"] == "新增咨询时段" and entry["target_label"] == f"咨询时段 #{slot}"
    assert "开始时间：2026-03-03 14:00" in entry["details_text"] and "名额：2" in entry["details_text"]
    assert f"服务提供方：{world.lawyer}" in entry["details_text"]  # the API names no record: ids stay ids
    # the API's action filter stays a prefix
    prefixed = client.get("/api/v1/admin/audit-log?action=legal_aid.", headers=bearer(admin)).get_json()
    assert prefixed["total"] == 2
