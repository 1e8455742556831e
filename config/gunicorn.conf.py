"""gunicorn settings: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (GUNICORN_*), so one file
serves a 2-core box and a large one.
"""
import multiprocessing
import os
import sys
import tempfile

from config import ConfigError, load_config

# /metrics adds up the samples of every worker: each writes them under this
# directory (emptied at every start), and a worker that exits is marked dead.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="service-metrics-")
# (set before anything imports prometheus_client: it picks its storage at import)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# SO_REUSEPORT: each worker listens on a socket of its own and the kernel spreads
# new connections across them, instead of the workers racing to accept on one
# socket (where one worker can end up holding every keep-alive connection).
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "false").lower() in ("1", "true", "yes", "on")
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = 100
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The app is loaded once in the master and the workers are forked from it, so
# that its code and data are shared between workers (copy-on-write) rather than
# loaded again by each (GUNICORN_PRELOAD=false loads it in each worker).  No
# connection is made while loading; post_fork below makes sure none crosses
# the fork all the same.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes", "on")


if os.environ.get("LOG_FORMAT") == "json":
    from service.common.logjson import GUNICORN_ACCESS_FORMAT, gunicorn_logconfig

    access_log_format = GUNICORN_ACCESS_FORMAT
    logconfig_dict = gunicorn_logconfig()

def post_fork(server, worker):
    """A forked worker starts with empty database pools: SQLAlchemy's documented way
    (dispose without closing the parent's connections).  redis-py resets its pool by
    itself when it sees a new process id."""
    if not preload_app:
        return
    from models import db
    from wsgi import app

    with app.app_context():
        db.engine.dispose(close=False)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# The configuration is checked here, when gunicorn reads this file and before it
# logs or forks anything: a bad or missing setting is one line on stderr and exit
# status 2, not a worker traceback repeated for every boot attempt.
try:
    load_config()
except ConfigError as err:
    sys.stderr.write(f"configuration error: {err}\n")
    sys.exit(2)
