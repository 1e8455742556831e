"""Liveness and readiness probes."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from models import db
from service.extensions import limiter, redis_store

blp = Blueprint("health", __name__)


@blp.get("/livez")
@limiter.exempt
def livez():
    """Always 200, no I/O: the process is up."""
    return jsonify(status="ok")


@blp.get("/readyz")
@limiter.exempt
def readyz():
    """200 when the database and Redis answer; 503 naming which does not."""
    down = []
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:
        db.session.rollback()
        down.append("database")
    try:
        redis_store.client.ping()
    except Exception:
        down.append("redis")
    if down:
        names = {"database": "数据库", "redis": "Redis"}
        body = {"error": {"code": "not_ready",
                          "message": "服务未就绪：" + "、".join(names[d] for d in down) + " 无法连接",
                          "details": {"unavailable": down}}}
        return jsonify(body), 503
    return jsonify(status="ready", database="ok", redis="ok")
