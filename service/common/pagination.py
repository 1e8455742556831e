"""``?page&per_page`` over a SELECT: one count query and one page query."""
from __future__ import annotations

from sqlalchemy import func, select

from models import db


def count_of(stmt) -> int:
    """Rows ``stmt`` would return, counted without fetching or sorting its columns.

    A plain filtered SELECT is counted as ``SELECT count(*) FROM <its FROM/WHERE>``
    (an index-only scan where an index fits); one with DISTINCT, GROUP BY or a
    LIMIT is counted over it as a subquery.
    """
    plain = not (stmt._group_by_clauses or stmt._distinct or stmt._limit_clause is not None
                 or stmt._offset_clause is not None or stmt._having_criteria)
    if plain:
        counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        return db.session.execute(counted).scalar() or 0
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True) -> dict:
    total = count_of(stmt)
    page_stmt = stmt.limit(per_page).offset((page - 1) * per_page)
    rows = db.session.scalars(page_stmt).all() if scalars else db.session.execute(page_stmt).all()
    return {"items": rows, "total": total, "page": page, "per_page": per_page}
