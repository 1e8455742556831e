"""Tables of the legal_aid feature."""
from __future__ import annotations

from models.base import JSONType, UTCDateTime, db  # noqa: F401
