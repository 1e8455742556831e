"""The union organization tree (市总工会 → 区总工会 → 行业/基层工会).

Admins keep the tree within their own subtree: a new organization must hang
under one they reach, and an organization can be moved only within it.

An organization may carry a service area ``{lat, lng, radius_m}``; it applies
to its subtree down to the next organization with one of its own.  A station
or breakfast point lies within its organization's service area and within
China, unless the clerk confirms otherwise (``check_location``).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from models import Organization, db
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.distance import haversine_m, in_china, looks_swapped
from service.errors import ValidationFailed
from service.organizations.errors import AboveOwnOrganization, OrganizationNotFound, OutsideServiceArea


@dataclass
class TreeNode:
    organization: Organization
    children: list[TreeNode]


def all_organizations() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.path)))


def tree() -> list[TreeNode]:
    """Organizations as nested nodes: roots first, each level in the order of the paths."""
    orgs = all_organizations()
    nodes = {o.id: TreeNode(o, []) for o in orgs}
    roots = []
    for o in orgs:
        if o.parent_id and o.parent_id in nodes:
            nodes[o.parent_id].children.append(nodes[o.id])
        else:
            roots.append(nodes[o.id])
    return roots


def _place(org: Organization, parent: Organization | None) -> None:
    """The materialised path of a flushed ``org`` under ``parent`` (None: a root)."""
    org.path = (parent.path if parent else "/") + f"{org.id}/"


def _get(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise OrganizationNotFound()
    return org


def create(scope: Scope, data: dict) -> Organization:
    """A new organization under one the admin reaches (a root: whole-federation admins only); else 422/403."""
    parent_id = data.get("parent_id")
    if parent_id is None:
        if scope.org_ids is not None:
            raise AboveOwnOrganization()
        parent = None
    else:
        parent = db.session.get(Organization, parent_id)
        if parent is None or not scope.allows(parent.id):
            raise ValidationFailed({"parent_id": ["上级组织不存在"]})
    now = clock.now()
    org = Organization(name=data["name"], parent_id=parent_id, region=data.get("region"),
                       occupations=data.get("occupations") or [],
                       accepts_members=data.get("accepts_members", True), service_area=data.get("service_area"),
                       created_at=now, updated_at=now, path="")
    db.session.add(org)
    db.session.flush()
    _place(org, parent)
    audit("organization.create", "organization", org.id, organization_id=org.id, details={"name": org.name})
    db.session.commit()
    return org


def update(scope: Scope, org_id: int, data: dict) -> Organization:
    """Rename, re-describe or move an organization of the admin's subtree (its subtree moves with it);
    404 outside the subtree, 422 for a parent unknown, outside it or below the organization itself."""
    org = _get(org_id)
    scope.require(org.id)
    fields = ("parent_id", "name", "region", "occupations", "accepts_members")
    before = {key: getattr(org, key) for key in fields}
    if "parent_id" in data and data["parent_id"] != org.parent_id:
        new_parent = db.session.get(Organization, data["parent_id"]) if data["parent_id"] else None
        if data["parent_id"] and (new_parent is None or not scope.allows(new_parent.id)):
            raise ValidationFailed({"parent_id": ["上级组织不存在"]})
        if new_parent is None and scope.org_ids is not None:
            raise AboveOwnOrganization("只能在本级工会之下调整组织")
        if new_parent is not None and new_parent.path.startswith(org.path):
            raise ValidationFailed({"parent_id": ["不能把组织移到其下级组织之下"]})
        old_prefix = org.path
        new_prefix = (new_parent.path if new_parent else "/") + f"{org.id}/"
        for sub in db.session.scalars(select(Organization).where(Organization.path.like(old_prefix + "%"))):
            sub.path = new_prefix + sub.path[len(old_prefix):]
        org.parent_id = data["parent_id"]
    for key in ("name", "region", "occupations", "accepts_members", "service_area"):
        if key in data:
            setattr(org, key, data[key])
    org.updated_at = clock.now()
    audit("organization.update", "organization", org.id, organization_id=org.id,
          details={"changed": changes(before, {key: getattr(org, key) for key in fields})})
    db.session.commit()
    return org


def create_root_or_child(name: str, parent: Organization | None, region: str | None = None,
                         occupations: list | None = None) -> Organization:
    """For seeding and the CLI (no scope)."""
    now = clock.now()
    org = Organization(name=name, parent_id=parent.id if parent else None, region=region,
                       occupations=occupations or [], created_at=now, updated_at=now, path="")
    db.session.add(org)
    db.session.flush()
    _place(org, parent)
    return org


def owning_organization(scope: Scope, data: dict, *, field: str = "organization_id",
                        federation_level: bool = False, noun: str = "记录") -> int | None:
    """The organization a new record (point, roster, station, provider …) belongs to —
    the one rule every feature uses.

    - Given: it must exist and lie within the caller's scope, else 422 on ``field``.
    - Given as null: the federation level, allowed only where ``federation_level``
      records exist (stations) and only for whole-federation staff.
    - Not given: whole-federation staff get the federation level where it exists,
      else the federation's single root; other staff the single top organization
      of their scope; 422 asking to choose when that is ambiguous.
    """
    if data.get(field) is not None:
        org = db.session.get(Organization, data[field])
        if org is None or not scope.allows(org.id):
            raise ValidationFailed({field: ["工会组织不存在或不在您的管辖范围内"]})
        return org.id
    if field in data and not (federation_level and scope.org_ids is None):
        raise ValidationFailed({field: [f"只有市总工会层级的工作人员可以维护市级{noun}"]})
    if scope.org_ids is None:
        if federation_level:
            return None
        tops = list(db.session.scalars(select(Organization.id).where(Organization.parent_id.is_(None)).limit(2)))
    else:
        rows = db.session.execute(select(Organization.id, Organization.parent_id)
                                  .where(Organization.id.in_(scope.org_ids))).all()
        tops = [oid for oid, parent in rows if parent not in scope.org_ids]
    if len(tops) != 1:
        raise ValidationFailed({field: [f"请选择{noun}所属的工会组织"]})
    return tops[0]


# --- service areas -------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceArea:
    organization_id: int
    organization_name: str
    lat: float
    lng: float
    radius_m: int


def service_area_for(org_id: int | None) -> ServiceArea | None:
    """The service area records of ``org_id`` must lie in: its own, else its nearest
    ancestor's; None when none of them has one (and for the federation level)."""
    org = db.session.get(Organization, org_id) if org_id is not None else None
    if org is None:
        return None
    chain = [int(part) for part in org.path.strip("/").split("/") if part]
    found = {o.id: o for o in db.session.scalars(select(Organization).where(Organization.id.in_(chain)))}
    for ancestor_id in reversed(chain):
        ancestor = found.get(ancestor_id)
        if ancestor is not None and ancestor.service_area:
            area = ancestor.service_area
            return ServiceArea(ancestor.id, ancestor.name, float(area["lat"]), float(area["lng"]),
                               int(area["radius_m"]))
    return None


def _distance_text(metres: float) -> str:
    """1,234 公里 / 8.5 公里 / 5 公里 / 800 米: a distance as a clerk reads it."""
    if metres < 1000:
        return f"{round(metres):,} 米"
    if metres < 10000:
        return f"{metres / 1000:.1f}".removesuffix(".0") + " 公里"
    return f"{round(metres / 1000):,} 公里"


def location_problem(org_id: int | None, lat: float, lng: float,
                     areas: dict[int | None, ServiceArea | None] | None = None) -> tuple[str, dict] | None:
    """Why (lat, lng) is no place for a record of ``org_id`` — outside China (saying so when
    the two look swapped), or outside the service area (naming the distance) — as a
    Chinese message and its details; None when it is fine.  ``areas`` caches the
    service area per organization across the rows of an import."""
    if not in_china(lat, lng):
        swapped = looks_swapped(lat, lng)
        hint = "，纬度和经度可能填反了" if swapped else "，请核对"
        return f"坐标（纬度 {lat:g}，经度 {lng:g}）不在中国境内{hint}", {"swapped": swapped}
    if areas is None:
        area = service_area_for(org_id)
    else:
        if org_id not in areas:
            areas[org_id] = service_area_for(org_id)
        area = areas[org_id]
    if area is None:
        return None
    distance = haversine_m(area.lat, area.lng, lat, lng)
    if distance <= area.radius_m:
        return None
    return (f"位置不在{area.organization_name}的服务区域内：距离服务区域中心 {_distance_text(distance)}，"
            f"超出服务半径 {_distance_text(area.radius_m)}",
            {"distance_m": round(distance), "radius_m": area.radius_m,
             "service_area_organization_id": area.organization_id})


def check_location(org_id: int | None, lat: float, lng: float, confirmed: bool) -> None:
    """422 ``outside_service_area`` for a place outside China or outside the service area
    of ``org_id`` (its nearest ancestor's), unless the clerk ``confirmed`` it."""
    if confirmed:
        return
    problem = location_problem(org_id, lat, lng)
    if problem is not None:
        message, details = problem
        raise OutsideServiceArea(message + "。如确认位置无误，请确认后再保存", details)
