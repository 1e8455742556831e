"""Spreadsheets in and out.

``read_table`` reads an uploaded ``.xlsx`` or ``.csv`` (UTF-8, UTF-8 with BOM
or GBK, as Chinese Excel saves it) into ``(row_number, {field: value})``
pairs, headers matched by English or Chinese aliases.  ``xlsx_response``
streams rows into a write-only workbook and returns it as a download.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import tempfile
import zipfile
from collections.abc import Iterable
from urllib.parse import quote

from flask import Response, current_app
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from service.common import clock
from service.errors import ValidationFailed


class TableError(ValidationFailed):
    pass


HEADER_SEARCH_ROWS = 10  # title rows above the header row are skipped (docs/contract.md §5)
MAX_CELL_CHARS = 2000  # a longer cell is cut here; the row's own checks then refuse it by name
MAX_ZIP_RATIO = 100  # an entry of a .xlsx that unzips more than this many times is refused
MAX_ZIP_ENTRY_SMALL = 1024 * 1024  # … when it unzips to more than 1 MiB
# the field size the csv module accepts: any cell of an upload that fits the body limit
csv.field_size_limit(64 * 1024 * 1024)


def _decode_csv(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError({"file": ["无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV"]})


def _normalise_header(value) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("\ufeff", "").replace("\u3000", "")


def _cell(value):
    if isinstance(value, str):
        # NUL means nothing in a cell (a mis-saved file) and PostgreSQL text cannot hold it
        value = value.replace("\x00", "").strip()
        if len(value) > MAX_CELL_CHARS:
            value = value[:MAX_CELL_CHARS]
    return value


def read_table(storage, aliases: dict[str, Iterable[str]], required: Iterable[str] = (), *,
               max_rows: int | None = None) -> tuple[list[str], list[tuple[int, dict]]]:
    """Rows of an uploaded file as dicts keyed by field name, all read before anything is written.

    ``aliases`` maps a field to its accepted headers (``{"name": ["name", "名称"]}``).
    The header row is the first of the first ten rows that names every required
    column (a clerk's title rows above it are skipped); row numbers are those a
    person sees in the spreadsheet.  Text cells come stripped of surrounding
    blanks and NUL characters, and cut at ``MAX_CELL_CHARS``.  Blank rows are
    skipped.  Raises ``TableError`` (422, in Chinese) when the file is
    unreadable, too large once unzipped, has more than ``max_rows`` rows, or no
    header row with the required columns — never anything else.
    """
    if storage is None or not getattr(storage, "filename", None):
        raise TableError({"file": ["请上传文件（xlsx 或 csv）"]})
    name = storage.filename.lower()
    raw = storage.read()
    if name.endswith(".xlsx") or raw[:2] == b"PK":
        rows = _xlsx_rows(raw)
    elif name.endswith(".csv") or name.endswith(".txt"):
        rows = _csv_rows(raw)
    else:
        raise TableError({"file": ["仅支持 .xlsx 或 .csv 文件"]})
    required = list(required)
    lookup = {}
    for field, names in aliases.items():
        for alias in list(names) + [field]:
            lookup[_normalise_header(alias)] = field
    head = []
    columns = None
    header_row = 0
    for number, row in enumerate(rows, start=1):
        head.append(row)
        found = [lookup.get(_normalise_header(h)) for h in row]
        if all(f in found for f in required) and any(found):
            columns, header_row = found, number
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if columns is None:
        if not any(any(v not in (None, "") for v in row) for row in head):
            raise TableError({"file": ["文件是空的"]})
        best = max(head, key=lambda r: sum(1 for h in r if lookup.get(_normalise_header(h))))
        present = {lookup.get(_normalise_header(h)) for h in best}
        missing = [f for f in required if f not in present]
        labels = {f: list(aliases.get(f, [f]))[-1] for f in missing}
        raise TableError({"file": [f"前 {HEADER_SEARCH_ROWS} 行中没有找到表头，缺少必需的列："
                                   + "、".join(f"{f}（{labels[f]}）" for f in missing)]})
    out: list[tuple[int, dict]] = []
    for number, row in enumerate(rows, start=header_row + 1):
        values = {}
        for col, value in zip(columns, row):
            if col is not None:
                values[col] = _cell(value)
        if any(v not in (None, "") for v in values.values()):
            out.append((number, values))
            if max_rows is not None and len(out) > max_rows:
                raise TableError({"file": [f"一次最多导入 {max_rows} 行，请分批导入"]})
    return [c for c in columns if c], out


def _csv_rows(raw: bytes):
    reader = csv.reader(io.StringIO(_decode_csv(raw)))
    try:
        yield from reader
    except csv.Error:
        message = f"CSV 文件第 {reader.line_num} 行格式有误（如引号不成对），请检查后重新导出"
        raise TableError({"file": [message]}) from None


def unzips_too_large(raw: bytes) -> bool:
    """Whether the zip archive ``raw`` (an Office file: .xlsx, .docx) would unzip to far more
    than it weighs (a zip bomb): over ``IMPORT_MAX_UNZIPPED_BYTES`` in all, or an entry over
    1 MiB unzipping more than ``MAX_ZIP_RATIO`` times.  Judged from the sizes its directory
    declares, before anything is unzipped (``zipfile`` reads no more than an entry declares).
    Raises ``zipfile.BadZipFile`` when ``raw`` is not a zip archive."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        entries = archive.infolist()
    limit = current_app.config["IMPORT_MAX_UNZIPPED_BYTES"]
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if total > limit or (entry.file_size > MAX_ZIP_ENTRY_SMALL and ratio > MAX_ZIP_RATIO):
            return True
    return False


def _check_zip(raw: bytes) -> None:
    """Refuse a .xlsx that is no zip archive, or a zip bomb (``unzips_too_large``)."""
    try:
        too_large = unzips_too_large(raw)
    except zipfile.BadZipFile:
        raise TableError({"file": ["无法读取 Excel 文件，请确认是 .xlsx 格式"]}) from None
    if too_large:
        raise TableError({"file": ["Excel 文件解压后过大，请删除多余的工作表或内容后重试"]})


def _xlsx_rows(raw: bytes):
    _check_zip(raw)
    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield list(row)
    except TableError:
        raise
    except Exception:
        raise TableError({"file": ["无法读取 Excel 文件，请确认是 .xlsx 格式"]}) from None


WIDTH_SAMPLE_ROWS = 200  # column widths are fitted to the header and the first rows
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def _safe_cell(ws, value):
    """A value as a cell that shows what a clerk expects: text exactly as typed
    (characters a worksheet cannot hold dropped; text starting with ``=`` kept as
    text, never a formula Excel would run: formula injection), dates and times as
    real date cells in Beijing time, numbers as numbers."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = clock.to_local(value).replace(tzinfo=None)
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _display_width(value) -> float:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters are two columns wide


LIST_ROWS = 5000  # how far down a template's drop-down lists reach


def _drop_downs(ws, headers: list[str], lists: dict[str, list[str]]) -> None:
    """A drop-down of suggestions under each header of ``lists``; other values may still be typed."""
    for header, options in lists.items():
        column = get_column_letter(headers.index(header) + 1)
        validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True,
                                    showErrorMessage=False, promptTitle=header[:32],
                                    prompt="可从列表选择，也可直接填写", showInputMessage=True)
        validation.add(f"{column}2:{column}{LIST_ROWS}")
        ws.data_validations.append(validation)


def xlsx_response(filename: str, sheets: dict[str, tuple[list[str], Iterable[Iterable]]], *,
                  ascii_name: str, lists: dict[str, dict[str, list[str]]] | None = None) -> Response:
    """A download of one workbook; ``sheets`` maps a sheet title to (headers, rows).
    The one way every feature returns a spreadsheet: services give headers and
    rows, the view names the file (``filename`` in Chinese for ``filename*``,
    ``ascii_name`` for the clients that read only the plain ``filename``).
    ``lists`` (sheet title → header → options) adds drop-down lists, for
    templates a clerk fills in.

    A clerk can use it at once: bold frozen header row, columns as wide as
    their content (header and first rows), dates as date cells.  Rows are
    written through openpyxl's write-only mode to a temporary file, so memory
    stays flat however many rows there are.
    """
    wb = Workbook(write_only=True)
    for title, (headers, rows) in sheets.items():
        ws = wb.create_sheet(title=title[:31])
        _drop_downs(ws, headers, (lists or {}).get(title, {}))
        rows = iter(rows)
        sample = list(itertools.islice(rows, WIDTH_SAMPLE_ROWS))
        for index, header in enumerate(headers, start=1):
            widest = max([_display_width(header)] + [_display_width(r[index - 1]) for r in sample
                                                     if len(r) >= index])
            ws.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 6), 60)
        ws.freeze_panes = "A2"
        header_cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = Font(bold=True)
            header_cells.append(cell)
        ws.append(header_cells)
        for row in itertools.chain(sample, rows):
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
