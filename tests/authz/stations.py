STAFF = ("station_manager",)

ROWS = [
    ("GET", "/api/v1/stations/nearby", "public"),
    ("GET", "/api/v1/stations", "public"),
    ("GET", "/api/v1/stations/<int:station_id>", "public"),
    ("POST", "/api/v1/stations/<int:station_id>/reports", "worker"),
    ("GET", "/api/v1/admin/stations", STAFF),
    ("POST", "/api/v1/admin/stations", STAFF),
    ("PATCH", "/api/v1/admin/stations/<int:station_id>", STAFF),
    ("DELETE", "/api/v1/admin/stations/<int:station_id>", STAFF),
    ("POST", "/api/v1/admin/stations/import", STAFF),
    ("GET", "/api/v1/admin/stations/reports", STAFF),
    ("POST", "/api/v1/admin/stations/reports/<int:report_id>/resolve", STAFF),
]
