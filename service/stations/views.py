"""Outdoor-worker rest stations (docs/contract.md §5): HTTP only."""
from __future__ import annotations

from flask import Response, g, request
from marshmallow import ValidationError

from service.auth.permissions import limit_per_client, require_staff, require_worker
from service.common.excel import xlsx_response
from service.common.http import large_upload
from service.errors import ValidationFailed
from service.extensions import Blueprint
from service.imports.schemas import DryRunArgs, ImportResultSchema
from service.stations import importer, services
from service.stations.schemas import (
    AdminStationArgs,
    ImportFileSchema,
    ImportFormSchema,
    NearbyArgs,
    NearbyResultSchema,
    ReportAdminPageSchema,
    ReportAdminSchema,
    ReportArgs,
    ReportCreateSchema,
    ReportResolveSchema,
    ReportSchema,
    StationAdminPageSchema,
    StationAdminSchema,
    StationCreateSchema,
    StationPatchSchema,
    StationSchema,
    StationSyncPageSchema,
    SyncArgs,
)

blp = Blueprint("stations", __name__, url_prefix="/api/v1", description="户外劳动者驿站")

STAFF = ("station_manager",)
_XLSX = {"type": "string", "format": "binary"}


@blp.route("/stations/nearby", methods=["GET"])
@limit_per_client("RATELIMIT_NEARBY")
@blp.arguments(NearbyArgs, location="query")
@blp.response(200, NearbyResultSchema)
def nearby(args):
    """附近的驿站（由近及远，可按设施和是否正在开放筛选）"""
    # Each item is JSON rendered by the search itself (NearbyResultSchema documents it).
    return Response(f'{{"items":[{",".join(services.find_nearby(args))}]}}', mimetype="application/json")


@blp.route("/stations", methods=["GET"])
@blp.arguments(SyncArgs, location="query")
@blp.response(200, StationSyncPageSchema)
def sync(args):
    """驿站增量同步（离线缓存用；已删除的返回 {id, deleted: true}）"""
    return services.sync(args)


@blp.route("/stations/<int:station_id>", methods=["GET"])
@blp.response(200, StationSchema)
def station_detail(station_id):
    """驿站详情"""
    return services.get_station(station_id)


@blp.route("/stations/<int:station_id>/reports", methods=["POST"])
@require_worker(limit="RATELIMIT_REPORT")
@blp.arguments(ReportCreateSchema)
@blp.response(201, ReportSchema)
def report_problem(body, station_id):
    """反馈驿站问题（未开放、位置不准、设施损坏、其他）"""
    return services.create_report(g.worker, station_id, body)


@blp.route("/admin/stations", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(AdminStationArgs, location="query")
@blp.response(200, StationAdminPageSchema)
def admin_list(args):
    """驿站列表（工作人员，限管辖范围；可按名称、编码、地址搜索）"""
    return services.list_stations(g.scope, args)


@blp.route("/admin/stations", methods=["POST"])
@require_staff(*STAFF)
@blp.arguments(StationCreateSchema)
@blp.response(201, StationAdminSchema)
def admin_create(body):
    """新建驿站"""
    return services.create_station(g.scope, body)


@blp.route("/admin/stations/<int:station_id>", methods=["PATCH"])
@require_staff(*STAFF)
@blp.arguments(StationPatchSchema)
@blp.response(200, StationAdminSchema)
def admin_update(body, station_id):
    """修改驿站（改坐标即更新附近搜索）"""
    return services.update_station(g.scope, station_id, body)


@blp.route("/admin/stations/<int:station_id>", methods=["DELETE"])
@require_staff(*STAFF)
@blp.response(204)
def admin_delete(station_id):
    """撤销驿站（保留记录供离线同步删除）"""
    services.delete_station(g.scope, station_id)
    return None


@blp.route("/admin/stations/import", methods=["POST"])
@require_staff(*STAFF)
@large_upload
@blp.arguments(DryRunArgs, location="query")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
def admin_import(args, files):
    """批量导入驿站（xlsx / csv，按编码新增或更新；错误行不影响其他行；dry_run=true 只预览）"""
    try:
        form = ImportFormSchema().load(request.form)
    except ValidationError as err:
        raise ValidationFailed(err.messages) from None
    return importer.import_file(g.scope, files["file"], form, dry_run=args["dry_run"])


@blp.route("/admin/stations/import-template.xlsx", methods=["GET"])
@require_staff(*STAFF)
@blp.alt_response(200, schema=_XLSX, success=True, description="驿站导入模板（Excel）",
                  content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def admin_import_template():
    """驿站导入模板（中文表头、示例行、设施下拉列表）"""
    return xlsx_response("驿站导入模板.xlsx", importer.template_sheets(), ascii_name="stations-import-template.xlsx",
                         lists=importer.template_lists())


@blp.route("/admin/stations/reports", methods=["GET"])
@require_staff(*STAFF)
@blp.arguments(ReportArgs, location="query")
@blp.response(200, ReportAdminPageSchema)
def admin_reports(args):
    """职工反馈的驿站问题（未处理在前）"""
    return services.list_reports(g.scope, args)


@blp.route("/admin/stations/reports/<int:report_id>/resolve", methods=["POST"])
@require_staff(*STAFF)
@blp.arguments(ReportResolveSchema)
@blp.response(200, ReportAdminSchema)
def admin_resolve_report(body, report_id):
    """标记反馈已处理"""
    return services.resolve_report(g.scope, g.staff, report_id, body)
