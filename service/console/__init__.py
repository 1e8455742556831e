"""The staff console under ``/console/``: server-rendered pages over the feature services.

``blp`` is the blueprint the app factory registers; each section of the
console is a nested blueprint of its own module.  The framework (sign-in,
CSRF, role gates, errors) is in ``core``.
"""
from __future__ import annotations

import redis.exceptions
import sqlalchemy.exc
from flask import Blueprint
from werkzeug.exceptions import HTTPException

from service import errors
from service.console import account, breakfast, core, enrollment, home, imports, legal_aid, reports, stations
from wechat.errors import WeChatError

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static")

for _section in (account, home, enrollment, stations, legal_aid, breakfast, imports, reports):
    blp.register_blueprint(_section.bp)

blp.before_request(core.check_csrf)
blp.after_request(core.no_store)
blp.context_processor(core.template_context)
blp.add_app_template_global(core.csrf_token, "csrf_token")  # used by the imported form macros
blp.add_app_template_global(core.local_time, "local_time")
blp.register_error_handler(errors.ServiceError, core.handle_service_error)
blp.register_error_handler(HTTPException, core.handle_http_error)
# Outages and bugs: the API's handlers (log, roll back, message), shown as a page.
for _kind, _handler in ((redis.exceptions.ConnectionError, errors.handle_redis_error),
                        (redis.exceptions.TimeoutError, errors.handle_redis_error),
                        (sqlalchemy.exc.DBAPIError, errors.handle_database_error),
                        (WeChatError, errors.handle_wechat_error),
                        (Exception, errors.handle_unexpected)):
    blp.register_error_handler(_kind, core.as_page(_handler))
