"""Command-line tools: ``flask --app wsgi staff create|disable`` and ``seed-demo``."""
from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from models import Organization, StaffUser, db
from models.user import STAFF_ROLES
from service.auth.services import create_staff, disable_staff
from service.breakfast import demo as breakfast_demo
from service.enrollment import demo as enrollment_demo
from service.errors import ServiceError
from service.legal_aid import demo as legal_aid_demo
from service.organizations.services import create_root_or_child
from service.stations import demo as stations_demo

# Each feature's demo data, in the order they build on each other.
DEMO_SEEDS = (enrollment_demo.seed, legal_aid_demo.seed, stations_demo.seed, breakfast_demo.seed)

staff_cli = AppGroup("staff", help="工作人员账号 / staff accounts")

DEMO_CITY = "扬州市总工会"
DEMO_STAFF = [
    ("admin", "Admin@2026", "admin", None, "市总管理员"),
    ("reviewer", "Review@2026", "enrollment_reviewer", None, "入会审核员"),
    ("legal", "Legal@2026", "legal_aid_staff", None, "法律援助专员"),
    ("station", "Station@2026", "station_manager", None, "驿站管理员"),
    ("breakfast", "Breakfast@2026", "breakfast_manager", None, "早餐点管理员"),
    ("guangling_admin", "Guangling@2026", "admin", "广陵区总工会", "广陵区管理员"),
]


@staff_cli.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", "roles", required=True, multiple=True, type=click.Choice(STAFF_ROLES))
@click.option("--org", "org_id", type=int, default=None, help="organization id; omitted: the whole federation")
@click.option("--name", "display_name", default=None)
def staff_create(username, password, roles, org_id, display_name):
    """Create a staff account with one or more roles over an organization subtree."""
    if org_id is not None and db.session.get(Organization, org_id) is None:
        raise click.ClickException(f"organization {org_id} does not exist")
    try:
        staff = create_staff(username, password, [(r, org_id) for r in roles], display_name)
    except ServiceError as err:
        raise click.ClickException(f"{err.message} {err.details or ''}".strip()) from None
    click.echo(f"created staff {staff.username} (id {staff.id}) roles={','.join(roles)} org={org_id or 'all'}")


@staff_cli.command("disable")
@click.argument("username")
def staff_disable(username):
    """Disable a staff account and revoke all its sessions at once."""
    try:
        revoked = disable_staff(username)
    except ServiceError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"disabled {username}; revoked {revoked} session(s)")


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the demo data once (idempotent) and print the demo accounts."""
    orgs: dict[str, Organization] = {o.name: o for o in db.session.scalars(select(Organization))}
    if DEMO_CITY not in orgs:
        city = create_root_or_child(DEMO_CITY, None, "江苏省扬州市",
                                    ["courier", "food_delivery", "ride_hailing", "truck_driver", "other"])
        for name, occ in (("广陵区总工会", ["courier", "food_delivery", "other"]),
                          ("邗江区总工会", ["courier", "food_delivery", "ride_hailing", "other"]),
                          ("扬州市快递行业工会联合会", ["courier"]),
                          ("扬州市网约车司机工会联合会", ["ride_hailing"]),
                          ("扬州市货车司机工会联合会", ["truck_driver"])):
            create_root_or_child(name, city, "江苏省扬州市", occ)
        db.session.commit()
        orgs = {o.name: o for o in db.session.scalars(select(Organization))}
    for username, password, role, org_name, display in DEMO_STAFF:
        if db.session.scalar(select(StaffUser).where(StaffUser.username == username)) is None:
            org_id = orgs[org_name].id if org_name else None
            create_staff(username, password, [(role, org_id)], display)
    ctx = {"orgs": orgs, "city": orgs[DEMO_CITY]}
    for seed in DEMO_SEEDS:
        seed(ctx)
        db.session.commit()
    click.echo("Demo data ready. Staff accounts (username / password / role):")
    for username, password, role, org_name, _ in DEMO_STAFF:
        click.echo(f"  {username:16} {password:16} {role}{' @ ' + org_name if org_name else ''}")
    click.echo("Workers: POST /api/v1/auth/wechat/login {\"code\": \"dev-alice\"} (each code works once: "
               "dev-alice.2, dev-alice.3 … are alice again); bind a phone with {\"code\": \"phone-13800138000\"}.")
