"""The production-shaped stack a benchmark runs against, all on loopback.

``Stack`` starts a throwaway PostgreSQL cluster (with production's durability
settings: fsync and synchronous commit on), a real Redis, the fake
WeChat in its own process, migrates, and serves the app with gunicorn under
the production profile (``APP_ENV=production``: real secrets, the fake WeChat
reached over HTTP like the real one).  ``stack.app`` is a Flask app on the
same database and Redis for seeding data in-process.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis as redis_lib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.servers import PostgresServer, RedisServer, free_port, wait_port  # noqa: E402

PY = sys.executable


class Stack:
    def __init__(self, workers: int = 2, threads: int = 4, rate_limits: bool = True):
        self.workers = workers
        self.threads = threads
        self.rate_limits = rate_limits
        self.procs: list[subprocess.Popen] = []
        self.gunicorn: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.pg = PostgresServer(durable=True).start()
        self.database_url = self.pg.create_database("bench")
        self.redis_server = RedisServer().start(appendonly=False)
        self.redis = redis_lib.Redis.from_url(self.redis_server.url)
        self.fake_port = free_port()
        self.procs.append(subprocess.Popen(
            [PY, "-c", _FAKE_MAIN, str(self.fake_port), self.redis_server.url], cwd=ROOT))
        wait_port(self.fake_port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update({
            "APP_ENV": "production",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_server.url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PII_KEY": secrets.token_urlsafe(32),
            "QR_KEY": secrets.token_urlsafe(32),
            "WECHAT_APPID": "wxbench000000000",
            "WECHAT_SECRET": secrets.token_urlsafe(24),
            "WECHAT_API_BASE": f"http://127.0.0.1:{self.fake_port}/",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            "GUNICORN_LOGLEVEL": "warning",
            # the kernel spreads the load generator's keep-alive connections over the workers; without it
            # the workers race to accept them and, about one run in two, one worker gets all 16
            "GUNICORN_REUSE_PORT": "true",
            "LOG_LEVEL": "WARNING",
        })
        if self.rate_limits:
            # Enabled (so their cost is measured) but high: one client address drives all the load.
            self.env.update({"RATELIMIT_LOGIN": "1000000 per minute", "RATELIMIT_NEARBY": "1000000 per minute",
                             "RATELIMIT_CHECKIN": "1000000 per minute"})
        else:
            self.env["RATELIMIT_ENABLED"] = "false"
        os.environ.update({k: v for k, v in self.env.items() if not k.startswith("GUNICORN_")})
        subprocess.run([PY, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, stdout=subprocess.DEVNULL)
        from service import create_app
        self.app = create_app(env="production")
        return self

    def start_server(self, app: str = "wsgi:app") -> None:
        self.gunicorn = subprocess.Popen(
            [PY, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", app], cwd=ROOT, env=self.env)
        wait_port(self.port, timeout=30)
        import urllib.request
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/readyz", timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)

    def stop_server(self) -> None:
        stop(self.gunicorn)
        self.gunicorn = None

    def start_other(self, app: str, ready_path: str = "/livez") -> tuple[subprocess.Popen, str]:
        """Another app under the same gunicorn settings and environment, on a port of its own → (process, URL)."""
        import urllib.request

        port = free_port()
        proc = subprocess.Popen([PY, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", app], cwd=ROOT,
                                env={**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}"})
        self.procs.append(proc)
        wait_port(port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + ready_path, timeout=2).read()
                break
            except Exception:
                time.sleep(0.1)
        return proc, url

    def __exit__(self, *exc) -> None:
        self.stop_server()
        for p in self.procs:
            stop(p)
        self.redis_server.stop()
        self.pg.stop()

    # -- measurements ------------------------------------------------------------
    def worker_rss_mb(self) -> dict[int, float]:
        """Resident memory of each gunicorn worker, in MiB."""
        import psutil

        if not self.gunicorn:
            return {}
        master = psutil.Process(self.gunicorn.pid)
        return {c.pid: c.memory_info().rss / 2**20 for c in master.children()}


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


class CpuMeter:
    """CPU time per request of each part of the stack during one run, in ms.

    Throughput on shared cores drifts with the machine; the CPU a request
    costs each process drifts much less, so it is printed beside the figures:
    ``with CpuMeter(stack) as cpu: … ; cpu.per_request(n)``.  Processes that
    start during the run (new PostgreSQL backends) count from zero.  ``server``:
    the gunicorn master measured (the stack's own by default).
    """

    def __init__(self, stack: Stack, server: subprocess.Popen | None = None):
        self.stack = stack
        self.server = server

    def _groups(self) -> dict[str, list]:
        import psutil

        groups: dict[str, list] = {"gunicorn": [], "redis": [], "postgres": [], "load generator": [psutil.Process()]}
        server = self.server or self.stack.gunicorn
        if server:
            master = psutil.Process(server.pid)
            groups["gunicorn"] = [master, *master.children()]
        groups["redis"] = [psutil.Process(self.stack.redis_server.proc.pid)]
        try:
            postmaster = psutil.Process(int(Path(self.stack.pg.data, "postmaster.pid").read_text().split()[0]))
            groups["postgres"] = [postmaster, *postmaster.children()]
        except (OSError, ValueError, psutil.Error):
            pass
        return groups

    def _times(self) -> dict[str, dict[int, float]]:
        import psutil

        out: dict[str, dict[int, float]] = {}
        for name, procs in self._groups().items():
            out[name] = {}
            for p in procs:
                try:
                    t = p.cpu_times()
                    out[name][p.pid] = t.user + t.system
                except psutil.Error:
                    pass
        return out

    def __enter__(self):
        self.before = self._times()
        return self

    def __exit__(self, *exc):
        self.after = self._times()

    def worker_share(self) -> float:
        """The smallest share of the gunicorn workers' CPU that one worker took during the run: 0.5 when
        the two workers served alike, near 0 when one worker held every keep-alive connection (the
        workers race to accept them, and a worker serving all 16 alone does half the work at almost
        twice the CPU per request, its threads contending for the GIL)."""
        server = self.server or self.stack.gunicorn
        if not server:
            return 0.0
        master = server.pid
        used = [t - self.before.get("gunicorn", {}).get(pid, 0.0)
                for pid, t in self.after.get("gunicorn", {}).items() if pid != master]
        total = sum(used)
        return min(used) / total if used and total > 0 else 0.0

    def per_request(self, requests: int) -> dict[str, float]:
        n = max(requests, 1)
        return {name: sum(t - self.before.get(name, {}).get(pid, 0.0) for pid, t in pids.items()) / n * 1000
                for name, pids in self.after.items()}

    @staticmethod
    def format(per: dict[str, float]) -> str:
        return ", ".join(f"{name} {ms:.2f}" for name, ms in per.items()) + f" (all {sum(per.values()):.2f})"


class RssSampler:
    """Samples the workers' RSS in a thread; ``peak`` per worker at the end."""

    def __init__(self, stack: Stack, every: float = 0.5):
        import threading

        self.stack, self.every = stack, every
        self.peak: dict[int, float] = {}
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss = self.stack.worker_rss_mb()
            for pid, mb in rss.items():
                self.peak[pid] = max(self.peak.get(pid, 0), mb)
            if rss:
                self.samples.append(sum(rss.values()) / len(rss))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


_FAKE_MAIN = """
import sys, time, redis
from wechat.fake import make_server
srv = make_server(redis.Redis.from_url(sys.argv[2]), port=int(sys.argv[1]))
while True:
    time.sleep(3600)
"""


def machine() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            "PostgreSQL 15 with PostGIS 3, Redis 6.2")
