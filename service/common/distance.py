"""Distances on the earth's surface: one formula for the whole service."""
from __future__ import annotations

import math

# The radius of Redis' GEO commands (geohash_helper.c), so that the station index,
# the database's fallback answer and a breakfast point's geofence measure alike.
EARTH_RADIUS_M = 6372797.560856


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (GEODIST's formula and radius)."""
    lat1r, lat2r = math.radians(lat1), math.radians(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    v = math.sin(math.radians(lng2 - lng1) / 2)
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v)))
