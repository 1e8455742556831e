from __future__ import annotations

from flask import g

from service.auth.permissions import require_staff
from service.extensions import Blueprint
from service.organizations import services
from service.organizations.schemas import (
    OrganizationCreateSchema,
    OrganizationPatchSchema,
    OrganizationSchema,
    OrganizationTreeSchema,
)

blp = Blueprint("organizations", __name__, url_prefix="/api/v1", description="工会组织")


@blp.route("/organizations", methods=["GET"])
@blp.response(200, OrganizationTreeSchema)
def organization_tree():
    """可接收会员的工会组织（树形）"""
    return {"items": services.tree()}


@blp.route("/admin/organizations", methods=["POST"])
@require_staff("admin")
@blp.arguments(OrganizationCreateSchema)
@blp.response(201, OrganizationSchema)
def create_organization(body):
    """新建工会组织（管理员，限本级及下级）"""
    return services.create(g.scope, body)


@blp.route("/admin/organizations/<int:org_id>", methods=["PATCH"])
@require_staff("admin")
@blp.arguments(OrganizationPatchSchema)
@blp.response(200, OrganizationSchema)
def update_organization(body, org_id):
    """修改工会组织（管理员，限本级及下级）"""
    return services.update(g.scope, org_id, body)
