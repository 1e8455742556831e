"""``make run`` as a newcomer uses it: started with no environment at all, stopped
with Ctrl-C or SIGTERM, it leaves nothing running behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import pytest
import requests

from tests.support.servers import ROOT, free_port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_development_server_stops_everything_it_started(sig):
    instance = tempfile.mkdtemp(prefix="test-devserver-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "DATABASE", "REDIS", "WECHAT"))}
    env["INSTANCE_PATH"] = instance
    port = free_port()
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([sys.executable, "-m", "service.devserver", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = server.stdout.readline()
        found = re.search(r"embedded Redis: pid (\d+)", first)
        assert found, first
        redis_pid = int(found.group(1))
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the development server did not come up"
            time.sleep(0.1)
        children = [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
        assert children, "no notification worker beside the server"
        assert psutil.pid_exists(redis_pid)
        server.send_signal(sig)
        out, _ = server.communicate(timeout=60)
        assert "stopped" in out
        gone = lambda pid: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # noqa: E731
        deadline = time.monotonic() + 15
        while not (gone(redis_pid) and all(gone(pid) for pid in children)):
            assert time.monotonic() < deadline, "something the development server started is still running"
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            server.kill()
