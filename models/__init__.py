"""Tables, one module per aggregate.  Imports nothing from ``service/``."""
import models.arrears  # noqa: F401,E402
import models.breakfast  # noqa: F401,E402
import models.enrollment  # noqa: F401,E402
import models.imports  # noqa: F401,E402
import models.legal_aid  # noqa: F401,E402
import models.report  # noqa: F401,E402
import models.station  # noqa: F401,E402
from models.audit import AuditLog  # noqa: F401
from models.base import Base, JSONType, UTCDateTime, db  # noqa: F401
from models.notification import Notification  # noqa: F401
from models.organization import Organization  # noqa: F401
from models.user import StaffRole, StaffUser, Worker  # noqa: F401
