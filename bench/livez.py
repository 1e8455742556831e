"""The /livez floor: gunicorn (2 workers), 16 concurrent keep-alive connections.

Every later figure is a ratio against this one.
    .venv/bin/python bench/livez.py [--duration 10]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.harness import Stack, machine  # noqa: E402


def measure_floor(stack: Stack, duration: float = 10.0, concurrency: int = 16) -> dict:
    res = loadgen.run(stack.url, lambda i: loadgen.get("/livez"), concurrency=concurrency, duration=duration,
                      warmup=1.0)
    return res.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    with Stack(workers=2) as stack:
        stack.start_server()
        floor = measure_floor(stack, args.duration)
        print(f"# /livez floor — {dt.date.today()} — {machine()}")
        print("gunicorn: 2 workers × 4 threads (gthread); 16 concurrent connections")
        print(loadgen.TABLE_HEAD)
        print(loadgen.format_row("GET /livez", floor, floor["rps"]))


if __name__ == "__main__":
    main()
