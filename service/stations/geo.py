"""The nearby-search index: a Redis GEO set plus a compact record per station.

Keys (one Redis database, ``noeviction`` expected):

- ``stations:geo``        GEO set, member = station id;
- ``stations:flt``        hash, station id → ``"<amenity mask>|<closure from>|<closure until>|<schedule>"``,
                          what the filters need (schedule: ``hours.compile_hours``' output as text);
- ``stations:rec``        hash, station id → ``"<lat>|<lng>|<JSON>"`` (JSON: the answer's fields that never
                          change between queries, rendered once);
- ``stations:geo:ready:v<RECORD_FORMAT>``  marker written after a complete build; missing = index
                          missing (a new record format brings a new marker name, so the first search
                          after such a deploy rebuilds the index);
- ``stations:geo:lock``   held by the one process rebuilding;
- ``stations:geo:dirty``  ids written while a rebuild runs, replayed after it.

Hot path (``search``): normally ONE round trip (EVALSHA).  The script checks
the marker, runs ``GEOSEARCH … BYRADIUS r m ASC COUNT n WITHDIST`` and, when
the question filters, reads the short filter entries and keeps the stations
having every wanted amenity (bitmask) and, for ``open_now``, open at this
minute — so non-matching stations never leave Redis.  While fewer than
``limit`` matches are certainly nearest it searches again inside the same
script: with a larger ``COUNT`` when the last search was cut by ``COUNT``,
else with the radius grown by the expected shortfall (matches grow with the
area; it starts at 1 km, capped at the asked radius), until the asked radius
is exhausted.  GEOSEARCH costs in proportion to the stations inside its radius
whatever ``COUNT`` is, so the ramp keeps a 50 km search in a dense city as
cheap as the nearest kilometre allows.  Only then does it read the records of
the matches it answers with (those clearly beyond the ``limit``-th dropped).
Python computes the exact distance (haversine on the stored coordinates, the
formula and earth radius Redis uses), re-checks the filters, sorts by
(distance, id), and writes each item as the record's pre-rendered JSON plus
``id``, ``distance_m`` and ``open_now`` — no JSON is parsed and no schema runs
per request.  Should its own certainty check fail it calls the script again
with a larger ``COUNT``.  No database query on the hot path.

The database path (``search_database``) builds the same entries from a
bounding-box query and goes through the same matching and sorting code, so
both answers are identical (same order, same integer distances).

Writers call ``upsert``/``remove`` AFTER their commit.  The write script
updates the live keys and, when a rebuild holds the lock, adds the ids to the
dirty set in the same atomic step; the rebuild replays dirty ids from the
database after swapping its freshly built keys in, so no write is lost.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import threading
import uuid
from collections.abc import Iterable

import redis
from flask import current_app
from sqlalchemy import and_, func, or_, select

from models import db
from models.station import AMENITIES, Station
from service.common import clock
from service.common.distance import EARTH_RADIUS_M, haversine_m
from service.extensions import redis_store
from service.stations import hours

log = logging.getLogger("service.stations.geo")

GEO_KEY = "stations:geo"
FLT_KEY = "stations:flt"
REC_KEY = "stations:rec"
RECORD_FORMAT = 3
READY_KEY = f"stations:geo:ready:v{RECORD_FORMAT}"
LOCK_KEY = "stations:geo:lock"
DIRTY_KEY = "stations:geo:dirty"

GEO_LAT_MAX = 85.05112878        # Redis GEO latitude limit (Web Mercator)
MARGIN_M = 1.0                   # > Redis' 52-bit geohash quantisation error (~0.35 m)
FIRST_RADIUS_M = 1000            # the search starts here and grows up to the asked radius
LOCK_SECONDS = 120
BUILD_BATCH = 5000
WRITE_CHUNK = 1000

AMENITY_BITS = {code: 1 << i for i, code in enumerate(AMENITIES)}

_SEARCH_LUA = """
-- KEYS: geo set, filter hash, records hash, ready marker
-- ARGV: lng, lat, radius_m, first radius_m, first count, amenity mask, open flag, today (YYYYMMDD),
--       weekday (0 = Monday), minute of day, limit, margin_m
-- → false when the index is missing, else {scanned, count, last distance, radius, id, filter, record, ...}
if redis.call('EXISTS', KEYS[4]) == 0 then return false end
local radius = tonumber(ARGV[3])
local r = tonumber(ARGV[4])
local count = tonumber(ARGV[5])
local need = tonumber(ARGV[6])
local want_open = ARGV[7] == '1'
local today = tonumber(ARGV[8])
local weekday = tonumber(ARGV[9])
local minute = tonumber(ARGV[10])
local limit = tonumber(ARGV[11])
local margin = tonumber(ARGV[12])
local filtered = need ~= 0 or want_open

-- filter entry: "<mask>|<closure from>|<closure until>|<schedule>"; schedule "*" or seven
-- ";"-separated days of "start-end" minute intervals, past-midnight tails already on the next day
local function matches(f)
  local p1 = string.find(f, '|', 1, true)
  if need ~= 0 and bit.band(tonumber(string.sub(f, 1, p1 - 1)), need) ~= need then return false end
  if not want_open then return true end
  local p2 = string.find(f, '|', p1 + 1, true)
  local p3 = string.find(f, '|', p2 + 1, true)
  if p2 > p1 + 1 then
    local cf = tonumber(string.sub(f, p1 + 1, p2 - 1))
    local cu = tonumber(string.sub(f, p2 + 1, p3 - 1))
    if today >= cf and today <= cu then return false end
  end
  local sched = string.sub(f, p3 + 1)
  if sched == '*' then return true end
  local pos = 1
  for _ = 1, weekday do pos = string.find(sched, ';', pos, true) + 1 end
  local stop = string.find(sched, ';', pos, true) or (#sched + 1)
  for s, e in string.gmatch(string.sub(sched, pos, stop - 1), '(%d+)-(%d+)') do
    if minute >= tonumber(s) and minute < tonumber(e) then return true end
  end
  return false
end

local function read(key, ids, from, to)
  local got = {}
  for i = from, to, 500 do
    local part = redis.call('HMGET', key, unpack(ids, i, math.min(i + 499, to)))
    for k = 1, #part do got[#got + 1] = part[k] end
  end
  return got
end

while true do
  local hits = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
                          'BYRADIUS', r + margin, 'm', 'ASC', 'COUNT', count, 'WITHDIST')
  local n = #hits
  local full = n == count
  local last = 0
  if n > 0 then last = tonumber(hits[n][2]) end
  -- matches nearer than this are certainly among the nearest (a safety margin for geohash rounding)
  local bound = r - 2 * margin
  if full then bound = last - 2 * margin end
  local ids, dists, flts = {}, {}, {}
  for k = 1, n do ids[k] = hits[k][1] end
  if filtered and n > 0 then
    local all = read(KEYS[2], ids, 1, n)
    local kept = {}
    for k = 1, n do
      -- a missing entry is passed on: Python then drops the ready marker
      if not all[k] or matches(all[k]) then
        kept[#kept + 1] = ids[k]
        dists[#dists + 1] = tonumber(hits[k][2])
        flts[#flts + 1] = all[k]
      end
    end
    ids = kept
  else
    for k = 1, n do dists[k] = tonumber(hits[k][2]) end
  end
  local sure = 0
  for k = 1, #dists do if dists[k] < bound then sure = sure + 1 end end
  if sure >= limit or (not full and r >= radius) then
    -- matches farther than the limit-th one by more than the rounding margins cannot be answered
    local keep = #ids
    if keep > limit then
      local cut = dists[limit] + 2 * margin
      keep = limit
      while keep < #ids and dists[keep + 1] <= cut do keep = keep + 1 end
    end
    local out = {n, count, n > 0 and hits[n][2] or '0', tostring(r)}
    if keep > 0 then
      if not filtered then flts = read(KEYS[2], ids, 1, keep) end
      local recs = read(KEYS[3], ids, 1, keep)
      for k = 1, keep do
        out[#out + 1] = ids[k]
        out[#out + 1] = flts[k] or ''
        out[#out + 1] = recs[k] or ''
      end
    end
    return out
  end
  if full then
    -- more stations within r: fetch more, in proportion to how rarely they match
    count = math.max(count * 4, math.ceil(count * (limit + 1) / math.max(#ids, 0.5)))
  else
    -- grow the radius by the expected shortfall (matches grow with the area), ×1.5 to ×4
    local grow = 2
    if #ids > 0 then grow = math.sqrt((limit + 1) / #ids) * 1.25 end
    r = math.min(radius, r * math.max(1.5, math.min(4, grow)))
  end
end
"""

_WRITE_LUA = """
-- KEYS: geo set, filter hash, records hash, rebuild lock, dirty set
-- ARGV: "u", (id, lng, lat, filter, record)... | "d", id...
local building = redis.call('EXISTS', KEYS[4]) == 1
if ARGV[1] == 'u' then
  for i = 2, #ARGV, 5 do
    redis.call('GEOADD', KEYS[1], ARGV[i + 1], ARGV[i + 2], ARGV[i])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 3])
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 4])
    if building then redis.call('SADD', KEYS[5], ARGV[i]) end
  end
else
  for i = 2, #ARGV do
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    if building then redis.call('SADD', KEYS[5], ARGV[i]) end
  end
end
if building then return 1 end
return 0
"""


_SWAP_LUA = """
-- KEYS: the three freshly built keys, then the three live keys they replace
-- Each live key is unlinked (its memory freed in the background, however large) and the
-- built one renamed in its place: O(1) in Redis at any size.  A built key already gone was
-- swapped by this same call before a retry: nothing to do for it.
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('UNLINK', KEYS[i + 3])
    redis.call('RENAME', KEYS[i], KEYS[i + 3])
  end
end
return 1
"""


class IndexMissing(Exception):
    """The ready marker is absent (Redis flushed or restarted, or never built)."""


class RebuildBusy(Exception):
    """Another process holds the rebuild lock."""


# --- small pure helpers -----------------------------------------------------------

def amenity_mask(codes: Iterable[str]) -> int:
    mask = 0
    for code in codes or ():
        mask |= AMENITY_BITS.get(code, 0)
    return mask


def amenities_of(mask: int) -> list[str]:
    return [code for code, bit in AMENITY_BITS.items() if mask & bit]


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=16384)
def _schedule(hours_text: str) -> str:
    """The weekly schedule of the record prefix, from the hours' JSON text (cached: hours repeat)."""
    compiled = hours.compile_hours(json.loads(hours_text))
    if compiled is None:
        return "*"
    return ";".join(",".join(f"{start}-{end}" for start, end in day) for day in compiled)


@functools.lru_cache(maxsize=16384)
def _compiled(schedule: str):
    """The record prefix's schedule back in ``hours.compile_hours``' form (cached: schedules repeat)."""
    if schedule == "*":
        return None
    return tuple(tuple(tuple(int(m) for m in span.split("-")) for span in day.split(",") if span)
                 for day in schedule.split(";"))


def _yyyymmdd(value: str | None, default: str) -> str:
    return value.replace("-", "") if value else default


def encode_record(name, address, lat, lng, phone, amenities, opening_hours, closure) -> tuple[str, str]:
    """The two index entries of one station: ``(filter, record)``.

    ``filter`` is ``"<amenity mask>|<closure from>|<closure until>|<schedule>"``,
    all the search script reads to filter; ``record`` is
    ``"<lat>|<lng>|<json>"``, the JSON being the answer's unchanging fields
    (name, address, lat, lng, amenities, opening hours, phone, closure)
    rendered once, without its braces.
    """
    hours_value = hours.canonical(opening_hours)
    closure = hours.canonical_closure(closure)
    mask = amenity_mask(amenities)
    if closure:
        span = f"{_yyyymmdd(closure['from'], '00000101')}|{_yyyymmdd(closure['until'], '99991231')}"
    else:
        span = "|"
    body = _dumps({"name": name, "address": address, "lat": lat, "lng": lng, "amenities": amenities_of(mask),
                   "opening_hours": hours_value, "phone": phone, "closure": closure})
    return f"{mask}|{span}|{_schedule(_dumps(hours_value))}", f"{lat!r}|{lng!r}|{body[1:-1]}"


def record_of(station) -> tuple[str, str]:
    return encode_record(station.name, station.address, station.lat, station.lng, station.phone,
                         station.amenities, station.opening_hours, station.closure)


class Query:
    """One nearby question, with the moment of asking computed once."""

    __slots__ = ("lat", "lng", "radius", "limit", "need", "open_now", "weekday", "minute", "today")

    def __init__(self, lat: float, lng: float, radius_m: int, limit: int, amenities: Iterable[str] = (),
                 open_now: bool = False):
        self.lat, self.lng, self.radius, self.limit = lat, lng, radius_m, limit
        self.need = amenity_mask(amenities)
        self.open_now = open_now
        day, self.weekday, self.minute = hours.moment(clock.local_now())
        self.today = int(day.strftime("%Y%m%d"))

    def match(self, station_id: int, entries: tuple[str, str]):
        """(distance, id, item as JSON text) when the station answers the question, else None."""
        mask_text, closed_from, closed_until, schedule = entries[0].split("|", 3)
        lat, lng, body = entries[1].split("|", 2)
        if int(mask_text) & self.need != self.need:
            return None
        dist = haversine_m(self.lat, self.lng, float(lat), float(lng))
        if dist > self.radius:
            return None
        open_now = (not (closed_from and int(closed_from) <= self.today <= int(closed_until))
                    and hours.open_at_minute(_compiled(schedule), self.weekday, self.minute))
        if self.open_now and not open_now:
            return None
        item = f'{{"id":{station_id},"distance_m":{round(dist)},"open_now":{"true" if open_now else "false"},{body}}}'
        return dist, station_id, item

    @property
    def filtered(self) -> bool:
        return bool(self.need) or self.open_now


# --- the hot path ------------------------------------------------------------------

def _client() -> redis.Redis:
    return redis_store.client


def _scripts():
    """This process' replay state: ids whose index update failed, and the background rebuild."""
    state = current_app.extensions.get("stations_geo")
    if state is None:
        state = current_app.extensions["stations_geo"] = {"pending": set(), "lock": threading.Lock(),
                                                          "thread": None}
    return state


def search(q: Query) -> list[str]:
    """Nearest stations from the Redis index, each as JSON text.  Raises IndexMissing (or a RedisError)."""
    state = _scripts()
    if state["pending"]:
        _retry_pending(state)
    script = redis_store.script(_SEARCH_LUA)
    if abs(q.lat) > GEO_LAT_MAX:
        raise IndexMissing()  # Redis cannot search from there; the database can
    first_radius = min(q.radius, FIRST_RADIUS_M)
    count = q.limit + 8 if not q.filtered else max(q.limit * 4, 128)
    while True:
        raw = script(
            keys=[GEO_KEY, FLT_KEY, REC_KEY, READY_KEY],
            args=[q.lng, q.lat, q.radius, first_radius, count, q.need, int(q.open_now), q.today, q.weekday,
                  q.minute, q.limit, MARGIN_M])
        if raw is None:
            raise IndexMissing()
        scanned, count, last, searched = int(raw[0]), int(raw[1]), float(raw[2]), float(raw[3])
        found = []
        for i in range(4, len(raw), 3):
            if not raw[i + 1] or not raw[i + 2]:
                log.error("station entry missing from the index; dropping the ready marker")
                _client().delete(READY_KEY)
                raise IndexMissing()
            hit = q.match(int(raw[i]), (raw[i + 1].decode(), raw[i + 2].decode()))
            if hit is not None:
                found.append(hit)
        found.sort(key=lambda h: (h[0], h[1]))
        full = scanned == count
        if not full and searched >= q.radius:  # every station within the radius was seen
            return [h[2] for h in found[:q.limit]]
        if full:  # stations not fetched lie at least `last - MARGIN_M` away
            certain = [h for h in found if h[0] < last - MARGIN_M]
        else:     # every station within `searched` was seen
            certain = [h for h in found if h[0] <= searched]
        if len(certain) >= q.limit:
            return [h[2] for h in certain[:q.limit]]
        first_radius, count = q.radius, count * 4  # rare: the script's estimate fell short


def search_database(q: Query) -> list[str]:
    """The same answer as ``search``, from the database (a bounding box, then exact distances)."""
    dlat = math.degrees(q.radius / EARTH_RADIUS_M) * 1.01 + 1e-6
    conditions = [Station.deleted_at.is_(None), Station.lat >= q.lat - dlat, Station.lat <= q.lat + dlat]
    cos_lat = math.cos(math.radians(min(abs(q.lat) + dlat, 90.0)))
    if cos_lat > 1e-6:
        dlng = dlat / cos_lat
        if dlng < 180:
            lo, hi = q.lng - dlng, q.lng + dlng
            if lo < -180:
                conditions.append(or_(Station.lng >= lo + 360, Station.lng <= hi))
            elif hi > 180:
                conditions.append(or_(Station.lng >= lo, Station.lng <= hi - 360))
            else:
                conditions.append(and_(Station.lng >= lo, Station.lng <= hi))
    rows = db.session.execute(select(
        Station.id, Station.name, Station.address, Station.lat, Station.lng, Station.phone,
        Station.amenities, Station.opening_hours, Station.closure).where(*conditions)).all()
    found = []
    for row in rows:
        hit = q.match(row.id, encode_record(row.name, row.address, row.lat, row.lng, row.phone,
                                            row.amenities, row.opening_hours, row.closure))
        if hit is not None:
            found.append(hit)
    found.sort(key=lambda h: (h[0], h[1]))
    return [h[2] for h in found[:q.limit]]


# --- keeping the index in step -----------------------------------------------------

def _write(args: list, pipe=None) -> None:
    redis_store.script(_WRITE_LUA)(keys=[GEO_KEY, FLT_KEY, REC_KEY, LOCK_KEY, DIRTY_KEY], args=args, client=pipe)


def upsert(stations: Iterable) -> None:
    """Put live stations (objects or rows with the station columns) into the index.

    Call AFTER the commit.  Chunks go through one pipeline.  When Redis is
    unreachable the ids are kept and replayed by this process later.
    """
    stations = list(stations)
    if not stations:
        return
    try:
        pipe = _client().pipeline(transaction=False)
        for start in range(0, len(stations), WRITE_CHUNK):
            args: list = ["u"]
            for s in stations[start:start + WRITE_CHUNK]:
                args += [s.id, s.lng, s.lat, *record_of(s)]
            _write(args, pipe)
        pipe.execute()
    except redis.RedisError as err:
        _remember([s.id for s in stations], err)


def remove(ids: Iterable[int]) -> None:
    """Take stations out of the index.  Call AFTER the commit."""
    ids = list(ids)
    if not ids:
        return
    try:
        pipe = _client().pipeline(transaction=False)
        for start in range(0, len(ids), WRITE_CHUNK):
            _write(["d", *ids[start:start + WRITE_CHUNK]], pipe)
        pipe.execute()
    except redis.RedisError as err:
        _remember(ids, err)


def sync_ids(ids: Iterable[int]) -> None:
    """Bring the given stations' index entries in line with the database."""
    ids = sorted(set(int(i) for i in ids))
    for start in range(0, len(ids), BUILD_BATCH):
        chunk = ids[start:start + BUILD_BATCH]
        live = db.session.scalars(select(Station).where(Station.id.in_(chunk), Station.deleted_at.is_(None))).all()
        upsert(live)
        gone = set(chunk) - {s.id for s in live}
        remove(sorted(gone))


def _remember(ids: list[int], err: Exception) -> None:
    log.error("station index update failed (%s); %d id(s) will be replayed", type(err).__name__, len(ids))
    state = _scripts()
    with state["lock"]:
        state["pending"].update(ids)


def _retry_pending(state) -> None:
    with state["lock"]:
        ids, state["pending"] = state["pending"], set()
    try:
        sync_ids(ids)
    finally:
        db.session.rollback()


# --- (re)building -----------------------------------------------------------------

def _iter_live_batches(batch: int = BUILD_BATCH):
    """Live stations by id, ``batch`` at a time, each batch in its own short transaction."""
    last = 0
    while True:
        rows = db.session.execute(select(
            Station.id, Station.name, Station.address, Station.lat, Station.lng, Station.phone,
            Station.amenities, Station.opening_hours, Station.closure)
            .where(Station.deleted_at.is_(None), Station.id > last).order_by(Station.id).limit(batch)).all()
        db.session.rollback()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def rebuild() -> int:
    """Build the index from the database under the Redis lock → number of stations indexed.

    Builds into temporary keys, swaps them in atomically (one script; the old
    keys are unlinked, so Redis frees even a national index in the background
    instead of blocking every client for seconds, and a swap retried after a
    timeout is harmless), replays the ids written meanwhile, then writes the
    ready marker.  Raises RebuildBusy when
    another process is rebuilding.
    """
    client = _client()
    lock = client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False):
        raise RebuildBusy()
    tag = uuid.uuid4().hex[:12]
    tmp_geo, tmp_flt, tmp_rec = (f"{key}:build:{tag}" for key in (GEO_KEY, FLT_KEY, REC_KEY))
    try:
        client.delete(DIRTY_KEY)
        count = 0
        for rows in _iter_live_batches():
            pipe = client.pipeline(transaction=False)
            values: list = []
            filters, records = {}, {}
            for r in rows:
                values += [r.lng, r.lat, r.id]
                filters[r.id], records[r.id] = encode_record(r.name, r.address, r.lat, r.lng, r.phone,
                                                             r.amenities, r.opening_hours, r.closure)
            pipe.execute_command("GEOADD", tmp_geo, *values)
            pipe.hset(tmp_flt, mapping=filters)
            pipe.hset(tmp_rec, mapping=records)
            pipe.execute()
            count += len(rows)
            lock.reacquire()
        if count:
            redis_store.script(_SWAP_LUA)(keys=[tmp_geo, tmp_flt, tmp_rec, GEO_KEY, FLT_KEY, REC_KEY])
        else:
            client.unlink(GEO_KEY, FLT_KEY, REC_KEY)
        _replay_dirty(client)
        client.set(READY_KEY, _dumps({"built_at": clock.isoformat(clock.now()), "count": count}))
        _replay_dirty(client)
        log.info("station index rebuilt: %d station(s)", count)
        return count
    finally:
        try:
            client.unlink(tmp_geo, tmp_flt, tmp_rec)
            lock.release()
        except redis.RedisError:  # lock expired or Redis gone: nothing to release
            pass


def _replay_dirty(client) -> None:
    while True:
        ids = client.spop(DIRTY_KEY, 1000)
        if not ids:
            return
        try:
            sync_ids(int(i) for i in ids)
        finally:
            db.session.rollback()


def ensure_index() -> None:
    """Called when a search found no index: rebuild it, once, in one process.

    Small datasets (``STATIONS_INLINE_REBUILD_MAX``, default 20000 stations) are
    rebuilt right here; larger ones in a background thread of this process,
    while the callers are answered from the database.
    """
    client = _client()
    if client.exists(LOCK_KEY):
        return
    count = db.session.scalar(select(func.count()).select_from(Station).where(Station.deleted_at.is_(None)))
    db.session.rollback()
    if count <= current_app.config["STATIONS_INLINE_REBUILD_MAX"]:
        try:
            rebuild()
        except RebuildBusy:
            pass
        return
    state = _scripts()
    with state["lock"]:
        running = state["thread"]
        if running is not None and running.is_alive():
            return
        app = current_app._get_current_object()
        thread = threading.Thread(target=_rebuild_in_background, args=(app,), name="stations-reindex",
                                  daemon=True)
        state["thread"] = thread
        thread.start()


def _rebuild_in_background(app) -> None:
    with app.app_context():
        try:
            rebuild()
        except RebuildBusy:
            pass
        except Exception:  # pragma: no cover - logged, the next search tries again
            log.exception("background station index rebuild failed")
        finally:
            db.session.remove()


def wait_for_background_rebuild(timeout: float = 60.0) -> None:
    """Join this process' background rebuild, if any (CLI and tests)."""
    state = current_app.extensions.get("stations_geo") or {}
    thread = state.get("thread")
    if thread is not None:
        thread.join(timeout)
