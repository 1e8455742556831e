STAFF = ("station_manager", "breakfast_manager")

ROWS = [
    ("GET", "/api/v1/admin/imports", STAFF),
    ("POST", "/api/v1/admin/imports/<int:import_id>/undo", STAFF),
    ("GET", "/api/v1/admin/stations/import-template.xlsx", ("station_manager",)),
    ("GET", "/api/v1/admin/breakfast/roster/import-template.xlsx", ("breakfast_manager",)),
]
