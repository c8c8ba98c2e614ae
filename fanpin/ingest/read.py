"""Reading an uploaded file into a grid of text cells: CSV or .xlsx, any common Chinese encoding.

Encoding detection (documented in the import page's help and tested on the bad-input corpus):

1. a UTF-8 byte-order mark -> UTF-8 (what the app's own downloads and Excel's "CSV UTF-8" write);
   a UTF-16 mark -> UTF-16 (Excel's "Unicode text", tab separated);
2. bytes that decode as strict UTF-8 -> UTF-8;
3. bytes that decode as strict GB18030 (a superset of GBK and GB2312, what Excel on a
   Chinese Windows writes) *and* read as sensible Chinese: at least 90 % of the non-ASCII
   characters are in GB2312 (the 6,763 common characters and CJK punctuation) -> GB18030;
4. anything else is refused as an unrecognised encoding.  Latin-1 bytes usually fail step 3
   outright; Shift-JIS bytes often *do* decode as GB18030, but into rare characters
   outside GB2312, which step 3's check refuses instead of importing mojibake.

Nothing here knows the column specs: the result is strings (``""`` for an empty cell) with
the spreadsheet row number of each data row, so the report can point at the row a person
sees in Excel.  Every cell is read without invisible characters (bidi overrides, zero-width and
control characters: ``fanpin.core.text.strip_invisible``), before any check sees it.  Problems
with the file as a whole raise :class:`FileProblem`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from fanpin.core.text import strip_invisible_rows

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_COLUMNS = 200
#: Rows scanned for the header (a title row such as "XX县监测对象信息表" may sit above it).
HEADER_SCAN_ROWS = 10


class FileProblem(Exception):
    """The file cannot be read as a table; ``code`` + ``params`` make the message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Grid:
    header: list[str]
    rows: list[list[str]]  # data rows, padded to the header's width
    row_numbers: list[int]  # 1-based spreadsheet/line number of each data row
    header_row: int
    encoding: str  # utf-8 / utf-8-sig / gb18030 / utf-16 / xlsx
    sheet: str | None = None
    #: (data row index, column index) of numeric Excel cells too long to be exact (ID numbers typed as numbers)
    lossy: set[tuple[int, int]] = field(default_factory=set)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) following the rules in the module docstring; FileProblem otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileProblem("encoding") from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileProblem("encoding") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileProblem("encoding") from exc
    if not _sensible_chinese(text):
        raise FileProblem("encoding")
    return text, "gb18030"


def _sensible_chinese(text: str) -> bool:
    wide = [ch for ch in set(text) if ord(ch) > 127]
    if not wide:
        return True
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= 0.9 * len(wide)


def _detect_header(raw: list[list[str]], is_header: Callable[[str], bool]) -> int:
    """Index (in ``raw``) of the header: the first of the leading rows naming two known columns."""
    for i, row in enumerate(raw[:HEADER_SCAN_ROWS]):
        if sum(1 for c in row if c and is_header(c)) >= 2:
            return i
    return 0


def _finish(raw: list[list[str]], numbers: list[int], is_header: Callable[[str], bool], encoding: str, sheet: str | None = None, lossy: set | None = None, merged: Callable[[int], list[str]] | None = None) -> Grid:
    """Invisible characters out of every cell (``fanpin.core.text.strip_invisible``: right-to-left
    overrides, zero-width and control characters make one ID or name look like another), drop
    empty rows, find the header, pad the data rows to its width."""
    raw = strip_invisible_rows(raw)
    keep = [i for i, r in enumerate(raw) if any(c.strip() for c in r)]
    raw = [raw[i] for i in keep]
    numbers = [numbers[i] for i in keep]
    if not raw:
        raise FileProblem("empty_file")
    h = _detect_header(raw, is_header)
    header = [c.strip() for c in raw[h]]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise FileProblem("too_many_columns", n=len(header), limit=MAX_COLUMNS)
    if merged is not None:
        cells = merged(numbers[h])
        if cells:
            raise FileProblem("merged_header", cells=", ".join(cells))
    width = len(header)
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    for r, n in zip(raw[h + 1 :], numbers[h + 1 :]):
        if len(r) > width:
            if any(c.strip() for c in r[width:]):
                used = len(r)
                while used > width and not r[used - 1].strip():
                    used -= 1
                raise FileProblem("ragged", row=n, cells=used, width=width)
            r = r[:width]
        elif len(r) < width:
            r = r + [""] * (width - len(r))
        rows.append(r)
        row_numbers.append(n)
    lossy_rows: set[tuple[int, int]] = set()
    if lossy:
        pos = {n: i for i, n in enumerate(row_numbers)}
        lossy_rows = {(pos[rn], c) for rn, c in lossy if rn in pos and c < width}
    if not rows:
        raise FileProblem("no_rows")
    return Grid(header, rows, row_numbers, numbers[h], encoding, sheet, set(lossy_rows))


def read_csv(data: bytes, is_header: Callable[[str], bool]) -> Grid:
    text, encoding = decode(data)
    if not text.strip():
        raise FileProblem("empty_file")
    first = text.split("\n", 1)[0]
    delim = "\t" if first.count("\t") > first.count(",") else ","
    csv.field_size_limit(max(MAX_FILE_BYTES, 1 << 27))
    raw: list[list[str]] = []
    numbers: list[int] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        for row in reader:
            if len(row) > MAX_COLUMNS and not raw:
                # Header row with thousands of columns: refuse before reading the rest.
                trimmed = list(row)
                while trimmed and not trimmed[-1].strip():
                    trimmed.pop()
                if len(trimmed) > MAX_COLUMNS:
                    raise FileProblem("too_many_columns", n=len(trimmed), limit=MAX_COLUMNS)
            raw.append(row)
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise FileProblem("bad_csv", error=str(exc)) from exc
    # A spreadsheet line number is the *starting* line of a record; csv gives the ending line,
    # which differs only for cells with embedded newlines.
    return _finish(raw, numbers, is_header, encoding)


def _cell_text(v: object) -> tuple[str, bool]:
    """Text of a spreadsheet cell and whether it was a number too long to be exact."""
    if v is None:
        return "", False
    if isinstance(v, bool):
        return ("是" if v else "否"), False
    if isinstance(v, int):
        return str(v), abs(v) >= 10**15
    if isinstance(v, float):
        if v != v:  # NaN
            return "", False
        if v.is_integer():
            return str(int(v)), abs(v) >= 1e15
        return repr(v), False
    if isinstance(v, datetime):
        if v.time() == time(0, 0):
            return v.strftime("%Y-%m-%d"), False
        return v.strftime("%Y-%m-%d %H:%M:%S"), False
    if isinstance(v, date):
        return v.strftime("%Y-%m-%d"), False
    return str(v), False


def _trimmed_len(cells: list[str]) -> int:
    n = len(cells)
    while n and not cells[n - 1].strip():
        n -= 1
    return n


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


def _merged_ranges(ws) -> list[tuple[str, int, int, int, int]]:  # noqa: ANN001 - an openpyxl worksheet (read-only or not)
    """Merged ranges of a read-only sheet, from its XML (``<mergeCell ref="A1:B1"/>`` sits after the rows)."""
    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[str, int, int, int, int]] = []
    tail = b""
    with ws._get_source() as src:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            buf = tail + chunk
            for m in _MERGE.finditer(buf):
                ref = m.group(1).decode()
                if ":" in ref and ref not in {f[0] for f in found}:
                    min_col, min_row, max_col, max_row = range_boundaries(ref)
                    found.append((ref, min_col, min_row, max_col, max_row))
            tail = buf[-200:]
    return found


def _open_workbook(data: bytes):  # noqa: ANN202 - an openpyxl read-only workbook
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem("bad_xlsx") from exc


def _has_data(ws) -> bool:  # noqa: ANN001 - an openpyxl worksheet
    return any(v not in (None, "") for row in ws.iter_rows(max_row=50, values_only=True) for v in row)


def _read_sheet(ws, is_header: Callable[[str], bool]) -> Grid:  # noqa: ANN001 - an openpyxl worksheet
    """One worksheet as a grid (title rows above the header skipped, merged header cells refused)."""
    return _grid(enumerate(ws.iter_rows(values_only=True), start=1), ws.title, _merged_ranges(ws), is_header)


def _grid(values: Iterable[tuple[int, Sequence[object]]], title: str, ranges: list[tuple[str, int, int, int, int]], is_header: Callable[[str], bool]) -> Grid:
    """A sheet's (row number, cell values) as a grid: text cells, long numbers noted, merged header cells refused."""
    raw: list[list[str]] = []
    numbers: list[int] = []
    lossy: set[tuple[int, int]] = set()
    for i, row in values:
        cells = []
        for j, v in enumerate(row):
            text, bad = _cell_text(v)
            cells.append(text)
            if bad:
                lossy.add((i, j))
        if i <= HEADER_SCAN_ROWS and _trimmed_len(cells) > MAX_COLUMNS:
            raise FileProblem("too_many_columns", n=_trimmed_len(cells), limit=MAX_COLUMNS)
        raw.append(cells)
        numbers.append(i)

    def merged(header_row: int) -> list[str]:
        return [ref for ref, c0, r0, c1, r1 in ranges if r0 <= header_row <= r1 and c1 > c0]

    return _finish(raw, numbers, is_header, "xlsx", title, lossy, merged)


_MERGE_TEXT = re.compile(_MERGE.pattern.decode(), re.ASCII)  # the same, on the decoded XML


def _ranges_in(xml: bytes | str) -> list[tuple[str, int, int, int, int]]:
    from openpyxl.utils.cell import range_boundaries

    found: dict[str, tuple[str, int, int, int, int]] = {}
    k = xml.find("mergeCell" if isinstance(xml, str) else b"mergeCell")  # (a plain search skips the cells: the regex read them all)
    if k < 0:
        return []
    start = xml.rfind("<" if isinstance(xml, str) else b"<", 0, k)
    for m in (_MERGE_TEXT if isinstance(xml, str) else _MERGE).finditer(xml, max(start, 0)):
        ref = m.group(1) if isinstance(xml, str) else m.group(1).decode()
        if ":" in ref and ref not in found:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            found[ref] = (ref, min_col, min_row, max_col, max_row)
    return list(found.values())


def _text_grid(cells: tuple | None, title: str, xml: str, is_header: Callable[[str], bool]) -> Grid | None:
    """A sheet's grid from ``fanpin.ingest.xlsx.text_cells`` (None when that could not read it): as
    :func:`_grid` makes it (no row of a sheet it reads is wider than ``MAX_COLUMNS``)."""
    if cells is None:
        return None
    numbers, raw, lossy = cells
    ranges = _ranges_in(xml)

    def merged(header_row: int) -> list[str]:
        return [ref for ref, c0, r0, c1, r1 in ranges if r0 <= header_row <= r1 and c1 > c0]

    return _finish(raw, numbers, is_header, "xlsx", title, lossy, merged)


def _fast_sheets(data: bytes, is_header: Callable[[str], bool]) -> list[tuple[str, Grid | FileProblem]]:
    """Every sheet with data through the fast reader (``fanpin.ingest.xlsx``); Unsupported when it cannot."""
    from fanpin.ingest import xlsx

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FileProblem("bad_xlsx") from exc
    with zf:
        strings, dates, base = xlsx.shared_strings(zf), xlsx.date_styles(zf), xlsx.epoch(zf)
        out: list[tuple[str, Grid | FileProblem]] = []
        for sheet in xlsx.sheets(zf):
            xml = xlsx.sheet_text(zf, sheet)
            head = list(xlsx.rows(xml, strings, dates, base, max_rows=50))
            if not any(v not in (None, "") for _n, row in head for v in row):
                continue
            try:
                grid = _text_grid(xlsx.text_cells(xml, strings, dates, base, _cell_text, MAX_COLUMNS), sheet.title, xml, is_header)
                if grid is None:
                    grid = _grid(xlsx.rows(xml, strings, dates, base), sheet.title, _ranges_in(xml), is_header)
                out.append((sheet.title, grid))
            except FileProblem as exc:
                out.append((sheet.title, exc))
    if not out:
        raise FileProblem("empty_file")
    return out


def read_xlsx(data: bytes, is_header: Callable[[str], bool], preferred_sheets: tuple[str, ...] = ()) -> Grid:
    """Read the one sheet with data (read-only mode: 100k rows in seconds, not a minute)."""
    wb = _open_workbook(data)
    try:
        with_data = [ws for ws in wb.worksheets if _has_data(ws)]
        if not with_data:
            raise FileProblem("empty_file")
        if len(with_data) == 1:
            ws = with_data[0]
        else:
            wanted = {p.strip().lower() for p in preferred_sheets}
            named = [w for w in with_data if w.title.strip().lower() in wanted]
            if len(named) != 1:
                raise FileProblem("sheets", sheets=[w.title for w in with_data], name=preferred_sheets[0] if preferred_sheets else "")
            ws = named[0]
        return _read_sheet(ws, is_header)
    finally:
        wb.close()


def _check_size(data: bytes) -> None:
    if len(data) == 0:
        raise FileProblem("empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem("file_too_large", mb=round(len(data) / 1048576, 1), limit=MAX_FILE_BYTES // 1048576)
    if data.startswith(_XLS_MAGIC):
        raise FileProblem("old_xls")


def read_sheets(data: bytes, file_name: str, is_header: Callable[[str], bool]) -> list[tuple[str, Grid | FileProblem]]:
    """Every sheet with data of a workbook, each as a grid or the problem that stopped it (so one
    bad sheet does not hide the others); a CSV is a workbook of one sheet named after the file.
    A problem with the file as a whole raises :class:`FileProblem`."""
    _check_size(data)
    if not data.startswith(b"PK\x03\x04"):
        return [(file_name, read_table(data, file_name, is_header))]
    from fanpin.ingest.xlsx import Unsupported

    try:
        return _fast_sheets(data, is_header)
    except (Unsupported, KeyError, ValueError, IndexError, UnicodeDecodeError):
        pass  # openpyxl reads what the fast reader does not
    wb = _open_workbook(data)
    out: list[tuple[str, Grid | FileProblem]] = []
    try:
        sheets = [ws for ws in wb.worksheets if _has_data(ws)]
        if not sheets:
            raise FileProblem("empty_file")
        for ws in sheets:
            try:
                out.append((ws.title, _read_sheet(ws, is_header)))
            except FileProblem as exc:
                out.append((ws.title, exc))
    finally:
        wb.close()
    return out


_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_table(data: bytes, file_name: str, is_header: Callable[[str], bool], preferred_sheets: tuple[str, ...] = ()) -> Grid:
    """Read CSV or .xlsx (chosen by content, not by the name's extension)."""
    _check_size(data)
    if data.startswith(b"PK\x03\x04"):
        return read_xlsx(data, is_header, preferred_sheets)
    if re.search(rb"\x00", data[:4096]) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("encoding")
    return read_csv(data, is_header)
