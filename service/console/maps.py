"""The console's maps: Leaflet served by the service itself (offline deployments: no CDN),
the operator's tiles, and the points a page puts on its map.

Leaflet comes from the pinned XStatic-Leaflet package; the tiles from
``MAP_TILE_URL`` (GCJ-02 tiles, as mainland maps are, matching the stored
coordinates).  Without tiles a map still shows its points, on a plain
background with a scale.  The page's script is ``static/map.js``.
"""
from __future__ import annotations

import xstatic.pkg.leaflet as leaflet
from flask import abort, current_app, send_from_directory, url_for

from service.console import core

bp = core.child("maps", __name__)

LEAFLET_FILES = ("leaflet.js", "leaflet.css", "images/marker-icon.png", "images/marker-icon-2x.png",
                 "images/marker-shadow.png", "images/layers.png", "images/layers-2x.png")


@bp.route("/static/leaflet/<path:filename>")
def leaflet_asset(filename: str):
    """Leaflet's script, stylesheet and marker images."""
    if filename not in LEAFLET_FILES:
        abort(404)
    return send_from_directory(leaflet.BASE_DIR, filename, max_age=86400)


def tiles() -> dict:
    """The map's tile settings, as the map element's data attributes."""
    cfg = current_app.config
    return {"url": cfg["MAP_TILE_URL"], "subdomains": cfg["MAP_TILE_SUBDOMAINS"],
            "attribution": cfg["MAP_TILE_ATTRIBUTION"]}


def markers(items, endpoint: str, id_arg: str) -> list[dict]:
    """Records with ``id, name, lat, lng`` (and ``code``) as markers linking to their edit page."""
    return [{"id": item.id, "name": item.name, "code": getattr(item, "code", None), "lat": item.lat, "lng": item.lng,
             "url": url_for(endpoint, **{id_arg: item.id})} for item in items]
