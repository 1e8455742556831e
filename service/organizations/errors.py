"""The answers of the organization tree that say no."""
from __future__ import annotations

from service.errors import Forbidden, NotFound


class OrganizationNotFound(NotFound):
    message = "工会组织不存在"


class AboveOwnOrganization(Forbidden):
    """A scoped admin may not add or move an organization to the top of the tree."""

    message = "只能在本级工会之下新建组织"
