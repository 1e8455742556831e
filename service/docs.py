"""Swagger UI assets served by the service itself (offline deployments: no CDN)."""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

blp = Blueprint("docs_assets", __name__)


@blp.get("/api/v1/docs/assets/<path:filename>")
def swagger_asset(filename: str):
    import swagger_ui_bundle

    if filename not in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                        "favicon-32x32.png", "favicon-16x16.png"):
        abort(404)
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
