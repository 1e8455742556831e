"""The authorization matrix, one module per feature.

Each module defines ``ROWS``: ``(method, rule, who)`` where ``rule`` is the
Flask rule string exactly as registered (``/api/v1/stations/<int:station_id>``)
and ``who`` is ``"public"``, ``"worker"``, ``"any"`` (any signed-in user) or a
tuple of staff roles (``admin`` is always allowed as well).
``tests/test_authz_matrix.py`` asserts every API route is listed here.
"""
