"""What an import would change, field by field, before it is applied: "家庭人口数 4 → 5".

The plan (``fanpin.ingest.plan``) already holds each keyed row beside its stored record
(``<column>`` and ``<column>_db``) and marks the rows that change.  :func:`changes` lists, for
every such row, each column whose value differs, with the column's header and both values as the
user reads them (labels not codes, 是/否, months as YYYYMM, personal values masked as in the
report).  An empty cell in an update keeps the stored value and so is no change; a kind replaced
as a whole (the monitoring record, a year's incomes) clears it, shown as "(空)".
"""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd

from fanpin.access.masking import mask_id_number, mask_name, mask_phone
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest.plan import _same
from fanpin.ingest.report import Report
from fanpin.ingest.specs import SPECS, Col, code_label, header_label

__all__ = ["changes", "changes_text", "shown_value"]

_MASK = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


def _missing(v: object) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def shown_value(col: Col, v: object, lang: str = DEFAULT_LANG) -> str:
    """One value of a column as the user reads it: a label for a code, 是/否, YYYYMM, a date, a
    number without trailing zeros; a personal value masked; "(空)" for no value."""
    if _missing(v):
        return translate("ingest.diff.blank", lang)
    if col.personal:
        return _MASK[col.personal](str(v))
    t = col.type
    if t == "bool":
        return translate("ingest.diff.yes" if bool(v) else "ingest.diff.no", lang)
    if t in ("code", "health") and col.codes:
        return code_label(col, str(v), lang)
    if t == "grade":
        return code_label(col, str(int(float(v))), lang)
    if t == "code_list":
        codes = [c for c in str(v).split(",") if c]
        return ("、" if lang == "zh" else ", ").join(code_label(col, c, lang) for c in codes) or translate("ingest.diff.none", lang)
    if t in ("period", "year", "int"):
        return str(int(float(v)))
    if t == "date" or isinstance(v, (date, datetime)):
        return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S" if t == "datetime" else "%Y-%m-%d")
    if t == "float":
        x = float(v)
        return f"{x:,.0f}" if x.is_integer() else f"{x:,.4f}".rstrip("0").rstrip(".")
    return str(v)


def _record(report: Report, row: pd.Series, lang: str) -> str:
    spec = SPECS[report.kind]
    return " · ".join(shown_value(spec.col(k), row[k], lang) for k in spec.key)


def changes(report: Report, lang: str = DEFAULT_LANG, limit: int | None = None) -> pd.DataFrame:
    """One row per changed field of every record the import updates: the file's line, the record
    (its key), the field (header in ``lang``), the stored and the imported value, and "A → B"."""
    cols = [translate(f"ingest.diff.{c}", lang) for c in ("row", "record", "field", "before", "after", "change")]
    plan = report.plan
    rows: list[tuple] = []
    if plan is not None and plan.changed is not None and plan.changed.any():
        spec = SPECS[report.kind]
        f = plan.frame[plan.changed]
        for c in spec.columns:
            if c.name in spec.key or c.name not in f or f"{c.name}_db" not in f:
                continue
            new = f[c.name]
            if spec.replace and c.default is not None:
                new = new.where(new.notna(), c.default)
            given = pd.Series(True, index=f.index) if spec.replace else new.notna()
            diff = given.to_numpy() & ~_same(new, f[f"{c.name}_db"], spec.type_of(c.name))
            for i in f.index[diff]:
                before, after = shown_value(c, f.at[i, f"{c.name}_db"], lang), shown_value(c, new.at[i], lang)
                rows.append((int(f.at[i, "_row"]), c.name, _record(report, f.loc[i], lang), header_label(c, lang), before, after, f"{before} → {after}"))
        order = {c.name: k for k, c in enumerate(spec.columns)}
        rows.sort(key=lambda r: (r[0], order[r[1]]))
    if limit is not None:
        rows = rows[:limit]
    shown = [(report.row_numbers[r[0]] if r[0] < len(report.row_numbers) else r[0], *r[2:]) for r in rows]
    return pd.DataFrame(shown, columns=cols)


def changes_text(report: Report, lang: str = DEFAULT_LANG, limit: int = 200) -> str:
    """The changes as lines for the command line ("" when the import updates nothing)."""
    f = changes(report, lang)
    if f.empty:
        return ""
    row_word = translate("ingest.report.row", lang)
    lines = [translate("ingest.diff.title", lang, n=report.updated)]
    for row, record, field, _b, _a, change in f.head(limit).itertuples(index=False):
        lines.append(f"  {row_word} {row} · {record} · {field}: {change}")
    if len(f) > limit:
        lines.append("  " + translate("ingest.diff.more", lang, n=len(f) - limit))
    return "\n".join(lines)
