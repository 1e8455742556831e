"""Spreadsheets in and out.

``read_table`` reads an uploaded ``.xlsx`` or ``.csv`` (UTF-8, UTF-8 with BOM
or GBK, as Chinese Excel saves it) into ``(row_number, {field: value})``
pairs, headers matched by English or Chinese aliases.  ``xlsx_response``
streams rows into a write-only workbook and returns it as a download.
"""
from __future__ import annotations

import csv
import io
import tempfile
from typing import Iterable, Iterator
from urllib.parse import quote

from flask import Response

from service.errors import ValidationFailed


class TableError(ValidationFailed):
    pass


def _decode_csv(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError({"file": ["无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV"]})


def _normalise_header(value) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("\ufeff", "")


def read_table(storage, aliases: dict[str, Iterable[str]], required: Iterable[str] = ()) -> tuple[
        list[str], Iterator[tuple[int, dict]]]:
    """Rows of an uploaded file as dicts keyed by field name.

    ``aliases`` maps a field to its accepted headers (``{"name": ["name", "名称"]}``).
    Row numbers are those a person sees in the spreadsheet (the header is row 1).
    Text cells come stripped of surrounding blanks and of NUL characters.
    Raises ``TableError`` (422) when the file is unreadable or a required column is missing.
    """
    if storage is None or not getattr(storage, "filename", None):
        raise TableError({"file": ["请上传文件（xlsx 或 csv）"]})
    name = storage.filename.lower()
    raw = storage.read()
    if name.endswith(".xlsx") or raw[:2] == b"PK":
        rows = _xlsx_rows(raw)
    elif name.endswith(".csv") or name.endswith(".txt"):
        rows = csv.reader(io.StringIO(_decode_csv(raw)))
    else:
        raise TableError({"file": ["仅支持 .xlsx 或 .csv 文件"]})
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise TableError({"file": ["文件是空的"]})
    lookup = {}
    for field, names in aliases.items():
        for alias in list(names) + [field]:
            lookup[_normalise_header(alias)] = field
    columns = [lookup.get(_normalise_header(h)) for h in header]
    missing = [f for f in required if f not in columns]
    if missing:
        labels = {f: list(aliases.get(f, [f]))[-1] for f in missing}
        raise TableError({"file": ["缺少必需的列：" + "、".join(f"{f}（{labels[f]}）" for f in missing)]})

    def generate():
        for number, row in enumerate(rows, start=2):
            values = {}
            empty = True
            for col, value in zip(columns, row):
                if col is None:
                    continue
                if isinstance(value, str):
                    # NUL means nothing in a cell (a mis-saved file) and PostgreSQL text cannot hold it
                    value = value.replace("\x00", "").strip()
                if value not in (None, ""):
                    empty = False
                values[col] = value
            if not empty:
                yield number, values

    return [c for c in columns if c], generate()


def _xlsx_rows(raw: bytes):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception:
        raise TableError({"file": ["无法读取 Excel 文件，请确认是 .xlsx 格式"]}) from None
    ws = wb.worksheets[0]
    for row in ws.iter_rows(values_only=True):
        yield list(row)


def _safe_cell(ws, value):
    """A value as a cell that shows exactly that text: characters a worksheet cannot hold
    (control characters) dropped, and text starting with ``=`` kept as text — never a
    formula that Excel would run when the sheet is opened (formula injection)."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def xlsx_response(filename: str, sheets: dict[str, tuple[list[str], Iterable[Iterable]]], *,
                  ascii_name: str) -> Response:
    """A download of one workbook; ``sheets`` maps a sheet title to (headers, rows).
    The one way every feature returns a spreadsheet: services give headers and
    rows, the view names the file (``filename`` in Chinese for ``filename*``,
    ``ascii_name`` for the clients that read only the plain ``filename``).

    Rows are written through openpyxl's write-only mode to a temporary file,
    so memory stays flat however many rows there are.  Text is written as
    text (see ``_safe_cell``), whoever typed it.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    for title, (headers, rows) in sheets.items():
        ws = wb.create_sheet(title=title[:31])
        from openpyxl.cell import WriteOnlyCell
        header_cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = Font(bold=True)
            header_cells.append(cell)
        ws.append(header_cells)
        for row in rows:
            ws.append([_safe_cell(ws, value) for value in row])
    tmp = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    wb.save(tmp)
    size = tmp.tell()
    tmp.seek(0)

    def stream():
        try:
            while True:
                chunk = tmp.read(64 * 1024)
                if not chunk:
                    break
                yield chunk
        finally:
            tmp.close()

    resp = Response(stream(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return resp
