ROWS = [
    ("GET", "/api/v1/admin/stats/annual", ("admin",)),
    ("GET", "/api/v1/admin/stats/annual.xlsx", ("admin",)),
    ("GET", "/api/v1/admin/stats/annual/report.docx", ("admin",)),
    ("GET", "/api/v1/admin/stats/annual/report-template.docx", ("admin",)),
    ("PUT", "/api/v1/admin/stats/annual/report-template.docx", ("admin",)),
]
