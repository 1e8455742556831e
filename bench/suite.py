"""The benchmark suite: every figure the issues ask for, in one run, as ratios to /livez.

    bench/run                      # everything (about 15 minutes on 2 cores)
    bench/run --only nearby,checkin --stations 200000
    bench/run --quick              # smaller data and shorter runs, to try the suite

Prints Markdown tables; ``--out FILE`` also writes them to a file.  Figures
are measured, never asserted: this is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, loadgen  # noqa: E402
from bench.harness import CpuMeter, RssSampler, Stack, machine, stop  # noqa: E402

CONC = 16
OUT: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    OUT.append(line)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def staff_token(stack: Stack, username: str, role: str) -> str:
    from service.auth.services import create_staff, staff_login

    with stack.app.app_context():
        try:
            create_staff(username, "Bench@2026pass", [(role, None)])
        except Exception:
            from models import db
            db.session.rollback()
        return staff_login(username, "Bench@2026pass")["token"]


def root_org(stack: Stack) -> int:
    from sqlalchemy import select

    from models import Organization, db
    from service.organizations.services import create_root_or_child

    with stack.app.app_context():
        org = db.session.scalar(select(Organization).where(Organization.parent_id.is_(None)))
        if org is None:
            org = create_root_or_child("全国总工会（测试）", None, "全国")
            for name in ("北京市总工会", "上海市总工会", "广东省总工会", "江苏省总工会"):
                create_root_or_child(name, org, name[:2])
            db.session.commit()
        return org.id


def floor(stack: Stack, duration: float) -> dict:
    res = loadgen.run(stack.url, lambda i: loadgen.get("/livez"), concurrency=CONC, duration=duration, warmup=1)
    return res.summary()


def row(name: str, summary: dict, floor_rps: float, ratio: float | None = None) -> None:
    say(loadgen.format_row(name, summary, floor_rps, ratio))


def settle(stack: Stack) -> None:
    """Let PostgreSQL write out what seeding left behind before anything is measured."""
    from sqlalchemy import text

    from models import db

    with stack.app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
            conn.execute(text("VACUUM ANALYZE"))
    time.sleep(3)


def paired(stack: Stack, make, duration: float, rounds: int = 3) -> tuple[dict, float, list[float], list[float]]:
    """The endpoint measured in ``rounds`` runs, each right after a /livez run of the same length.

    On shared cores the machine's speed drifts by a factor of two within
    minutes, so a ratio is only fair between runs next to each other: each
    pair gives one ratio and the median is reported, with the floors seen.
    Returns (summary of the median run, median ratio, ratios, floors).
    """
    runs = []
    for _ in range(rounds):
        with CpuMeter(stack) as floor_cpu:
            fl = floor(stack, duration / rounds)
        with CpuMeter(stack) as cpu:
            s = loadgen.run(stack.url, make, concurrency=CONC, duration=duration / rounds, warmup=1).summary()
        # the warm-up's requests are not in s["requests"]: count them at the run's rate
        s["cpu"] = cpu.per_request(int(s["requests"] * (1 + 1 / (duration / rounds))))
        s["floor_cpu"] = floor_cpu.per_request(int(fl["requests"] * (1 + 1 / (duration / rounds))))
        runs.append((s["rps"] / fl["rps"], s, fl["rps"]))
    runs.sort(key=lambda r: r[0])
    ratio, summary, _ = runs[len(runs) // 2]
    return summary, ratio, [r[0] for r in runs], [r[2] for r in runs]


# --- scenarios ---------------------------------------------------------------------

def station_count(stack: Stack) -> int:
    from sqlalchemy import func, select

    from models import db
    from models.station import Station

    with stack.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Station))
        db.session.remove()
    return count


def grow_stations(stack: Stack, target: int) -> float:
    """Load stations with COPY until ``target`` exist (those there already are kept) → seconds taken."""
    from models import db

    have = station_count(stack)
    t0 = time.perf_counter()
    with stack.app.app_context():
        for start in range(have, target, 50_000):
            data.copy_stations(db.session, start, min(50_000, target - start))
        db.session.remove()
    return time.perf_counter() - t0


def scale_steps(stack: Stack, args, sizes: tuple[int, ...]) -> list[int]:
    """The sizes up to ``--stations`` (which is always the last), from the stations already loaded on."""
    steps = [n for n in sizes if n <= args.stations]
    if not steps or steps[-1] != args.stations:
        steps.append(args.stations)
    have = station_count(stack)
    skipped = [n for n in steps if n < have]
    if skipped:
        say(f"\n({have:,} stations are loaded already: the steps {', '.join(f'{n:,}' for n in skipped)} are skipped)")
    return [n for n in steps if n >= have]


QUERY_MIX = ("Queries: a rider 60% of the time within 10 km of one of 36 cities (weighted by size), 15% at a "
             "city's centre, 25% anywhere in the country; radius 3 km, limit 20; 30% with "
             "`amenities=water,charging`, 20% with `open_now=true`.\n")


def scenario_nearby(stack: Stack, fl: dict, args) -> None:
    say("\n## Nearby search (GET /api/v1/stations/nearby), 16 connections")
    say(QUERY_MIX)
    steps = scale_steps(stack, args, (10_000, 100_000, 200_000, 1_000_000))
    say(loadgen.TABLE_HEAD)
    curve = []
    for target in steps:
        load_s = grow_stations(stack, target)
        settle(stack)
        rng = random.Random(3)
        queries = [data.nearby_query(rng) for _ in range(5000)]
        loadgen.run(stack.url, lambda i: loadgen.get(queries[i % len(queries)]), concurrency=CONC, duration=2)
        s, ratio, ratios, floors = paired(stack, lambda i: loadgen.get(queries[i % len(queries)], "nearby"),
                                          args.duration)
        row(f"nearby @ {target:,} stations (loaded in {load_s:.0f} s)", s, None, ratio)
        say(f"\nCPU ms per request — nearby: {CpuMeter.format(s['cpu'])}; /livez beside it: "
            f"{CpuMeter.format(s['floor_cpu'])}; ratio of the totals "
            f"{sum(s['floor_cpu'].values()) / sum(s['cpu'].values()):.2f}\n")
        curve.append((target, s, ratio, ratios, floors))
    say("\nScale curve (p50 must stay flat); each ratio is the median of three runs, each paired with a "
        "/livez run just before it:\n")
    say("| stations | req/s | p50 ms | p99 ms | ratio to /livez (median) | the three ratios "
        "| /livez req/s beside them |\n|---|---|---|---|---|---|---|")
    for n, s, ratio, ratios, floors in curve:
        say(f"| {n:,} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {ratio:.2f} | "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {', '.join(f'{f:.0f}' for f in floors)} |")


def scenario_checkin(stack: Stack, fl: dict, args) -> None:
    from sqlalchemy import text

    from models import db
    from service.breakfast import bulk, qr

    org = root_org(stack)
    n_workers, n_points = args.roster, 20
    with stack.app.app_context():
        points = bulk.create_points(org, n_points, daily_quota=100_000, serving_start=dt.time(0, 0),
                                    serving_end=dt.time(23, 59), name_prefix="压测早餐点")
        pairs = bulk.create_eligible_workers(org, n_workers, phone_start=17000000000, openid_prefix="bench-b-")
        tokens = bulk.issue_worker_tokens([w for w, _ in pairs])
        scenes = [qr.make_scene(p, 1) for p in points]
    bodies = [json.dumps({"scene": scenes[i % n_points]}).encode() for i in range(n_workers)]

    def make(i):
        return ("POST", "/api/v1/breakfast/checkins", {"Content-Type": "application/json", **bearer(tokens[i])},
                bodies[i], "checkin")

    say(f"\n## Breakfast check-in morning peak: {n_workers:,} roster workers, {n_points} points, 16 connections\n")
    say(loadgen.TABLE_HEAD)
    # Each scan can be made once, so the floor is measured just before and just after instead,
    # once the seeding's writes have been checkpointed (they would slow the first floor down).
    settle(stack)
    with CpuMeter(stack) as floor_cpu:
        fl_before = floor(stack, 5)
    before = fl_before["rps"]
    with CpuMeter(stack) as cpu:
        res = loadgen.run(stack.url, make, concurrency=CONC, duration=600, total=n_workers)
    after = floor(stack, 5)["rps"]
    local = (before + after) / 2
    row(f"POST /breakfast/checkins (first scan; /livez {before:.0f} before, {after:.0f} after)", res.summary(),
        local)
    again = loadgen.run(stack.url, make, concurrency=CONC, duration=600, total=min(n_workers, 3000))
    row("POST /breakfast/checkins (second scan → 409)", again.summary(), local)
    per, per_floor = cpu.per_request(n_workers), floor_cpu.per_request(int(fl_before["requests"] * 1.2))
    say(f"\nCPU ms per first scan: {CpuMeter.format(per)}; /livez before it: {CpuMeter.format(per_floor)}; "
        f"ratio of the totals {sum(per_floor.values()) / sum(per.values()):.2f}; smaller worker's share of the "
        f"scans' CPU {cpu.worker_share():.2f}, of the /livez run's {floor_cpu.worker_share():.2f}")
    with stack.app.app_context():
        total, distinct = db.session.execute(text(
            "SELECT count(*), count(DISTINCT (roster_entry_id, serving_date)) FROM breakfast_checkins "
            "WHERE point_id = ANY(:p)"), {"p": points}).one()
        served = db.session.execute(text(
            "SELECT coalesce(sum(served), 0) FROM breakfast_daily_counts WHERE point_id = ANY(:p)"),
            {"p": points}).scalar()
    created = res.statuses["checkin"].get(201, 0)
    say(f"\nCheck-ins stored: {total:,}; duplicates: {total - distinct}; counters: {served:,}; "
        f"201 answers: {created:,}; second scans answered 409: {again.statuses['checkin'].get(409, 0):,}.")


def scenario_booking(stack: Stack, fl: dict, args) -> None:
    from sqlalchemy import text

    from models import db
    from service.breakfast import bulk

    org = root_org(stack)
    legal = staff_token(stack, "bench_legal", "legal_aid_staff")
    client = stack.app.test_client()
    prov = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(legal),
                       json={"name": "压测律师", "kind": "lawyer", "organization_id": org, "firm": "压测律师事务所"})
    provider_id = prov.get_json()["id"]
    day = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=3)).date()
    slot_ids = []
    for h in range(9, 14):
        r = client.post("/api/v1/admin/legal-aid/slots", headers=bearer(legal), json={
            "provider_id": provider_id, "starts_at": f"{day}T{h:02d}:00:00+08:00",
            "ends_at": f"{day}T{h:02d}:50:00+08:00", "capacity": 20, "mode": "offline", "location": "压测地点"})
        slot_ids.append(r.get_json()["slot"]["id"])
    n = args.bookers
    with stack.app.app_context():
        pairs = bulk.create_eligible_workers(org, n, phone_start=16000000000, openid_prefix="bench-l-", link=False)
        tokens = bulk.issue_worker_tokens([w for w, _ in pairs])
    bodies = [json.dumps({"slot_id": slot_ids[i % len(slot_ids)], "topic": "wage_arrears",
                          "description": "老板拖欠三个月工资"}).encode() for i in range(n)]

    def make(i):
        return ("POST", "/api/v1/legal-aid/bookings", {"Content-Type": "application/json", **bearer(tokens[i])},
                bodies[i], "booking")

    say(f"\n## Legal-aid booking under contention: {n:,} workers for {len(slot_ids)} slots × 20 seats, "
        "16 connections\n")
    say(loadgen.TABLE_HEAD)
    res = loadgen.run(stack.url, make, concurrency=CONC, duration=600, total=n)
    row("POST /legal-aid/bookings", res.summary(), fl["rps"])
    with stack.app.app_context():
        over = db.session.execute(text(
            "SELECT count(*) FROM legal_aid_slots s WHERE s.id = ANY(:ids) AND (s.booked > s.capacity OR s.booked <> "
            "(SELECT count(*) FROM legal_aid_bookings b WHERE b.slot_id = s.id AND b.status = 'booked'))"),
            {"ids": slot_ids}).scalar()
        booked = db.session.execute(text(
            "SELECT count(*) FROM legal_aid_bookings WHERE slot_id = ANY(:ids) AND status = 'booked'"),
            {"ids": slot_ids}).scalar()
    st = res.statuses["booking"]
    say(f"\nBookings stored: {booked} for {len(slot_ids) * 20} seats; 201: {st.get(201, 0)}, "
        f"409 slot_full: {st.get(409, 0)}; slots overbooked or out of step with their bookings: {over}.")


def scenario_queue(stack: Stack, fl: dict, args) -> None:
    from sqlalchemy import select

    from models import Organization, db

    root_org(stack)
    with stack.app.app_context():
        orgs = list(db.session.scalars(select(Organization.id)))
        t0 = time.perf_counter()
        data.bulk_applications(db.session, orgs, args.applications)
        load_s = time.perf_counter() - t0
    reviewer = staff_token(stack, "bench_reviewer", "enrollment_reviewer")
    rng = random.Random(5)
    paths = []
    for _ in range(2000):
        r = rng.random()
        if r < 0.5:
            paths.append(f"/api/v1/admin/enrollment/applications?status=pending&page={rng.randint(1, 20)}")
        elif r < 0.7:
            paths.append(f"/api/v1/admin/enrollment/applications?status=pending&organization_id={rng.choice(orgs)}")
        elif r < 0.85:
            paths.append("/api/v1/admin/enrollment/applications?q=%E8%81%8C%E5%B7%A512")
        else:
            paths.append(f"/api/v1/admin/enrollment/applications?page={rng.randint(1, 200)}")
    say(f"\n## Enrollment review queue with {args.applications:,} applications (loaded in {load_s:.0f} s), "
        "16 connections\n")
    say(loadgen.TABLE_HEAD)
    res = loadgen.run(stack.url, lambda i: loadgen.get(paths[i % len(paths)], "queue", bearer(reviewer)),
                      concurrency=CONC, duration=args.duration, warmup=1)
    row("GET /admin/enrollment/applications", res.summary(), fl["rps"])


def scenario_annual(stack: Stack, fl: dict, args) -> None:
    from models import db
    from service.breakfast import bulk

    org = root_org(stack)
    year = 2025
    per_day = max(1, args.checkins_year // 365)
    with stack.app.app_context():
        points = bulk.create_points(org, 20, daily_quota=100_000, name_prefix="年报早餐点")
        pairs = bulk.create_eligible_workers(org, per_day, phone_start=18000000000, openid_prefix="bench-y-",
                                             link=False)
        t0 = time.perf_counter()
        total = data.bulk_checkins(db.session, points, [e for _, e in pairs], year, per_day)
        load_s = time.perf_counter() - t0
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    admin = staff_token(stack, "bench_admin", "admin")
    res = loadgen.run(stack.url, lambda i: loadgen.get(f"/api/v1/admin/stats/annual?year={year}", "annual",
                                                        bearer(admin)), concurrency=1, total=30, duration=600)
    s = res.summary()
    say(f"\n## Annual figures with {total:,} check-ins in the database (loaded in {load_s:.0f} s), one client\n")
    say(loadgen.TABLE_HEAD)
    row("GET /admin/stats/annual", s, fl["rps"])


def scenario_mix(stack: Stack, fl: dict, args) -> dict:
    """The realistic mix, per endpoint, for issue 8; returns the overall summary."""
    from service.breakfast import bulk, qr

    org = root_org(stack)
    with stack.app.app_context():
        points = bulk.create_points(org, 20, daily_quota=1_000_000, serving_start=dt.time(0, 0),
                                    serving_end=dt.time(23, 59), name_prefix="混合早餐点")
        pairs = bulk.create_eligible_workers(org, 30_000, phone_start=13900000000, openid_prefix="bench-m-")
        tokens = bulk.issue_worker_tokens([w for w, _ in pairs])
        scenes = [qr.make_scene(p, 1) for p in points]
    reviewer = staff_token(stack, "bench_mix_reviewer", "enrollment_reviewer")
    rng = random.Random(9)
    queries = [data.nearby_query(rng) for _ in range(5000)]
    seq = {"n": 0}

    def make(i):
        r = (i * 7919) % 100
        if r < 45:
            return loadgen.get(queries[i % len(queries)], "GET /stations/nearby")
        if r < 60:
            return ("POST", "/api/v1/breakfast/checkins", {"Content-Type": "application/json",
                                                           **bearer(tokens[i % len(tokens)])},
                    json.dumps({"scene": scenes[i % len(scenes)]}).encode(), "POST /breakfast/checkins")
        if r < 70:
            seq["n"] += 1
            return loadgen.post_json("/api/v1/auth/wechat/login", {"code": f"dev-mix{i % 5000}.{seq['n']}"},
                                     "POST /auth/wechat/login")
        if r < 78:
            return loadgen.get("/api/v1/me", "GET /me", bearer(tokens[i % len(tokens)]))
        if r < 86:
            return loadgen.get("/api/v1/legal-aid/slots", "GET /legal-aid/slots", bearer(tokens[i % len(tokens)]))
        if r < 92:
            return loadgen.get("/api/v1/admin/enrollment/applications?status=pending",
                               "GET /admin/enrollment/applications", bearer(reviewer))
        if r < 96:
            return loadgen.get("/api/v1/organizations", "GET /organizations")
        return loadgen.get("/api/v1/enrollment/applications/mine", "GET /enrollment/applications/mine",
                           bearer(tokens[i % len(tokens)]))

    say(f"\n## Realistic mix, 16 connections, {args.duration:.0f} s (gunicorn 2 workers, production profile)\n")
    with RssSampler(stack) as rss:
        res = loadgen.run(stack.url, make, concurrency=CONC, duration=max(args.duration, 20), warmup=2)
    say(loadgen.TABLE_HEAD)
    for label in sorted(res.latencies):
        row(label, res.summary(label), fl["rps"])
    total = res.summary()
    row("**all**", total, fl["rps"])
    say("\nPeak RSS per gunicorn worker: " + ", ".join(f"{v:.0f} MiB" for v in rss.peak.values()))
    stack_mix = {"make": make, "summary": total}
    stack._mix = stack_mix
    return total


def scenario_soak(stack: Stack, fl: dict, args) -> None:
    mix = getattr(stack, "_mix", None)
    if mix is None:
        scenario_mix(stack, fl, args)
        mix = stack._mix
    target = 0.7 * mix["summary"]["rps"]
    make = mix["make"]

    def paced(i):
        return make(i + 10_000_000)

    say(f"\n## Soak: {args.soak:.0f} s at 70% of the mix's peak ({target:.0f} req/s), 16 connections\n")
    res, samples = _paced_run(stack, paced, target, args.soak)
    s = res.summary()
    errors = sum(v for k, v in s["statuses"].items() if k == 0 or k >= 500)
    say(loadgen.TABLE_HEAD)
    row("mix (soak)", s, fl["rps"])
    first = statistics.fmean(samples[: max(1, len(samples) // 5)]) if samples else 0
    last = statistics.fmean(samples[-max(1, len(samples) // 5):]) if samples else 0
    say(f"\nErrors (5xx or connection): {errors}. Mean worker RSS first fifth {first:.0f} MiB → last fifth "
        f"{last:.0f} MiB ({(last - first):+.0f} MiB).")


def _paced_run(stack: Stack, make, rps: float, seconds: float):
    """Open-loop pacing: each connection sends at its share of ``rps``."""
    import asyncio
    import itertools

    host, port = "127.0.0.1", stack.port
    result = loadgen.Result()
    counter = itertools.count()
    interval = CONC / rps

    async def conn():
        reader = writer = None
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while time.perf_counter() < deadline:
            next_at += interval
            i = next(counter)
            method, path, headers, body, label = make(i)
            raw = loadgen.encode(host, port, method, path, headers, body)
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(raw)
                await writer.drain()
                status, _ = await loadgen._read_response(reader)
                result.latencies[label].append(time.perf_counter() - t0)
                result.statuses[label][status] += 1
            except Exception:
                result.statuses[label][0] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        if writer is not None:
            writer.close()

    async def main():
        started = time.perf_counter()
        await asyncio.gather(*[conn() for _ in range(CONC)])
        result.elapsed = time.perf_counter() - started

    with RssSampler(stack, every=2.0) as rss:
        asyncio.run(main())
    return result, rss.samples


def scenario_roundtrip(stack: Stack, fl: dict, args) -> None:
    """What one blocking round trip costs the calling process in CPU, one call at a time.

    A hot request's CPU is mostly the framework's (as for /livez) plus its round
    trips to Redis and PostgreSQL; this prints the second part on its own,
    with the server idle.  A longer wait costs more CPU than the syscalls it
    makes: the process sleeps, and wakes to cold caches.
    """
    from models import db
    from service.extensions import redis_store

    def measure(call, n: int) -> tuple[float, float]:
        for _ in range(n // 10):
            call()
        best = None
        for _ in range(3):
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                call()
            cpu, wall = (time.process_time() - c0) / n * 1e6, (time.perf_counter() - t0) / n * 1e6
            if best is None or cpu < best[0]:
                best = (cpu, wall)
        return best

    say("\n## What a round trip costs the caller (in the benchmark's process, one call at a time)\n")
    say("| call | wall µs | caller's CPU µs |")
    say("|---|---|---|")
    with stack.app.app_context():
        client = redis_store.client
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            calls = [("nothing (the loop itself)", lambda: None, 20_000),
                     ("Redis PING (redis-py)", client.ping, 5_000),
                     ("PostgreSQL SELECT 1 (SQLAlchemy, psycopg)", lambda: conn.exec_driver_sql("SELECT 1").all(),
                      5_000),
                     ("PostgreSQL SELECT pg_sleep(0.001)",
                      lambda: conn.exec_driver_sql("SELECT pg_sleep(0.001)").all(), 500),
                     ("PostgreSQL SELECT pg_sleep(0.005)",
                      lambda: conn.exec_driver_sql("SELECT pg_sleep(0.005)").all(), 200)]
            for name, call, n in calls:
                cpu, wall = measure(call, n)
                say(f"| {name} | {wall:.0f} | {cpu:.0f} |")


def scenario_ladder(stack: Stack, fl: dict, args) -> None:
    """How near /livez any nearby search or check-in can come on this stack (bench/ladder_app.py).

    Each rung adds one part that docs/contract.md asks of the hot endpoints; the
    nearby endpoint itself is measured among them.  Measured like the nearby
    search: three runs, each right after a /livez run of the same length.
    """
    from urllib.parse import parse_qs, urlsplit

    from service.breakfast import bulk

    want = max(min(args.stations, 200_000), station_count(stack))
    org = root_org(stack)
    grow_stations(stack, want)
    with stack.app.app_context():
        pairs = bulk.create_eligible_workers(org, 2_000, phone_start=15500000000,
                                             openid_prefix="bench-ladder-", link=False)
        tokens = bulk.issue_worker_tokens([w for w, _ in pairs])
    settle(stack)
    rng = random.Random(3)
    queries = [data.nearby_query(rng) for _ in range(5000)]
    points = [f"lat={p['lat'][0]}&lng={p['lng'][0]}" for p in (parse_qs(urlsplit(q).query) for q in queries)]

    def post(path):
        return lambda i: ("POST", path, bearer(tokens[i % len(tokens)]), b"", path)

    rungs = [
        ("per-client limit (one Redis script)", lambda i: loadgen.get("/bench/ladder/limited")),
        ("+ one PostgreSQL round trip doing no work (SELECT 1, autocommit)",
         lambda i: loadgen.get("/bench/ladder/select1")),
        ("+ one plain PostGIS nearest-20 statement instead, 3 km, ids and distances only",
         lambda i: loadgen.get(f"/bench/ladder/postgis?{points[i % len(points)]}&radius_m=3000")),
        ("GET /stations/nearby (the endpoint)", lambda i: loadgen.get(queries[i % len(queries)])),
        ("worker session + Flask-Limiter, per worker (two Redis round trips)", post("/bench/ladder/session")),
        ("+ one SELECT 1 on PostgreSQL", post("/bench/ladder/session-sql")),
    ]
    say(f"\n## The ladder: the least a nearby search or a check-in can cost here ({want:,} stations), "
        "16 connections\n")
    say("| rung | req/s | p50 ms | ratio to /livez (median of three pairs) | the three ratios | "
        "CPU per request (ms) | /livez beside it | ratio of the CPU totals |")
    say("|---|---|---|---|---|---|---|---|")
    stack.stop_server()
    stack.start_server("bench.ladder_app:app")
    try:
        for name, make in rungs:
            loadgen.run(stack.url, make, concurrency=CONC, duration=2)
            s, ratio, ratios, _ = paired(stack, make, args.duration)
            cpu, floor_cpu = sum(s["cpu"].values()), sum(s["floor_cpu"].values())
            say(f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {ratio:.2f} | "
                f"{', '.join(f'{r:.2f}' for r in ratios)} | {CpuMeter.format(s['cpu'])} | "
                f"{CpuMeter.format(s['floor_cpu'])} | {floor_cpu / cpu:.2f} |")
    finally:
        stack.stop_server()
        stack.start_server()


def _same_answers(service_url: str, peer_url: str, paths: list[str]) -> tuple[int, int, int]:
    """Each path asked of both servers → (identical, equal but for the order or the cut among stations at the
    same metre, total)."""
    import urllib.request

    def items(url: str) -> list[dict]:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())["items"]

    def groups(answer: list[dict]) -> list[tuple[int, list[str]]]:
        out: list[tuple[int, list[str]]] = []
        for item in answer:
            text = json.dumps(item, sort_keys=True)
            if out and out[-1][0] == item["distance_m"]:
                out[-1][1].append(text)
            else:
                out.append((item["distance_m"], [text]))
        return [(metres, sorted(texts)) for metres, texts in out]

    identical = ties = 0
    for path in paths:
        ours, theirs = items(service_url + path), items(peer_url + path)
        if ours == theirs:
            identical += 1
        elif len(ours) == len(theirs):
            a, b = groups(ours), groups(theirs)
            if [m for m, _ in a] == [m for m, _ in b] and a[:-1] == b[:-1]:
                ties += 1
    return identical, ties, len(paths)


def _alternate(stack: Stack, servers: list, make, seconds: float, rounds: int = 3) -> list[list[dict]]:
    """``rounds`` rounds, each running every server in turn for ``seconds`` → per round, one summary each."""
    out = []
    for _ in range(rounds):
        row_ = []
        for url, proc in servers:
            with CpuMeter(stack, proc) as cpu:
                s = loadgen.run(url, make, concurrency=CONC, duration=seconds, warmup=1).summary()
            s["cpu"] = cpu.per_request(int(s["requests"] * (1 + 1 / seconds)))
            s["share"] = cpu.worker_share()
            row_.append(s)
        out.append(row_)
    return out


BALANCED = 0.3  # a run counts as balanced when each of the two workers did at least this share of the work


def _balanced_ratio(rounds: list[list[dict]]) -> str:
    """The median service / peer ratio over the rounds in which both runs were balanced."""
    kept = [ours["rps"] / theirs["rps"] for ours, theirs in rounds
            if ours["share"] >= BALANCED and theirs["share"] >= BALANCED]
    return f"{statistics.median(kept):.2f} ({len(kept)} of {len(rounds)})" if kept else f"– (0 of {len(rounds)})"


def _cell(s: dict) -> str:
    return f"{s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f}"


def scenario_peer(stack: Stack, fl: dict, args) -> None:
    """The nearby search against the obvious PostGIS implementation (bench/peer_app.py), side by side.

    Both are served by gunicorn with the same settings, on the same database and data, and asked the
    same queries; the runs alternate (service, peer, three times) so that the machine's drift falls on
    both alike.  The ratio is the service's req/s over the peer's, the median of the three rounds.
    """
    peer, peer_url = stack.start_other("bench.peer_app:app")
    servers = [(stack.url, stack.gunicorn), (peer_url, peer)]
    rng = random.Random(3)
    queries = [data.nearby_query(rng) for _ in range(5000)]
    each = args.duration / 3
    say("\n## Nearby search against the obvious PostGIS implementation (bench/peer_app.py), 16 connections")
    say("Both under `gunicorn -c config/gunicorn.conf.py` (2 workers × 4 threads) on the same PostgreSQL and "
        f"Redis; runs of {each:.0f} s alternate service, peer, three times. " + QUERY_MIX)
    say("| stations | round | service req/s | p50 ms | p99 ms | peer req/s | p50 ms | p99 ms | service / peer | "
        "CPU ms per request, service | peer | smaller worker's share, service | peer |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rounds = floor_rounds = _alternate(stack, servers, lambda i: loadgen.get("/livez"), each)
    floor_ratios = []
    for n, (ours, theirs) in enumerate(rounds, start=1):
        floor_ratios.append(ours["rps"] / theirs["rps"])
        say(f"| /livez (bare Flask for the peer) | {n} | {_cell(ours)} | {_cell(theirs)} | {floor_ratios[-1]:.2f} | "
            f"{sum(ours['cpu'].values()):.2f} | {sum(theirs['cpu'].values()):.2f} | {ours['share']:.2f} | "
            f"{theirs['share']:.2f} |")
    curve = []
    try:
        for target in scale_steps(stack, args, (10_000, 50_000, 200_000, 1_000_000)):
            load_s = grow_stations(stack, target)
            settle(stack)
            for url, _ in servers:
                loadgen.run(url, lambda i: loadgen.get(queries[i % len(queries)]), concurrency=CONC, duration=2)
            same = _same_answers(stack.url, peer_url, queries[:300])
            rounds = _alternate(stack, servers, lambda i: loadgen.get(queries[i % len(queries)], "nearby"), each)
            ratios = []
            for n, (ours, theirs) in enumerate(rounds, start=1):
                ratios.append(ours["rps"] / theirs["rps"])
                say(f"| {target:,} | {n} | {_cell(ours)} | {_cell(theirs)} | {ratios[-1]:.2f} | "
                    f"{sum(ours['cpu'].values()):.2f} | {sum(theirs['cpu'].values()):.2f} | {ours['share']:.2f} | "
                    f"{theirs['share']:.2f} |")
            median = sorted(range(len(ratios)), key=lambda k: ratios[k])[len(ratios) // 2]
            curve.append((target, load_s, rounds[median], statistics.median(ratios), ratios, same, rounds))
    finally:
        stop(peer)
    say("\nSide by side (the median round of each size; p99/p50 is the service's):\n")
    say("| stations | service req/s | p50 ms | p99 ms | p99/p50 | peer req/s | p50 ms | p99 ms | "
        "service / peer (median) | the three ratios | over the balanced rounds | same answers (identical + "
        "equal but for ties at the same metre, of 300) |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    say(f"| /livez | | | | | | | | {statistics.median(floor_ratios):.2f} | "
        f"{', '.join(f'{r:.2f}' for r in floor_ratios)} | {_balanced_ratio(floor_rounds)} | |")
    for target, load_s, (ours, theirs), ratio, ratios, (identical, ties, total), rounds in curve:
        say(f"| {target:,} (COPY {load_s:.0f} s) | {_cell(ours)} | {ours['p99_ms'] / ours['p50_ms']:.1f} | "
            f"{_cell(theirs)} | {ratio:.2f} | {', '.join(f'{r:.2f}' for r in ratios)} | "
            f"{_balanced_ratio(rounds)} | {identical} + {ties} of {total} |")
    say(f"\n(Balanced: each of the two workers did at least {BALANCED:.0%} of the work in both runs of the round.)")
    say("\nCPU ms per request in those rounds, service: "
        + "; ".join(f"{t:,}: {CpuMeter.format(o['cpu'])}" for t, _, (o, _p), *_ in curve))
    say("CPU ms per request, peer: "
        + "; ".join(f"{t:,}: {CpuMeter.format(p['cpu'])}" for t, _, (_o, p), *_ in curve))


SCENARIOS = {"peer": scenario_peer, "nearby": scenario_nearby, "checkin": scenario_checkin, "booking": scenario_booking,
             "queue": scenario_queue, "annual": scenario_annual, "mix": scenario_mix, "soak": scenario_soak,
             "roundtrip": scenario_roundtrip, "ladder": scenario_ladder}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per closed-loop measurement")
    parser.add_argument("--stations", type=int, default=1_000_000)
    parser.add_argument("--roster", type=int, default=10_000)
    parser.add_argument("--bookers", type=int, default=2_000)
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--checkins-year", type=int, default=1_000_000)
    parser.add_argument("--soak", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.stations, args.roster, args.bookers = 5.0, 20_000, 2_000, 500
        args.applications, args.checkins_year, args.soak = 10_000, 50_000, 30.0
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    with Stack(workers=2, threads=4) as stack:
        stack.start_server()
        fl = floor(stack, args.duration)
        say(f"# Benchmarks — {dt.date.today()} — {machine()}")
        say("gunicorn -c config/gunicorn.conf.py (APP_ENV=production, 2 workers × 4 threads), PostgreSQL and Redis on "
            "loopback, load from bench/loadgen.py (asyncio keep-alive connections) on the same machine.\n")
        say(loadgen.TABLE_HEAD)
        row("GET /livez (the floor)", fl, fl["rps"])
        for name in chosen:
            SCENARIOS[name](stack, fl, args)
        after = floor(stack, args.duration)
        say("\n/livez again at the end: " + loadgen.format_row("GET /livez", after, fl["rps"]))
    if args.out:
        Path(args.out).write_text("\n".join(OUT) + "\n")


if __name__ == "__main__":
    main()
