"""Spreadsheets as clerks really send them, and as an attacker might: title rows above
the header, blank rows, GBK, a cell of half a million characters, a zip bomb — a
clear Chinese answer every time, never a 500, and the good rows always land.
And downloads a clerk can use at once."""
from __future__ import annotations

import io
import struct
import zipfile

from openpyxl import Workbook, load_workbook

from tests.helpers import bearer, error_code, staff_token
from tests.stations.support import csv_upload, import_file, offset

HEADER = ["编码", "名称", "地址", "纬度", "经度", "电话", "设施", "开放时间"]


def _xlsx(rows: list[list]) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def test_a_sheet_with_a_title_row_and_blank_rows_imports(app, client):
    admin = staff_token(app, client, "admin")
    a, b = offset(east_m=100), offset(east_m=300)
    rows = [
        ["扬州市户外劳动者驿站一览表（2026年）"],
        ["填报单位：广陵区总工会", None, None, None, None, None, None, "填报日期：2026-03-01"],
        HEADER,
        ["YZ-T-1", "文昌阁驿站", "广陵区文昌中路1号", a[0], a[1], "0514-87000001", "饮水、充电", "24h"],
        [None] * 8,
        ["YZ-T-2", "东关街驿站", "广陵区东关街2号", b[0], b[1], "", "饮水", "08:00-20:00"],
    ]
    resp = import_file(client, admin, (_xlsx(rows), "驿站.xlsx"))
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["created"], resp.get_json()["errors"]) == (2, [])


def test_a_gbk_csv_with_a_title_row_imports_and_rows_keep_their_sheet_numbers(app, client):
    admin = staff_token(app, client, "admin")
    a = offset(east_m=100)
    rows = [["驿站名单"], HEADER,
            ["YZ-G-1", "文昌阁驿站", "广陵区文昌中路1号", a[0], a[1], "", "饮水", "24h"],
            ["YZ-G-2", "坏行驿站", "广陵区东关街2号", "北纬", a[1], "", "饮水", "24h"]]
    resp = import_file(client, admin, csv_upload(rows, encoding="gbk"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["created"] == 1 and [e["row"] for e in body["errors"]] == [4]


def test_no_header_in_the_first_ten_rows_names_the_missing_columns(app, client):
    admin = staff_token(app, client, "admin")
    rows = [["说明"]] * 12 + [HEADER]
    resp = import_file(client, admin, csv_upload(rows))
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    message = resp.get_json()["error"]["details"]["fields"]["file"][0]
    assert "没有找到表头" in message and "名称" in message


def test_a_huge_csv_cell_is_refused_for_its_row_only(app, client):
    admin = staff_token(app, client, "admin")
    a, b = offset(east_m=100), offset(east_m=300)
    rows = [HEADER,
            ["YZ-H-1", "长" * 500_000, "广陵区文昌中路1号", a[0], a[1], "", "饮水", "24h"],
            ["YZ-H-2", "东关街驿站", "广陵区东关街2号", b[0], b[1], "", "饮水", "24h"]]
    resp = import_file(client, admin, csv_upload(rows))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["created"] == 1
    assert [e["row"] for e in body["errors"]] == [2] and "名称" in body["errors"][0]["message"]


def _zip_bomb() -> io.BytesIO:
    """A valid .xlsx of ~100 KB whose worksheet unzips to ~51 MB: 5,100 rows of 10,000 characters."""
    source = _xlsx([HEADER, ["YZ-B-1", "驿站", "地址", 32.39, 119.41, "", "饮水", "24h"]]).getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                filler = "".join(f'<row r="{n}"><c r="B{n}" t="inlineStr"><is><t>{"A" * 10_000}</t></is></c></row>'
                                 for n in range(3, 5_103))
                dst.writestr(item.filename, data.replace(b"</sheetData>", filler.encode() + b"</sheetData>"),
                             compresslevel=9)
            else:
                dst.writestr(item, data)
    out.seek(0)
    return out


def _garbled(xlsx: io.BytesIO, part: str) -> io.BytesIO:
    """The same archive with ``part``'s compressed bytes overwritten: the directory still declares
    its sizes, but unzipping that part fails."""
    raw = bytearray(xlsx.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo(part)
    # the local header: 30 bytes, its name's and extra field's lengths at offsets 26 and 28, then those
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    raw[start:start + info.compress_size] = b"\xff" * info.compress_size
    return io.BytesIO(bytes(raw))


def test_a_zip_bomb_is_refused_before_it_is_unzipped(app, client):
    admin = staff_token(app, client, "admin")
    bomb = _zip_bomb()
    assert len(bomb.getvalue()) < 400_000
    resp = import_file(client, admin, (bomb, "驿站.xlsx"))
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    assert "解压后过大" in resp.get_json()["error"]["details"]["fields"]["file"][0]
    # refused from the zip directory alone: with its huge worksheet garbled, the bomb gets the same answer,
    # where reading that worksheet would have failed …
    resp = import_file(client, admin, (_garbled(_zip_bomb(), "xl/worksheets/sheet1.xml"), "驿站.xlsx"))
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    assert "解压后过大" in resp.get_json()["error"]["details"]["fields"]["file"][0]
    # … as it does in a sheet of ordinary size, which is unzipped
    sheet = _xlsx([HEADER, ["YZ-B-1", "驿站", "地址", 32.39, 119.41, "", "饮水", "24h"]])
    resp = import_file(client, admin, (_garbled(sheet, "xl/worksheets/sheet1.xml"), "驿站.xlsx"))
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    assert "无法读取" in resp.get_json()["error"]["details"]["fields"]["file"][0]


def test_not_a_spreadsheet_and_a_broken_xlsx_are_422_in_chinese(app, client):
    admin = staff_token(app, client, "admin")
    for upload in ((io.BytesIO(b"PK\x03\x04 not really a zip"), "a.xlsx"), (io.BytesIO(b"%PDF-1.4"), "a.pdf")):
        resp = import_file(client, admin, upload)
        assert resp.status_code == 422 and error_code(resp) == "validation_error"
        assert resp.get_json()["error"]["details"]["fields"]["file"][0]


def test_an_export_opens_ready_to_use(app, client):
    admin = staff_token(app, client, "admin")
    resp = client.get("/api/v1/admin/stats/annual.xlsx?year=2026", headers=bearer(admin))
    assert resp.status_code == 200
    disposition = resp.headers["Content-Disposition"]
    assert 'filename="annual-stats-2026.xlsx"' in disposition and "filename*=UTF-8''" in disposition
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.bold
    widths = [ws.column_dimensions[c].width for c in "ABC"]
    assert all(w and w >= 6 for w in widths), widths


def test_the_member_list_holds_real_date_cells(app, client):
    """Dates a clerk can sort and filter in Excel: date cells in Beijing time, not text."""
    import datetime as dt

    from service.common import clock
    from tests.enrollment import apply
    from tests.helpers import login_worker, make_org

    clock.freeze(clock.local(2026, 3, 10, 9, 30))
    org = make_org(app, "扬州市总工会")
    reviewer = staff_token(app, client, "enrollment_reviewer", org)
    worker = login_worker(client, "datecells")
    application = apply(client, worker, org).get_json()["id"]
    assert client.post(f"/api/v1/admin/enrollment/applications/{application}/approve",
                       headers=bearer(reviewer)).status_code == 200
    resp = client.get("/api/v1/admin/enrollment/members.xlsx", headers=bearer(reviewer))
    ws = load_workbook(io.BytesIO(resp.data)).active
    headers = [c.value for c in ws[1]]
    joined = ws.cell(row=2, column=headers.index("入会时间") + 1)
    assert isinstance(joined.value, dt.datetime) and joined.value == dt.datetime(2026, 3, 10, 9, 30)
    assert joined.number_format == "yyyy-mm-dd hh:mm"
