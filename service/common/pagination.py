"""``?page&per_page`` over a SELECT: one count query and one page query."""
from __future__ import annotations

from sqlalchemy import func, select

from models import db


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True) -> dict:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page_stmt = stmt.limit(per_page).offset((page - 1) * per_page)
    rows = db.session.scalars(page_stmt).all() if scalars else db.session.execute(page_stmt).all()
    return {"items": rows, "total": total or 0, "page": page, "per_page": per_page}
