"""Memory of the gunicorn workers: the app loaded in each worker against loaded once
in the master before forking (``GUNICORN_PRELOAD``), side by side in one run.

Four workers, a short mixed load (probes, public pages, the nearby search, worker
logins) so that every worker has served requests, then each worker's RSS and PSS
(proportional set size: a page shared by n processes counts 1/n to each; PSS is
what the workers really cost the machine together).

    .venv/bin/python bench/memory.py [--seconds 8]
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.harness import Stack, machine  # noqa: E402

WORKERS = 4
_codes = itertools.count()  # fresh login codes across both runs (the fake WeChat takes each once)


def _load(stack: Stack, seconds: float) -> int:
    paths = ["/livez", "/readyz", "/api/v1/organizations", "/api/v1/legal-aid/topics",
             "/api/v1/stations/nearby?lat=32.394&lng=119.413&radius_m=5000"]

    def request(i: int):
        if i % 7 == 0:
            return loadgen.post_json("/api/v1/auth/wechat/login", {"code": f"dev-mem{next(_codes)}"}, label="login")
        return loadgen.get(paths[i % len(paths)], label="get")

    result = loadgen.run(stack.url, request, concurrency=16, duration=seconds, warmup=1.0)
    return sum(s["requests"] for s in (result.summary(label) for label in ("get", "login")))


def _workers(stack: Stack) -> list[dict]:
    master = psutil.Process(stack.gunicorn.pid)
    out = []
    for child in master.children():
        info = child.memory_full_info()
        out.append({"pid": child.pid, "rss": info.rss / 2**20, "pss": info.pss / 2**20, "uss": info.uss / 2**20})
    return out


def measure(stack: Stack, preload: bool, seconds: float) -> dict:
    stack.env["GUNICORN_PRELOAD"] = "true" if preload else "false"
    stack.start_server()
    try:
        served = _load(stack, seconds)
        workers = _workers(stack)
        master = psutil.Process(stack.gunicorn.pid).memory_full_info()
    finally:
        stack.stop_server()
    return {"served": served, "workers": workers, "master_pss": master.pss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    with Stack(workers=WORKERS) as stack:
        rows = {"app loaded in each worker": measure(stack, False, args.seconds),
                "app loaded once, workers forked": measure(stack, True, args.seconds)}
    print(f"# gunicorn worker memory — {dt.date.today()} — {machine()}")
    print(f"{WORKERS} workers × 4 threads, {args.seconds:g} s of mixed load (MiB)\n")
    print("| shape | requests | RSS per worker (median) | PSS per worker (median) | USS per worker (median) "
          "| master PSS | workers' PSS together |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        med = {k: statistics.median(w[k] for w in r["workers"]) for k in ("rss", "pss", "uss")}
        total = sum(w["pss"] for w in r["workers"])
        print(f"| {name} | {r['served']} | {med['rss']:.0f} | {med['pss']:.0f} | {med['uss']:.0f} "
              f"| {r['master_pss']:.0f} | {total:.0f} |")


if __name__ == "__main__":
    main()
