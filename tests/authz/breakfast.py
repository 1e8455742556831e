MANAGER = ("breakfast_manager",)

ROWS = [
    ("POST", "/api/v1/breakfast/eligibility/claim", "worker"),
    ("POST", "/api/v1/breakfast/checkins", "worker"),
    ("GET", "/api/v1/breakfast/checkins/mine", "worker"),
    ("GET", "/api/v1/admin/breakfast/points", MANAGER),
    ("POST", "/api/v1/admin/breakfast/points", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>", MANAGER),
    ("PATCH", "/api/v1/admin/breakfast/points/<int:point_id>", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>/today", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>/qr", MANAGER),
    ("POST", "/api/v1/admin/breakfast/points/<int:point_id>/qr/rotate", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>/qr/image.png", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>/qr/poster.svg", MANAGER),
    ("GET", "/api/v1/admin/breakfast/points/<int:point_id>/qr/wxacode.png", MANAGER),
    ("POST", "/api/v1/admin/breakfast/roster/import", MANAGER),
    ("GET", "/api/v1/admin/breakfast/roster", MANAGER),
    ("POST", "/api/v1/admin/breakfast/roster/search", MANAGER),
    ("PATCH", "/api/v1/admin/breakfast/roster/<int:entry_id>", MANAGER),
    ("GET", "/api/v1/admin/breakfast/report", MANAGER),
    ("GET", "/api/v1/admin/breakfast/report.xlsx", MANAGER),
    ("GET", "/api/v1/admin/breakfast/ingredients", MANAGER),
]
