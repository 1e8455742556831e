"""``app``, for gunicorn and ``flask --app wsgi``.  A configuration error is one
line on stderr and exit status 2, never a traceback."""
import sys

from config import ConfigError
from service import create_app

try:
    app = create_app()
except ConfigError as err:
    sys.stderr.write(f"configuration error: {err}\n")
    sys.exit(2)
