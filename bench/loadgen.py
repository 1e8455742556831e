"""A lean HTTP/1.1 keep-alive load generator on asyncio (no dependencies).

Each of ``concurrency`` connections sends requests one after another for
``duration`` seconds (or until ``total`` requests); a request is produced by
``make_request(i) -> (method, path, headers, body_bytes, label)``.  Latency is
measured per request; figures are grouped by label.

It is plain sockets rather than a client library so that the generator costs
the 2-core machine as little CPU as possible and the server's figures are
what is measured.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    statuses: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    bodies: dict = field(default_factory=lambda: defaultdict(list))
    elapsed: float = 0.0
    errors: int = 0

    def summary(self, label: str | None = None) -> dict:
        labels = [label] if label else list(self.latencies)
        lats = sorted(x for lb in labels for x in self.latencies[lb])
        statuses: dict[int, int] = defaultdict(int)
        for lb in labels:
            for k, v in self.statuses[lb].items():
                statuses[k] += v
        n = len(lats)
        if not n:
            return {"requests": 0, "rps": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "statuses": {}}
        return {
            "requests": n,
            "rps": n / self.elapsed if self.elapsed else 0.0,
            "p50_ms": lats[n // 2] * 1000,
            "p95_ms": lats[min(n - 1, int(n * 0.95))] * 1000,
            "p99_ms": lats[min(n - 1, int(n * 0.99))] * 1000,
            "mean_ms": statistics.fmean(lats) * 1000,
            "statuses": dict(sorted(statuses.items())),
        }


async def _read_response(reader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    chunked = False
    close = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and "close" in value.lower():
            close = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = await reader.readexactly(length) if length else b""
    if close:
        raise _Closed(status, body)
    return status, body


def encode(host: str, port: int, method: str, path: str, headers: dict | None, body: bytes | None) -> bytes:
    """One HTTP/1.1 keep-alive request as bytes."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    body = body or b""
    if body or method in ("POST", "PATCH", "PUT"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Closed(Exception):
    def __init__(self, status, body):
        self.status, self.body = status, body


async def _worker(host, port, make_request, counter, deadline, total, result, keep_bodies):
    reader = writer = None
    while time.perf_counter() < deadline:
        i = next(counter)
        if total is not None and i >= total:
            break
        method, path, headers, body, label = make_request(i)
        raw = encode(host, port, method, path, headers, body)
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(raw)
            await writer.drain()
            status, resp_body = await _read_response(reader)
        except _Closed as closed:
            status, resp_body = closed.status, closed.body
            writer.close()
            reader = writer = None
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            result.statuses[label][0] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        elapsed = time.perf_counter() - started
        result.latencies[label].append(elapsed)
        result.statuses[label][status] += 1
        if keep_bodies and label in keep_bodies:
            result.bodies[label].append((status, resp_body))
    if writer is not None:
        writer.close()


def run(url: str, make_request, concurrency: int = 16, duration: float = 10.0, total: int | None = None,
        keep_bodies: set[str] | None = None, warmup: float = 0.0) -> Result:
    """Drive the server at ``url`` (``http://127.0.0.1:8000``) and return the figures."""
    import itertools

    host, port = url.split("://", 1)[1].rstrip("/").split(":")
    port = int(port)

    async def main():
        if warmup:
            wr = Result()
            wc = itertools.count()
            dl = time.perf_counter() + warmup
            await asyncio.gather(*[_worker(host, port, make_request, wc, dl, None, wr, None)
                                   for _ in range(concurrency)])
        result = Result()
        counter = itertools.count()
        deadline = time.perf_counter() + duration
        started = time.perf_counter()
        await asyncio.gather(*[_worker(host, port, make_request, counter, deadline, total, result, keep_bodies)
                               for _ in range(concurrency)])
        result.elapsed = time.perf_counter() - started
        return result

    return asyncio.run(main())


def get(path: str, label: str | None = None, headers: dict | None = None):
    return ("GET", path, headers or {}, b"", label or path)


def post_json(path: str, payload, label: str | None = None, headers: dict | None = None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return ("POST", path, h, json.dumps(payload).encode(), label or path)


def format_row(name: str, s: dict, floor_rps: float | None = None, ratio: float | None = None) -> str:
    if ratio is None and floor_rps:
        ratio = s["rps"] / floor_rps
    ratio = f"{ratio:.2f}" if ratio is not None else "-"
    p50 = f"{s['p50_ms']:.1f}" if s.get("p50_ms") is not None else "-"
    p95 = f"{s['p95_ms']:.1f}" if s.get("p95_ms") is not None else "-"
    p99 = f"{s['p99_ms']:.1f}" if s.get("p99_ms") is not None else "-"
    errors = sum(v for k, v in s.get("statuses", {}).items() if k == 0 or k >= 500)
    return (f"| {name} | {s['requests']} | {s['rps']:.0f} | {p50} | {p95} | {p99} | {ratio} | {errors} | "
            f"{json.dumps(s.get('statuses', {}))} |")


TABLE_HEAD = ("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | ratio to /livez | errors (5xx/conn) "
              "| statuses |\n"
              "|---|---|---|---|---|---|---|---|---|")
