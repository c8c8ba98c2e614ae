"""A fast reader of .xlsx worksheets: the cells as openpyxl's read-only mode would give them, ten
times sooner.

openpyxl builds an object per cell (about 40 µs each here: a 100k-household export of six
million cells took minutes).  The sheet XML that Excel, WPS and openpyxl write is regular enough
to read with regular expressions: rows, cells with their reference, type and style, the value or
the inline string.  The meaning of a value follows openpyxl (``openpyxl.styles.numbers`` decides
which number formats are dates, ``openpyxl.utils.datetime.from_excel`` converts them), so both
readers give the same cells.  Anything this reader does not expect (namespace prefixes on the
sheet's tags, a cell type it does not know) raises :class:`Unsupported`, and the caller reads the
file with openpyxl instead.
"""

from __future__ import annotations

import gc
import html
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601


class Unsupported(Exception):
    """The workbook uses something this reader does not handle: read it with openpyxl."""


_SHEET = re.compile(r'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"', re.S)
_SHEET_ALT = re.compile(r'<sheet\b[^>]*?\br:id="([^"]*)"[^>]*?\bname="([^"]*)"', re.S)
_REL = re.compile(r'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"', re.S)
_REL_ALT = re.compile(r'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"', re.S)
_SI = re.compile(r"<si>(.*?)</si>|<si/>", re.S)
_T = re.compile(r"<t(?:\s[^>]*)?>(.*?)</t>|<t(?:\s[^>]*)?/>", re.S)
_RPH = re.compile(r"<rPh\b.*?</rPh>", re.S)
_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_V = re.compile(r"<v(?:\s[^>]*)?>(.*?)</v>", re.S)
_IS = re.compile(r"<is>(.*?)</is>", re.S)
_XF = re.compile(r"<xf\b([^>]*?)(?:/>|>)", re.S)
_NUMFMT = re.compile(r'<numFmt\b[^>]*?numFmtId="(\d+)"[^>]*?formatCode="([^"]*)"', re.S)
_CELLXFS = re.compile(r"<cellXfs\b.*?</cellXfs>", re.S)
_PREFIXED = re.compile(r"<\w+:(?:row|c|sheetData)\b")


@dataclass(frozen=True)
class Sheet:
    title: str
    path: str  # the part in the zip file


_PLAIN_T = re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>")
_CELL_R = re.compile(r"([A-Z]+)")


def _text(raw: str) -> str:
    """The text of a string item (<si> or <is>): its <t> runs, phonetic runs left out, XML unescaped."""
    m = _PLAIN_T.fullmatch(raw)
    if m is not None:  # one plain run: most cells
        text = m.group(1)
    else:
        raw = _RPH.sub("", raw) if "<rPh" in raw else raw
        text = "".join(m.group(1) or "" for m in _T.finditer(raw))
    return html.unescape(text) if "&" in text else text


def _read(zf: zipfile.ZipFile, name: str) -> str:
    try:
        return zf.read(name).decode("utf-8")
    except KeyError:
        return ""


def sheets(zf: zipfile.ZipFile) -> list[Sheet]:
    """The worksheets in workbook order, with the zip part of each."""
    book = _read(zf, "xl/workbook.xml")
    rels = _read(zf, "xl/_rels/workbook.xml.rels")
    if not book or _PREFIXED.search(book):
        raise Unsupported("workbook")
    targets = dict(_REL.findall(rels)) or {i: t for t, i in _REL_ALT.findall(rels)}
    found = _SHEET.findall(book) or [(n, i) for i, n in _SHEET_ALT.findall(book)]
    out = []
    for name, rid in found:
        target = targets.get(rid)
        if target is None:
            raise Unsupported("sheet target")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        out.append(Sheet(html.unescape(name), path))
    return out


def shared_strings(zf: zipfile.ZipFile) -> list[str]:
    return [_text(m.group(1) or "") for m in _SI.finditer(_read(zf, "xl/sharedStrings.xml"))]


def date_styles(zf: zipfile.ZipFile) -> frozenset[int]:
    """The cell styles (``s`` indexes) whose number format is a date or time."""
    styles = _read(zf, "xl/styles.xml")
    custom = {int(i): html.unescape(code) for i, code in _NUMFMT.findall(styles)}
    block = _CELLXFS.search(styles)
    out = set()
    for k, attrs in enumerate(_XF.findall(block.group(0)) if block else []):
        m = re.search(r'numFmtId="(\d+)"', attrs)
        fmt_id = int(m.group(1)) if m else 0
        code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "General")
        if is_date_format(code):
            out.add(k)
    return frozenset(out)


def epoch(zf: zipfile.ZipFile):  # noqa: ANN201 - a datetime
    return CALENDAR_MAC_1904 if re.search(r'date1904="(1|true)"', _read(zf, "xl/workbook.xml")) else CALENDAR_WINDOWS_1900


@cache
def _column(letters: str) -> int:
    return column_index_from_string(letters) - 1


def _number(v: str) -> int | float:
    return float(v) if ("." in v or "E" in v or "e" in v) else int(v)


def _attr(attrs: str, name: str) -> str | None:
    """One attribute of a tag's attribute text (string search: a regex per cell cost more than the cell)."""
    k = attrs.find(f' {name}="')
    if k < 0:
        return None
    k += len(name) + 3
    return attrs[k : attrs.index('"', k)]


_text_of = lru_cache(maxsize=1 << 16)(_text)  # labels repeat down a column: each distinct one is read once


def _value(attrs: str, body: str, strings: list[str], dates: frozenset[int], base) -> object:  # noqa: ANN001 - a datetime
    kind = _attr(attrs, "t") or "n"
    if kind == "inlineStr":
        if body.startswith("<is>") and body.endswith("</is>"):
            return _text_of(body[4:-5])
        m = _IS.search(body)
        return _text_of(m.group(1)) if m else None
    if body.startswith("<v>") and body.endswith("</v>"):
        v = body[3:-4]
    else:
        m = _V.search(body)
        if m is None:
            return None
        v = m.group(1)
    if v == "" and kind != "str":  # a formula never calculated: openpyxl gives None
        return None
    if kind == "s":
        return strings[int(v)]
    if kind in ("str", "e"):
        return html.unescape(v) if "&" in v else v
    if kind == "b":
        return v.strip() in ("1", "true")
    if kind == "d":
        return from_ISO8601(v)
    if kind != "n":
        raise Unsupported(f"cell type {kind}")
    x = _number(v)
    if dates and int(_attr(attrs, "s") or 0) in dates:
        return from_excel(x, base)
    return x


def sheet_text(zf: zipfile.ZipFile, sheet: Sheet) -> str:
    """The sheet's XML (Unsupported when its tags carry namespace prefixes)."""
    xml = _read(zf, sheet.path)
    if _PREFIXED.search(xml[:4096]):
        raise Unsupported("prefixed tags")
    return xml


def rows(xml: str, strings: list[str], dates: frozenset[int], base, max_rows: int | None = None) -> Iterator[tuple[int, list[object]]]:  # noqa: ANN001 - a datetime
    """(row number, cell values by column) for every row the sheet's XML stores, as openpyxl gives them."""
    start = xml.find("<sheetData")
    end = xml.rfind("</sheetData>")
    data = xml[start:end] if start >= 0 and end > start else ""
    number = 0
    for m in _ROW.finditer(data):  # lazily: the first rows of a sheet are read without the rest
        row_attrs, body = m.group(1), m.group(2) or ""
        r = _attr(" " + row_attrs, "r")
        number = int(r) if r else number + 1
        if max_rows is not None and number > max_rows:
            return
        values: list[object] = []
        for attrs, cell in _CELL.findall(body):
            ref = _attr(" " + attrs, "r")
            j = _column(_CELL_R.match(ref).group(1)) if ref else len(values)
            if j >= len(values):
                values.extend([None] * (j + 1 - len(values)))
            values[j] = _value(" " + attrs, cell, strings, dates, base)
        yield number, values




#: A cell with its reference first: the usual value forms (number, shared string, inline string),
#: then any (formulas, rich text), slower.
_CELL_PLAIN = re.compile(r'<c r="([A-Z]{1,3})([0-9]{1,7})"([^>]*>(?:<v>[^<]*</v>|<is><t>[^<]*</t></is>|)</c>|[^>]*/>)')
_CELL_ANY = re.compile(r'<c r="([A-Z]{1,3})([0-9]{1,7})"([^>]*?/>|[^>]*>[^<]*(?:<(?!/c>)[^<]*)*</c>)')


def _cell_text_of(cell: str, strings: list[str], dates: frozenset[int], base, text_of) -> tuple[object, bool]:  # noqa: ANN001 - a datetime, a function
    """(text, flagged) of one cell's XML after its reference (``' t="s"><v>3</v></c>'``)."""
    i = cell.index(">")
    if cell[i - 1] == "/" and i == len(cell) - 1:  # <c r=".." .../>
        attrs, body = cell[: i - 1], ""
    else:
        attrs, body = cell[:i], cell[i + 1 : -4]
    if attrs == ' t="inlineStr"' and body.startswith("<is><t>") and body.endswith("</t></is>") and "<" not in body[7:-9]:  # most text cells
        text = body[7:-9]
        return (html.unescape(text) if "&" in text else text), False
    return text_of(_value(" " + attrs, body, strings, dates, base))


#: Characters of sheet XML read at once by :func:`text_cells` (cut after a ``</row>``): the small
#: objects of one block's cells stay bounded.
_BLOCK = 1 << 23


def text_cells(xml: str, strings: list[str], dates: frozenset[int], base, text_of, max_width: int):  # noqa: ANN001, ANN201 - a datetime, a function, a tuple
    """Every stored cell of the sheet's XML as text, without a Python call per cell: the cells found
    with one regular expression (a block of rows at a time), each distinct cell XML (type, style and
    value: labels, codes and amounts repeat down a column) read once by :func:`_value` and made
    text by ``text_of`` (the grid's cell text), then placed by array indexing.  Returns (row
    numbers, rows of text padded with "" to the widest row, the (row number, column) cells
    ``text_of`` flags), the cells as :func:`rows` and ``text_of`` would give them; None when a cell
    has no reference, a reference repeats or the sheet is wider than ``max_width`` (read by
    :func:`rows` instead)."""
    import numpy as np
    import pandas as pd

    start = xml.find("<sheetData")
    end = xml.rfind("</sheetData>")
    if start < 0 or end <= start:
        start = end = 0
    known: dict[str, tuple[object, bool]] = {}  # cell XML -> (text, flagged), over the blocks
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    pos = start
    while pos < end:
        stop = xml.find("</row>", min(pos + _BLOCK, end), end)
        stop = end if stop < 0 else stop + len("</row>")
        n = xml.count("<c ", pos, stop) + xml.count("<c>", pos, stop) + xml.count("<c/>", pos, stop)
        collecting = gc.isenabled()
        gc.disable()  # many small tuples: the collector would walk them again and again
        try:
            found = _CELL_PLAIN.findall(xml, pos, stop)
            if len(found) != n:
                found = _CELL_ANY.findall(xml, pos, stop)
                if len(found) != n:
                    return None  # a cell without its reference first (or spelled otherwise): cell by cell
            letters, numbers, rest = [f[0] for f in found], [f[1] for f in found], [f[2] for f in found]
            del found
        finally:
            if collecting:
                gc.enable()
        pos = stop
        if not rest:
            continue
        codes, uniques = pd.factorize(pd.Series(rest, dtype=object), sort=False)
        del rest
        texts = np.empty(len(uniques), dtype=object)
        flagged = np.zeros(len(uniques), dtype=bool)
        for k, cell in enumerate(uniques):
            got = known.get(cell)
            if got is None:
                got = known[cell] = _cell_text_of(cell, strings, dates, base, text_of)
            texts[k], flagged[k] = got
        col_codes, col_letters = pd.factorize(pd.Series(letters, dtype=object), sort=False)
        cols = np.array([_column(c) for c in col_letters], dtype=np.int64)[col_codes]
        parts.append((np.array(numbers, dtype=np.int64), cols, texts[codes], flagged[codes]))
    if not parts:
        return [], [], set()
    rows_at, cols, texts, bad = (np.concatenate(x) for x in zip(*parts))
    del parts
    width = int(cols.max()) + 1
    if width > max_width:
        return None
    row_numbers, row_index = np.unique(rows_at, return_inverse=True)
    if len(pd.unique(row_index * width + cols)) != len(cols):
        return None  # a cell given twice
    grid = np.full((len(row_numbers), width), "", dtype=object)
    grid[row_index, cols] = texts
    lossy = set(zip(rows_at[bad].tolist(), cols[bad].tolist()))
    return row_numbers.tolist(), grid.tolist(), lossy
