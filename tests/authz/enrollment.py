"""Enrollment endpoints in the authorization matrix.

``GET /enrollment/applications/{id}`` is for the owner and for scoped
reviewers/admins; every other signed-in caller gets 404 (never 403), so that
an application's existence does not leak: hence ``any``.
"""
REVIEW = ("enrollment_reviewer",)

ROWS = [
    ("POST", "/api/v1/enrollment/applications", "worker"),
    ("GET", "/api/v1/enrollment/applications/mine", "worker"),
    ("GET", "/api/v1/enrollment/applications/<int:application_id>", "any"),
    ("POST", "/api/v1/enrollment/applications/<int:application_id>/withdraw", "worker"),
    ("GET", "/api/v1/enrollment/membership", "worker"),
    ("GET", "/api/v1/admin/enrollment/applications", REVIEW),
    ("POST", "/api/v1/admin/enrollment/applications/search", REVIEW),
    ("POST", "/api/v1/admin/enrollment/applications/<int:application_id>/approve", REVIEW),
    ("POST", "/api/v1/admin/enrollment/applications/<int:application_id>/reject", REVIEW),
    ("POST", "/api/v1/admin/enrollment/applications/batch", REVIEW),
    ("GET", "/api/v1/admin/enrollment/members.xlsx", REVIEW),
    ("POST", "/api/v1/admin/enrollment/members.xlsx", REVIEW),
]
