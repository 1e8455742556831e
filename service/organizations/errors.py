"""The answers of the organization tree that say no."""
from __future__ import annotations

from service.errors import Forbidden, NotFound, ServiceError


class OrganizationNotFound(NotFound):
    message = "工会组织不存在"


class AboveOwnOrganization(Forbidden):
    """A scoped admin may not add or move an organization to the top of the tree."""

    message = "只能在本级工会之下新建组织"


class OutsideServiceArea(ServiceError):
    """A station or breakfast point placed outside its organization's service area or outside China,
    without ``confirm_outside_area``; the message names the distance (docs/contract.md §5)."""

    status = 422
    code = "outside_service_area"
    message = "位置超出所属工会的服务区域，请核对坐标"
