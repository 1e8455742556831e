from models.user import STAFF_ROLES  # every staff member, whatever their roles, for their own account

ROWS = [
    ("POST", "/api/v1/auth/wechat/login", "public"),
    ("POST", "/api/v1/auth/wechat/phone", "worker"),
    ("POST", "/api/v1/auth/staff/login", "public"),
    ("POST", "/api/v1/auth/logout", "any"),
    ("GET", "/api/v1/me", "any"),
    ("DELETE", "/api/v1/me", "worker"),
    ("GET", "/api/v1/me/data", "worker"),
    ("POST", "/api/v1/me/staff-binding", "worker"),
    ("POST", "/api/v1/admin/me/wechat-binding", STAFF_ROLES),
    ("DELETE", "/api/v1/admin/me/wechat-binding", STAFF_ROLES),
    ("GET", "/api/v1/organizations", "public"),
    ("POST", "/api/v1/admin/organizations", ("admin",)),
    ("PATCH", "/api/v1/admin/organizations/<int:org_id>", ("admin",)),
    ("GET", "/api/v1/admin/audit-log", ("admin",)),
]
