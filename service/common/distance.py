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


# A generous box around China's territory (its islands in the South China Sea included): lat, lng.
CHINA_LAT = (3.8, 53.6)
CHINA_LNG = (73.5, 135.1)


def in_china(lat: float, lng: float) -> bool:
    """Within the generous box around China (not a border: (0, 0) and swapped coordinates fall outside)."""
    return CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LNG[0] <= lng <= CHINA_LNG[1]


def looks_swapped(lat: float, lng: float) -> bool:
    """Outside China as given, inside it with latitude and longitude exchanged: a clerk's common slip."""
    return not in_china(lat, lng) and in_china(lng, lat)
