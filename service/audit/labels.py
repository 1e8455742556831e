"""The audit log as a clerk reads it: actions, objects and details in Chinese.

Entries are written across the code base with ``service.common.audit.record``
(``action``, ``target_type``, ``target_id``, ``details``); this module says them
the way a clerk does: ``legal_aid.booking.complete`` on ``legal_aid_booking 2``
is 登记咨询完成 on 法律咨询预约 #2, and a change reads 字段：旧值 → 新值 with the
field's Chinese name.  Phones and ID numbers are masked wherever they appear.

Every action and object type written anywhere has its label here
(``tests/console/test_audit_log.py`` reads the code to hold this true).
"""
from __future__ import annotations

import datetime as dt
import re

from service.auth.permissions import ROLE_LABELS
from service.common import clock, pii
from service.enrollment.rules import OCCUPATION_LABELS
from service.legal_aid import display
from service.stations.hours import ALWAYS, DAY_NAMES
from service.stations.schemas import AMENITY_LABELS, REPORT_KIND_LABELS

ACTIONS = {
    "enrollment.approve": "批准入会申请",
    "enrollment.reject": "驳回入会申请",
    "enrollment.export": "导出会员名单（脱敏）",
    "enrollment.export_full": "导出会员名单（完整）",
    "station.create": "新建驿站",
    "station.update": "修改驿站",
    "station.delete": "撤销驿站",
    "station.import": "批量导入驿站",
    "station_report.resolve": "处理驿站问题反馈",
    "legal_aid.provider.create": "新增律师或法律服务站",
    "legal_aid.provider.update": "修改律师或法律服务站",
    "legal_aid.slot.create": "新增咨询时段",
    "legal_aid.slot.cancel": "取消咨询时段",
    "legal_aid.rule.create": "新增按周排班",
    "legal_aid.rule.update": "修改按周排班",
    "legal_aid.rule.delete": "删除按周排班",
    "legal_aid.booking.complete": "登记咨询完成",
    "legal_aid.booking.no_show": "登记职工未到场",
    "legal_aid.day_sheet.export": "下载咨询安排表（含职工联系方式）",
    "legal_aid.booking.list": "查看咨询预约（含职工联系方式）",
    "legal_aid.booking.view": "查看咨询预约详情（含职工联系方式）",
    "breakfast.point.create": "新建早餐点",
    "breakfast.point.update": "修改早餐点",
    "breakfast.point.qr_rotate": "更换早餐点二维码",
    "breakfast.roster.import": "导入早餐名册",
    "breakfast.roster.update": "停用或启用名册记录",
    "organization.create": "新建工会组织",
    "organization.update": "修改工会组织",
    "staff.create": "新建工作人员账号",
    "staff.disable": "停用工作人员账号",
    "staff.wechat_bind": "绑定工作人员微信",
    "staff.wechat_unbind": "解除工作人员微信绑定",
    "arrears.report.accept": "受理欠薪报工",
    "arrears.report.decline": "欠薪报工不予受理",
    "arrears.case.transition": "办理欠薪案件",
    "arrears.cases.export": "导出欠薪案件表",
    "arrears.alert.acknowledge": "确认群体性欠薪提醒",
    "import.undo": "撤销一次导入",
    "stats.report_template.replace": "更换年度工作报告模板",
}

# The filter's groups: a prefix of actions and its name (a prefix matches every action starting with it).
GROUPS = (
    ("enrollment.", "入会审核"),
    ("station", "驿站"),
    ("legal_aid.", "法律援助"),
    ("breakfast.", "爱心早餐"),
    ("organization.", "工会组织"),
    ("staff.", "工作人员账号"),
    ("arrears.", "欠薪报工"),
    ("import.", "导入记录"),
    ("stats.", "年度工作报告"),
)

OBJECTS = {
    "enrollment_application": "入会申请",
    "membership": "会员名单",
    "station": "驿站",
    "station_report": "驿站问题反馈",
    "legal_aid_provider": "律师或法律服务站",
    "legal_aid_slot": "咨询时段",
    "legal_aid_rule": "按周排班",
    "legal_aid_booking": "法律咨询预约",
    "breakfast_point": "早餐点",
    "breakfast_roster": "早餐名册记录",
    "organization": "工会组织",
    "staff": "工作人员账号",
    "arrears_report": "欠薪报工",
    "arrears_case": "欠薪案件",
    "import": "导入记录",
    "report_template": "年度工作报告模板",
}

FIELDS = {
    "accepts_members": "接收入会", "active": "状态", "address": "地址", "amenities": "设施", "capacity": "名额",
    "cancelled_bookings": "随之取消的预约", "closure": "临时闭站", "code": "编码", "contact_phone": "联系电话",
    "created": "新增", "daily_quota": "每日份数", "date": "日期", "end": "结束时间", "ends_at": "结束时间",
    "errors": "出错行数", "file": "文件", "filename": "文件", "filters": "筛选条件", "firm": "律师事务所",
    "from": "起始日期", "full": "完整导出", "geofence_m": "签到范围（米）", "id_number": "身份证号",
    "kept_booked": "保留的已约时段", "kind": "类型", "lat": "纬度", "lng": "经度", "location": "地点",
    "member_no": "会员编号", "mode": "咨询方式", "name": "名称", "note": "处理说明", "notes": "咨询记录",
    "occupation": "职业", "occupations": "职业", "opening_hours": "开放时间", "organization_id": "所属工会",
    "outcome": "处理结果", "parent_id": "上级组织", "phone": "电话", "photos": "照片", "provider_id": "服务提供方",
    "q": "关键词", "qr_generation": "二维码版本", "reason": "原因", "region": "地区", "removed": "撤下的时段",
    "roles": "角色", "rows": "行数", "serving_end": "供餐结束", "serving_start": "供餐开始",
    "skipped_dates": "跳过的日期", "source": "来源", "start": "开始时间", "starts_at": "开始时间",
    "station_id": "驿站", "status": "状态", "submitted_from": "提交日期起", "submitted_to": "提交日期止",
    "topic": "咨询事项", "until": "截止日期", "updated": "更新", "username": "用户名", "valid_from": "起始日期",
    "valid_until": "截止日期", "warnings": "提示行数", "weekdays": "星期",
}

# Codes stored in details, by the field that holds them.
VALUES = {
    "amenities": AMENITY_LABELS,
    "kind": {**display.KIND_LABELS, **REPORT_KIND_LABELS},
    "mode": display.MODE_LABELS,
    "occupation": OCCUPATION_LABELS,
    "occupations": OCCUPATION_LABELS,
    "outcome": display.OUTCOME_LABELS,
    "roles": ROLE_LABELS,
    "source": {"bulk_load": "命令行批量导入"},
    "status": display.STATUS_LABELS,
    "topic": display.TOPICS,
    "weekdays": {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"},
}
PERSONAL = {"phone", "contact_phone", "id_number"}  # masked whatever they hold
TIMES = {"starts_at", "ends_at"}  # ISO 8601 instants, shown as local time
# A mainland mobile or an ID number inside any other text (a file name, a reason).
_LONG_NUMBER = re.compile(r"(?<![0-9])(?:1[3-9][0-9]{9}|[0-9]{17}[0-9Xx])(?![0-9])")
EMPTY = "（空）"
ARROW = " → "


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)


def object_label(target_type: str | None, target_id: str | None = None) -> str:
    """``legal_aid_booking``, ``2`` → ``法律咨询预约 #2``; without an id, the kind of object alone."""
    if not target_type:
        return ""
    name = OBJECTS.get(target_type, target_type)
    return f"{name} #{target_id}" if target_id else name


def group_of(action: str) -> str:
    return next((label for prefix, label in GROUPS if action.startswith(prefix)), "其他")


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The filter's options: each group's name with ``(value, label)`` pairs, the group's
    prefix first (value ending in ``*``), then its actions (exact values)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for prefix, label in GROUPS:
        groups[label] = [(prefix + "*", f"全部{label}操作")]
    for action, label in ACTIONS.items():
        groups.setdefault(group_of(action), []).append((action, label))
    return list(groups.items())


def _hours(value) -> str:
    if value == ALWAYS:
        return "24 小时开放"
    if not isinstance(value, dict):
        return _text(value)
    days = {day: "、".join(value.get(day) or []) or "不开放" for day in DAY_NAMES}
    if len(set(days.values())) == 1:
        return "每天 " + days["mon"]
    return "，".join(f"{DAY_NAMES[day]} {text}" for day, text in days.items())


def _closure(value) -> str:
    if not isinstance(value, dict):
        return "无" if value is None else _text(value)
    text = f"{value.get('from')} 至 {value.get('until') or '另行通知'}"
    return text + (f"（{_text(value['reason'])}）" if value.get("reason") else "")


def _time(value) -> str:
    try:
        return clock.to_local(dt.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return _text(value)


def _text(value) -> str:
    return _LONG_NUMBER.sub(lambda m: pii.mask(m.group(0)), str(value))


def value_text(field: str, value, names: dict | None = None) -> str:
    """One value of ``field`` as a clerk reads it: codes named, personal data masked, a record
    referred to by id named when ``names`` (``{field: {id: name}}``) knows it."""
    known = (names or {}).get(field) or {}
    if isinstance(value, int) and not isinstance(value, bool) and value in known:
        return f"{known[value]} #{value}"
    if field == "closure":
        return _closure(value)
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if field in PERSONAL:
        return pii.mask(str(value))
    if field == "opening_hours":
        return _hours(value)
    if isinstance(value, bool):
        if field == "active":
            return "启用" if value else "停用"
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(value_text(field, item) for item in value)
    if isinstance(value, dict):
        return "，".join(f"{FIELDS.get(k, k)} {value_text(k, v, names)}" for k, v in value.items())
    if field in VALUES:
        return VALUES[field].get(value, _text(value))
    if field in TIMES:
        return _time(value)
    return _text(value)


def detail_lines(details: dict | None, names: dict | None = None) -> list[str]:
    """An entry's details, one line each: ``字段：值``, and ``字段：旧值 → 新值`` for each change;
    records referred to by id are named from ``names`` (``service.audit.services.referenced_names``).

    ``changed`` holds ``{field: [old, new]}``; entries written before it did hold the
    list of changed fields (stations) or the new values alone (``changes``)."""
    def text(field, value):
        return value_text(field, value, names)

    lines: list[str] = []
    for key, value in (details or {}).items():
        if key == "changed" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    lines.append(f"{FIELDS.get(field, field)}：{text(field, change[0])}{ARROW}{text(field, change[1])}")
                else:
                    lines.append(f"{FIELDS.get(field, field)}：{text(field, change)}")
        elif key == "changed" and isinstance(value, list):
            lines.append("修改了：" + "、".join(FIELDS.get(field, field) for field in value))
        elif key == "changes" and isinstance(value, dict):
            lines.extend(f"{FIELDS.get(field, field)}：{text(field, v)}" for field, v in value.items())
        else:
            lines.append(f"{FIELDS.get(key, key)}：{text(key, value)}")
    return lines


def details_text(details: dict | None, names: dict | None = None) -> str:
    return "；".join(detail_lines(details, names))
