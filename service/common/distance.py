"""Distances on the earth's surface: one formula for the whole service."""
from __future__ import annotations

import math

# The mean radius of the WGS 84 ellipsoid, (2a + b) / 3: the sphere on which PostGIS measures geography
# distances without the spheroid (``<->``, ``ST_DWithin(…, false)``), so that the nearby search on
# PostgreSQL and on SQLite, and a breakfast point's geofence, measure alike.
EARTH_RADIUS_M = 6371008.771415059


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres on that sphere."""
    lat1r, lat2r = math.radians(lat1), math.radians(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    v = math.sin(math.radians(lng2 - lng1) / 2)
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v)))
