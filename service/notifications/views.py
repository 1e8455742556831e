"""The notification feature has no HTTP endpoints: the outbox is filled by other
features' transactions and emptied by ``flask notifications work``."""

from service.extensions import Blueprint
from service.notifications import outbox  # noqa: F401  (registers the outbox's eraser)

blp = Blueprint("notifications", __name__, url_prefix="/api/v1")
