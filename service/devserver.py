"""``make run``: the development server and one notification worker beside it."""
from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys

from service import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = create_app()  # starts the embedded Redis before the worker shares it
    worker = None
    if importlib.util.find_spec("service.notifications.commands") is not None:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "work"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)


if __name__ == "__main__":
    main()
