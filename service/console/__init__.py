"""The staff console under ``/console/``: server-rendered pages over the feature services.

``blp`` is the blueprint the app factory registers; each section of the
console is a nested blueprint of its own module.  ``dev_blp`` (what the fake
WeChat received) is registered by the factory in development only.  The
framework (sign-in, CSRF, role gates, errors) is in ``core``.
"""
from __future__ import annotations

import redis.exceptions
import sqlalchemy.exc
from flask import Blueprint
from werkzeug.exceptions import HTTPException

from service import errors
from service.console import (
    account,
    arrears,
    breakfast,
    core,
    devtools,
    enrollment,
    home,
    imports,
    legal_aid,
    maps,
    reports,
    stations,
)
from wechat.errors import WeChatError

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static")
dev_blp = devtools.bp

for _section in (account, home, enrollment, stations, legal_aid, breakfast, imports, arrears, reports, maps):
    blp.register_blueprint(_section.bp)

blp.add_app_template_global(core.csrf_token, "csrf_token")  # used by the imported form macros
blp.add_app_template_global(core.local_time, "local_time")
for _console in (blp, dev_blp):
    _console.before_request(core.check_csrf)
    _console.after_request(core.no_store)
    _console.context_processor(core.template_context)
    _console.register_error_handler(errors.ServiceError, core.handle_service_error)
    _console.register_error_handler(HTTPException, core.handle_http_error)
    # Outages and bugs: the API's handlers (log, roll back, message), shown as a page.
    for _kind, _handler in ((redis.exceptions.ConnectionError, errors.handle_redis_error),
                            (redis.exceptions.TimeoutError, errors.handle_redis_error),
                            (sqlalchemy.exc.DBAPIError, errors.handle_database_error),
                            (WeChatError, errors.handle_wechat_error),
                            (Exception, errors.handle_unexpected)):
        _console.register_error_handler(_kind, core.as_page(_handler))
