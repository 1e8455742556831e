"""One use case, one transaction (docs/architecture.md)."""
from __future__ import annotations

import functools

from models import db


def transactional(fn):
    """One use case, one transaction: any error rolls back what was written (and the locks)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
    return wrapper
