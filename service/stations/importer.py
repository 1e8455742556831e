"""Bulk upsert of stations by ``code``: from an uploaded spreadsheet, or from records (``bulk_load``).

Each row is validated completely before anything is written; bad rows are
reported with their row number and a Chinese message and the good rows land.
A row is refused when its place lies outside China or outside the service
area of the station's organization (no confirmation in a spreadsheet).  A dry
run stops there: what would be created, updated and refused, nothing written.
Writes go in batches (executemany INSERT, then the new ids in one query / bulk UPDATE by primary key),
each batch in a savepoint: if a batch hits the database's unique index (a
station created meanwhile), that batch is retried row by row so that only the
clashing row fails.  The import is recorded with the ids it created and the
previous values of what it changed (``service/imports/records.py``), so that
``undo_import`` can take it back.  One audit row per import, one commit; the
nearby search reads the table itself, so nothing else is kept in step.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Iterator
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from models import db
from models.imports import Import
from models.station import LAT_MAX, Station
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import record as audit
from service.common.distance import CHINA_LAT, CHINA_LNG, looks_swapped
from service.common.excel import TableError, read_table
from service.imports import records
from service.organizations.services import location_problem, owning_organization
from service.stations import hours
from service.stations.schemas import AMENITY_LABELS, CODE_RE, PHONE_RE, canonical_amenities

log = logging.getLogger("service.stations.importer")

ALIASES = {
    "code": ["code", "station_code", "驿站编码", "编号", "编码"],
    "name": ["name", "驿站名称", "名称"],
    "address": ["address", "详细地址", "地址"],
    "lat": ["lat", "latitude", "纬度"],
    "lng": ["lng", "lon", "longitude", "经度"],
    "phone": ["phone", "联系电话", "电话"],
    "amenities": ["amenities", "服务设施", "设施"],
    "opening_hours": ["opening_hours", "hours", "开放时段", "开放时间"],
}
REQUIRED = ("code", "name", "address", "lat", "lng", "opening_hours")
LABELS = {"code": "编码", "name": "名称", "address": "地址", "lat": "纬度", "lng": "经度", "phone": "电话",
          "amenities": "设施", "opening_hours": "开放时间"}
# What an update may change, and so what the import's record keeps the previous value of.
UPDATABLE = ("name", "address", "lat", "lng", "phone", "amenities", "opening_hours", "organization_id")
BATCH = 1000
LOOKUP_CHUNK = 1000

_AMENITY_WORDS = {code: code for code in AMENITY_LABELS}
_AMENITY_WORDS.update({label.lower(): code for code, label in AMENITY_LABELS.items()})
_AMENITY_WORDS.update({
    "饮用水": "water", "热水": "water", "开水": "water", "饮水机": "water",
    "加热": "hot_meal", "微波炉": "hot_meal", "热饭菜": "hot_meal",
    "充电宝": "charging", "充电桩": "charging", "手机充电": "charging", "电动车充电": "charging",
    "厕所": "toilet", "洗手间": "toilet", "公厕": "toilet",
    "休息区": "rest", "歇脚": "rest", "座椅": "rest",
    "哺乳室": "nursing_room",
    "空调": "air_conditioning", "冷暖空调": "air_conditioning",
    "医药箱": "first_aid", "急救箱": "first_aid", "药品": "first_aid",
    "wi-fi": "wifi", "无线网络": "wifi", "无线网": "wifi",
    "维修": "repair_kit", "工具": "repair_kit", "打气筒": "repair_kit", "工具箱": "repair_kit",
    "雨伞": "umbrella", "雨衣": "umbrella", "爱心雨伞": "umbrella",
})
_AMENITY_SPLIT = re.compile(r"[,，、|;；/\s]+")


class RowProblem(ValueError):
    pass


# --- one row ---------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _number(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise RowProblem(f"{LABELS[field]}应为数字")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = _text(value).replace("°", "")
        if not text:
            raise RowProblem(f"缺少{LABELS[field]}")
        try:
            number = float(text)
        except ValueError:
            raise RowProblem(f"{LABELS[field]}“{text}”不是数字") from None
    if number != number or not (low <= number <= high):
        raise RowProblem(f"{LABELS[field]}应在 {low:g} 到 {high:g} 之间")
    return number


def parse_amenities(value) -> list[str]:
    """Codes or Chinese names separated by ``,`` ``，`` ``、`` ``|`` → canonical codes; RowProblem naming unknowns."""
    if isinstance(value, (list, tuple)):
        tokens = [_text(v) for v in value]
    else:
        tokens = _AMENITY_SPLIT.split(_text(value))
    codes, unknown = [], []
    for token in tokens:
        token = token.strip()
        if not token:
            continue
        code = _AMENITY_WORDS.get(token.lower())
        if code is None:
            unknown.append(token)
        else:
            codes.append(code)
    if unknown:
        raise RowProblem("未知的设施：" + "、".join(unknown))
    return canonical_amenities(codes)


def _looks_swapped(lat, lng) -> bool:
    try:
        return looks_swapped(float(_text(lat)), float(_text(lng)))
    except ValueError:
        return False


def parse_row(values: dict, columns: set[str]) -> tuple[dict, list[str]]:
    """One spreadsheet row → (station fields, problems), every field checked."""
    data: dict = {}
    problems: list[str] = []

    def check(field, fn):
        try:
            data[field] = fn(values.get(field))
        except RowProblem as err:
            problems.append(str(err))
        except hours.HoursError as err:
            problems.append(f"{LABELS[field]}：{err}")

    def required_text(field, limit):
        def parse(value):
            text = _text(value)
            if not text:
                raise RowProblem(f"缺少{LABELS[field]}")
            if len(text) > limit:
                raise RowProblem(f"{LABELS[field]}不能超过 {limit} 个字")
            return text
        return parse

    def code(value):
        text = required_text("code", 64)(value)
        if not CODE_RE.match(text):
            raise RowProblem(f"编码“{text}”只能包含字母、数字、汉字及 - _ . / #")
        return text

    def phone(value):
        text = _text(value)
        if not text:
            return None
        if not PHONE_RE.match(text):
            raise RowProblem(f"电话“{text}”格式不正确")
        return text

    def opening(value):
        if isinstance(value, dict):
            return hours.normalise(value)
        text = _text(value)
        if not text:
            raise RowProblem("缺少开放时间")
        return hours.normalise(text)

    check("code", code)
    check("name", required_text("name", 100))
    check("address", required_text("address", 255))
    check("lat", lambda v: _number(v, "lat", -LAT_MAX, LAT_MAX))
    check("lng", lambda v: _number(v, "lng", -180, 180))
    check("opening_hours", opening)
    if "phone" in columns:
        check("phone", phone)
    if "amenities" in columns:
        check("amenities", parse_amenities)
    if "lat" not in data and _looks_swapped(values.get("lat"), values.get("lng")):
        problems.append(f"纬度和经度可能填反了（纬度在前，约 {CHINA_LAT[0]:g}–{CHINA_LAT[1]:g}；"
                        f"经度约 {CHINA_LNG[0]:g}–{CHINA_LNG[1]:g}）")
    return data, problems


# --- many rows -------------------------------------------------------------------

def _existing(codes: list[str]) -> dict[str, SimpleNamespace]:
    found: dict[str, SimpleNamespace] = {}
    for start in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[start:start + LOOKUP_CHUNK]
        for row in db.session.execute(select(
                Station.id, Station.code, Station.closure, *(getattr(Station, f) for f in UPDATABLE))
                .where(Station.code.in_(chunk), Station.deleted_at.is_(None))):
            found[row.code] = SimpleNamespace(**row._mapping)
    return found


def _row_answer(number: int, action: str, row: dict) -> dict:
    return {"row": number, "action": action, "key": row["code"], "name": row["name"]}


def import_rows(rows: Iterable[tuple[int, dict]], columns: Iterable[str], *, scope: Scope,
                organization_id: int | None, set_organization: bool, dry_run: bool = False,
                filename: str | None = None, recorded: bool = True, audit_details: dict | None = None,
                max_rows: int | None = None) -> dict:
    """Upsert parsed rows by code → ``{dry_run, import_id, created, updated, errors, rows}``; commits once.

    ``organization_id`` is given to new stations, and to updated ones when
    ``set_organization``.  An existing station outside ``scope`` is not
    touched (row error), nor is a row placed outside China or its
    organization's service area.  ``dry_run``: the same answer, nothing
    written.  ``recorded``: the import is kept for the imports list and its undo.
    """
    columns = set(columns)
    errors: list[dict] = []
    good: list[tuple[int, dict]] = []
    first_row: dict[str, int] = {}
    for count, (number, values) in enumerate(rows, start=1):
        if max_rows is not None and count > max_rows:
            raise TableError({"file": [f"单次最多导入 {max_rows} 行，请拆分文件后再导入"]})
        data, problems = parse_row(values, columns)
        if not problems and data["code"] in first_row:
            problems.append(f"编码“{data['code']}”与第 {first_row[data['code']]} 行重复")
        if problems:
            errors.append({"row": number, "message": f"第 {number} 行：" + "；".join(problems)})
            continue
        first_row[data["code"]] = number
        good.append((number, data))

    existing = _existing([data["code"] for _, data in good])
    now = clock.now()
    areas: dict = {}
    inserts: list[tuple[int, dict]] = []
    updates: list[tuple[int, dict, SimpleNamespace]] = []
    before: dict[int, dict] = {}
    for number, data in good:
        current = existing.get(data["code"])
        if current is not None and not scope.allows(current.organization_id):
            errors.append({"row": number,
                           "message": f"第 {number} 行：编码“{data['code']}”已被不在您管辖范围内的驿站使用"})
            continue
        owner = organization_id if current is None or set_organization else current.organization_id
        problem = location_problem(owner, data["lat"], data["lng"], areas)
        if problem is not None:
            errors.append({"row": number, "message": f"第 {number} 行：{problem[0]}"})
        elif current is None:
            row = {"code": data["code"], "name": data["name"], "address": data["address"], "lat": data["lat"],
                   "lng": data["lng"], "phone": data.get("phone"), "amenities": data.get("amenities", []),
                   "opening_hours": data["opening_hours"], "closure": None, "photos": [],
                   "organization_id": organization_id, "created_at": now, "updated_at": now, "deleted_at": None}
            inserts.append((number, row))
        elif not scope.allows(current.organization_id):
            message = f"第 {number} 行：编码“{data['code']}”已被不在您管辖范围内的驿站使用"
            errors.append({"row": number, "message": message})
        else:
            row = {"id": current.id, **data, "updated_at": now}
            if set_organization:
                row["organization_id"] = organization_id
            updates.append((number, row, current))
            before[number] = {f: getattr(current, f) for f in UPDATABLE if f in row and row[f] != getattr(current, f)}

    if dry_run:
        db.session.rollback()
        errors.sort(key=lambda e: e["row"])
        answers = [_row_answer(n, "created", r) for n, r in inserts] + [_row_answer(n, "updated", r)
                                                                         for n, r, _ in updates]
        return {"dry_run": True, "import_id": None, "created": len(inserts), "updated": len(updates),
                "errors": errors, "rows": sorted(answers, key=lambda a: a["row"])}

    created_rows = _write_inserts(inserts, errors)
    updated_rows = _write_updates(updates, errors)
    errors.sort(key=lambda e: e["row"])
    failed = {e["row"] for e in errors}
    inserts = [(n, r) for n, r in inserts if n not in failed]
    updates = [(n, r, c) for n, r, c in updates if n not in failed]
    import_id = None
    if recorded:
        ids = {entry.code: entry.id for entry in created_rows}
        import_id = records.record("stations", organization_id, filename, now, refused=len(errors),
                                   created=[(n, ids[r["code"]]) for n, r in inserts],
                                   updated=[(n, r["id"], before[n]) for n, r, _ in updates])
    answers = [_row_answer(n, "created", r) for n, r in inserts] + [_row_answer(n, "updated", r)
                                                                     for n, r, _ in updates]
    result = {"dry_run": False, "import_id": import_id, "created": len(created_rows), "updated": len(updated_rows),
              "errors": errors, "rows": sorted(answers, key=lambda a: a["row"])}
    audit("station.import", "station", None, organization_id=organization_id,
          details={**(audit_details or {}), "import_id": import_id, "created": result["created"],
                   "updated": result["updated"], "errors": len(errors)})
    db.session.commit()
    return result


def _written(station_id: int, row: dict, current: SimpleNamespace | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        id=station_id, code=row["code"], name=row["name"], address=row["address"], lat=row["lat"], lng=row["lng"],
        phone=row["phone"] if "phone" in row else (current.phone if current else None),
        amenities=row["amenities"] if "amenities" in row else (current.amenities if current else []),
        opening_hours=row["opening_hours"], closure=row.get("closure", current.closure if current else None))


def _write_inserts(inserts: list[tuple[int, dict]], errors: list[dict]) -> list[SimpleNamespace]:
    """Plain executemany INSERTs (pipelined by psycopg), then the new ids in one query: the live
    stations above the highest id seen before, with our codes (one live station per code, so
    those are ours).  One query, not one per batch of codes: where the table was small at its
    last ANALYZE (a first import) the planner scans the whole table for each look-up."""
    table = Station.__table__
    floor = db.session.scalar(select(func.max(Station.id))) or 0
    written: list[dict] = []
    for start in range(0, len(inserts), BATCH):
        batch = inserts[start:start + BATCH]
        try:
            with db.session.begin_nested():
                db.session.execute(insert(table), [row for _, row in batch])
            written.extend(row for _, row in batch)
        except IntegrityError:
            for number, row in batch:  # find the clashing row(s); keep the rest
                try:
                    with db.session.begin_nested():
                        db.session.execute(insert(table), [row])
                    written.append(row)
                except IntegrityError:
                    errors.append({"row": number, "message": f"第 {number} 行：编码“{row['code']}”已被使用"})
    ours = {row["code"] for row in written}
    ids = {code: station_id for station_id, code in db.session.execute(
        select(Station.id, Station.code).where(Station.id > floor, Station.deleted_at.is_(None))) if code in ours}
    return [_written(ids[row["code"]], row) for row in written]


def _write_updates(updates: list[tuple[int, dict, SimpleNamespace]], errors: list[dict]) -> list[SimpleNamespace]:
    done: list[SimpleNamespace] = []
    for start in range(0, len(updates), BATCH):
        batch = updates[start:start + BATCH]
        try:
            with db.session.begin_nested():
                db.session.execute(update(Station), [row for _, row, _ in batch])
            done.extend(_written(row["id"], row, current) for _, row, current in batch)
        except IntegrityError:
            for number, row, current in batch:
                try:
                    with db.session.begin_nested():
                        db.session.execute(update(Station), [row])
                    done.append(_written(row["id"], row, current))
                except IntegrityError:
                    errors.append({"row": number, "message": f"第 {number} 行：保存失败，请检查数据"})
    return done


# --- entry points ------------------------------------------------------------------

def import_file(scope: Scope, storage, form: dict, *, dry_run: bool = False) -> dict:
    """``POST /admin/stations/import``: read the file (422 when unreadable or a column is missing) and upsert
    (or, ``dry_run``, only say what would happen)."""
    given = {"organization_id": form["organization_id"]} if form.get("organization_id") is not None else {}
    organization_id = owning_organization(scope, given, federation_level=True, noun="驿站")
    columns, rows = read_table(storage, ALIASES, REQUIRED)
    filename = getattr(storage, "filename", None)
    return import_rows(rows, columns, scope=scope, organization_id=organization_id,
                       set_organization=bool(given), dry_run=dry_run, filename=filename,
                       audit_details={"filename": filename},
                       max_rows=current_app.config["STATIONS_IMPORT_MAX_ROWS"])


# --- undo ----------------------------------------------------------------------------

def undo_import(scope: Scope, entry: Import, now: dt.datetime) -> records.UndoOutcome:
    """Take back a stations import, batch by batch, in the caller's transaction: the stations it
    created are retired (soft-deleted, as ``DELETE`` does), those it updated get their previous
    values back.  A station changed since (its ``updated_at`` is no longer the import's),
    retired meanwhile, or outside ``scope`` (now or once restored) is left as it is and reported."""
    outcome = records.UndoOutcome()
    for batch in records.item_batches(entry.id):
        stmt = select(Station.id, Station.code, Station.organization_id, Station.updated_at, Station.deleted_at) \
            .where(Station.id.in_([item.record_id for item in batch]))
        current = {row.id: row for row in db.session.execute(stmt.with_for_update())}
        retire: list[int] = []
        restore: list[dict] = []
        for item in batch:
            row = current.get(item.record_id)
            if row is None or row.deleted_at is not None:
                outcome.skip(item.row, "驿站已被撤销")
            elif row.updated_at != entry.created_at:
                outcome.skip(item.row, f"驿站“{row.code}”在导入后又被修改过")
            elif not scope.allows(row.organization_id) or not scope.allows(
                    (item.before or {}).get("organization_id", row.organization_id)):
                outcome.skip(item.row, f"驿站“{row.code}”不在您的管辖范围内")
            elif item.action == "created":
                retire.append(row.id)
            else:
                restore.append({"id": row.id, **(item.before or {}), "updated_at": now})
        if retire:
            db.session.execute(update(Station).where(Station.id.in_(retire)).values(deleted_at=now, updated_at=now)
                               .execution_options(synchronize_session=False))
        for fields in sorted({tuple(sorted(r)) for r in restore}):
            db.session.execute(update(Station), [r for r in restore if tuple(sorted(r)) == fields])
        outcome.removed += len(retire)
        outcome.restored += len(restore)
    return outcome


# --- the template ----------------------------------------------------------------------

TEMPLATE_HEADERS = ["编码", "名称", "地址", "纬度", "经度", "电话", "设施", "开放时间"]
TEMPLATE_EXAMPLE = ["示例-001", "示例驿站（请改为实际驿站）", "扬州市广陵区文昌中路 1 号", 32.39381, 119.43182,
                    "0514-87000000", "饮水、充电、卫生间", "07:00-11:30, 13:30-21:00"]


def template_sheets() -> dict:
    """The blank import template: Chinese headers and one example row, then how to fill each column."""
    notes = [
        ["编码", "必填。驿站的唯一编码，如 YZ-GL-001；编码已存在时更新该驿站"],
        ["名称", "必填，不超过 100 个字"],
        ["地址", "必填，不超过 255 个字"],
        ["纬度", f"必填。GCJ-02 坐标（微信、高德地图），中国境内约 {CHINA_LAT[0]:g}–{CHINA_LAT[1]:g}；不要与经度填反"],
        ["经度", f"必填。GCJ-02 坐标，中国境内约 {CHINA_LNG[0]:g}–{CHINA_LNG[1]:g}"],
        ["电话", "选填"],
        ["设施", "选填。可从下拉列表选一项，多项用顿号分隔：" + "、".join(AMENITY_LABELS.values())],
        ["开放时间", "必填。24h；或每天相同的时间段，多个用逗号分隔，如 07:00-11:30, 13:30-21:00；"
                  "跨午夜写 22:00-06:00；按星期不同可写 JSON，如 {\"mon\": [\"08:00-18:00\"], \"sat\": []}"],
    ]
    return {"驿站": (TEMPLATE_HEADERS, [TEMPLATE_EXAMPLE]), "填写说明": (["列", "填写说明"], notes)}


def template_lists() -> dict:
    """Drop-down suggestions of the template: the amenities and common opening hours.  Anything else may
    still be typed (several amenities in one cell, other hours)."""
    return {"驿站": {"设施": list(AMENITY_LABELS.values()), "开放时间": ["24h", "08:00-20:00"]}}


def bulk_load(records: Iterable[dict], *, organization_id: int | None = None, chunk_size: int = 20000) -> dict:
    """Upsert station records (dicts with the import's English keys) in chunks: for seeding and benchmarks.

    Runs with whole-federation rights (CLI/benchmark use, no request needed);
    each chunk is one transaction, not kept as an import.  ``opening_hours`` may be
    ``"24h"``, ranges or the object form; ``amenities`` a list or a separated string.
    → totals ``{created, updated, errors}`` (counts).
    """
    scope = Scope(frozenset({"admin"}), None)
    totals = {"created": 0, "updated": 0, "errors": 0}
    columns = set(ALIASES)

    def chunks() -> Iterator[list[tuple[int, dict]]]:
        chunk: list[tuple[int, dict]] = []
        for number, record in enumerate(records, start=1):
            chunk.append((number, record))
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    for chunk in chunks():
        result = import_rows(chunk, columns, scope=scope, organization_id=organization_id,
                             set_organization=organization_id is not None, recorded=False,
                             audit_details={"source": "bulk_load"})
        for key in totals:
            totals[key] += result[key] if isinstance(result[key], int) else len(result[key])
        if result["errors"]:
            log.warning("bulk_load: %d bad record(s), first: %s", len(result["errors"]),
                        json.dumps(result["errors"][0], ensure_ascii=False))
    return totals
