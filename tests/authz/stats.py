ROWS = [
    ("GET", "/api/v1/admin/stats/annual", ("admin",)),
    ("GET", "/api/v1/admin/stats/annual.xlsx", ("admin",)),
]
