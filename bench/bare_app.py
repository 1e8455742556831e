"""A bare Flask app answering ``/livez`` as the service does (``jsonify(status="ok")``) and nothing else:
the floor of Flask itself under the same gunicorn, for ``bench/livez.py``.  The service never imports this module."""
from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/livez")
def livez():
    return jsonify(status="ok")
