"""The /livez floor: gunicorn (2 workers), 16 concurrent keep-alive connections, beside a bare Flask app.

Every later figure is a ratio against this one.  The service's /livez and a bare
Flask app's (``bench/bare_app.py``, same gunicorn settings) are run in turn,
three rounds, so that the machine's drift falls on both alike; the ratio is the
median of the rounds, printed with the CPU each request costs and, because the
two workers race to accept the 16 keep-alive connections, the share of the work
the less busy worker did (near 0: one worker served them all, at half the
throughput); the median over the rounds in which both runs were balanced too.
    .venv/bin/python bench/livez.py [--duration 10]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.harness import CpuMeter, Stack, machine, stop  # noqa: E402
from bench.suite import BALANCED  # noqa: E402


def measure_floor(stack: Stack, duration: float = 10.0, concurrency: int = 16) -> dict:
    res = loadgen.run(stack.url, lambda i: loadgen.get("/livez"), concurrency=concurrency, duration=duration,
                      warmup=1.0)
    return res.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with Stack(workers=2) as stack:
        stack.start_server()
        bare, bare_url = stack.start_other("bench.bare_app:app")
        servers = [("service", stack.url, stack.gunicorn), ("bare Flask", bare_url, bare)]
        print(f"# /livez floor — {dt.date.today()} — {machine()} — load average "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print("gunicorn: 2 workers × 4 threads (gthread); 16 concurrent connections; "
              f"runs of {args.duration:.0f} s alternate service, bare Flask\n")
        print("| round | service req/s | p50 ms | p99 ms | CPU ms/request | smaller worker's share | bare Flask req/s | "
              "p50 ms | p99 ms | CPU ms/request | smaller worker's share | service / bare |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        ratios, cpu_ratios, balanced = [], [], []
        try:
            for n in range(1, args.rounds + 1):
                cells = []
                for _name, url, proc in servers:
                    with CpuMeter(stack, proc) as cpu:
                        s = loadgen.run(url, lambda i: loadgen.get("/livez"), concurrency=16,
                                        duration=args.duration, warmup=1.0).summary()
                    s["cpu"] = cpu.per_request(int(s["requests"] * (1 + 1 / args.duration)))
                    s["share"] = cpu.worker_share()
                    cells.append(s)
                ours, theirs = cells
                ratios.append(ours["rps"] / theirs["rps"])
                cpu_ratios.append(sum(theirs["cpu"].values()) / sum(ours["cpu"].values()))
                if min(ours["share"], theirs["share"]) >= BALANCED:
                    balanced.append((ratios[-1], cpu_ratios[-1]))
                print(f"| {n} | {ours['rps']:.0f} | {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f} | "
                      f"{sum(ours['cpu'].values()):.3f} | {ours['share']:.2f} | {theirs['rps']:.0f} | "
                      f"{theirs['p50_ms']:.1f} | {theirs['p99_ms']:.1f} | {sum(theirs['cpu'].values()):.3f} | "
                      f"{theirs['share']:.2f} | {ratios[-1]:.2f} |", flush=True)
        finally:
            stop(bare)
        print(f"\nservice / bare Flask, req/s: {statistics.median(ratios):.2f} (median of "
              f"{', '.join(f'{r:.2f}' for r in ratios)}); by CPU per request (bare / service): "
              f"{statistics.median(cpu_ratios):.2f}; load average now "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        if balanced:
            print(f"over the {len(balanced)} rounds where each worker did at least {BALANCED:.0%} of the work in both "
                  f"runs: req/s {statistics.median(r for r, _ in balanced):.2f}, by CPU per request "
                  f"{statistics.median(c for _, c in balanced):.2f}")
        else:
            print("no round had both runs balanced between the two workers")


if __name__ == "__main__":
    main()
