"""Who may call the legal-aid endpoints (docs/contract.md §4)."""
STAFF = ("legal_aid_staff",)

ROWS = [
    ("GET", "/api/v1/legal-aid/topics", "public"),
    ("GET", "/api/v1/legal-aid/slots", "public"),
    ("POST", "/api/v1/legal-aid/bookings", "worker"),
    ("GET", "/api/v1/legal-aid/bookings/mine", "worker"),
    ("GET", "/api/v1/legal-aid/bookings/<int:booking_id>", "worker"),
    ("POST", "/api/v1/legal-aid/bookings/<int:booking_id>/cancel", "worker"),
    ("POST", "/api/v1/admin/legal-aid/providers", STAFF),
    ("GET", "/api/v1/admin/legal-aid/providers", STAFF),
    ("PATCH", "/api/v1/admin/legal-aid/providers/<int:provider_id>", STAFF),
    ("GET", "/api/v1/admin/legal-aid/providers/<int:provider_id>/day-sheet.xlsx", STAFF),
    ("POST", "/api/v1/admin/legal-aid/slots", STAFF),
    ("GET", "/api/v1/admin/legal-aid/slots", STAFF),
    ("POST", "/api/v1/admin/legal-aid/slots/<int:slot_id>/cancel", STAFF),
    ("GET", "/api/v1/admin/legal-aid/rules", STAFF),
    ("PATCH", "/api/v1/admin/legal-aid/rules/<int:rule_id>", STAFF),
    ("DELETE", "/api/v1/admin/legal-aid/rules/<int:rule_id>", STAFF),
    ("GET", "/api/v1/admin/legal-aid/bookings", STAFF),
    ("GET", "/api/v1/admin/legal-aid/bookings/<int:booking_id>", STAFF),
    ("POST", "/api/v1/admin/legal-aid/bookings/<int:booking_id>/complete", STAFF),
    ("POST", "/api/v1/admin/legal-aid/bookings/<int:booking_id>/no-show", STAFF),
]
