"""Notification endpoints in the authorization matrix."""
ROWS = [
    ("GET", "/api/v1/notifications/templates", "public"),
]
