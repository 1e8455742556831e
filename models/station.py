"""Tables of the stations feature."""
from __future__ import annotations

from models.base import JSONType, UTCDateTime, db  # noqa: F401
