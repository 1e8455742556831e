"""Who may call the wage-arrears endpoints (docs/contract.md §11)."""
STAFF = ("rights_staff",)

ROWS = [
    ("POST", "/api/v1/arrears/reports", "worker"),
    ("GET", "/api/v1/arrears/reports/mine", "worker"),
    ("GET", "/api/v1/arrears/reports/<int:report_id>", "worker"),
    ("POST", "/api/v1/arrears/reports/<int:report_id>/evidence", "worker"),
    ("POST", "/api/v1/arrears/reports/<int:report_id>/withdraw", "worker"),
    ("GET", "/api/v1/admin/arrears/reports", STAFF),
    ("POST", "/api/v1/admin/arrears/reports/<int:report_id>/accept", STAFF),
    ("POST", "/api/v1/admin/arrears/reports/<int:report_id>/decline", STAFF),
    ("GET", "/api/v1/admin/arrears/cases", STAFF),
    ("GET", "/api/v1/admin/arrears/cases.xlsx", STAFF),
    ("GET", "/api/v1/admin/arrears/cases/<int:case_id>", STAFF),
    ("POST", "/api/v1/admin/arrears/cases/<int:case_id>/transition", STAFF),
    ("GET", "/api/v1/admin/arrears/evidence/<int:evidence_id>", STAFF),
]
