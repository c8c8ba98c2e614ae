"""The import report: every problem found in a file, in the user's language, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fanpin.access.masking import mask_id_number, mask_name, mask_phone
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest.specs import Col, header_label


def _shown(value: str, personal: str | None) -> str:
    """A cell as the report shows it: masked when personal, cut when long."""
    v = value
    if personal and v:
        v = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}[personal](v[:64])
    if len(v) > 60:
        v = v[:60] + f"…({len(value):,})"
    return v


# --------------------------------------------------------------------------- report


@dataclass
class Problem:
    """Problems of one kind in one column, over many rows (``rows`` are positions in the file's data)."""

    code: str
    column: str  # header as in the file, or the spec column's name for missing columns
    rows: np.ndarray  # data-row positions; empty for a file-level problem
    severity: str = "error"
    params: dict = field(default_factory=dict)
    row_params: dict[str, np.ndarray] = field(default_factory=dict)
    col: Col | None = None


@dataclass
class Plan:
    """What applying the report writes: ``frame`` holds the rows without errors (``_row``: their
    position in the file) in ``columns``; for upsert kinds ``new`` and ``changed`` mark its rows."""

    frame: pd.DataFrame
    columns: list[str]
    new: np.ndarray | None = None
    changed: np.ndarray | None = None


@dataclass
class Report:
    """Every problem found in a file and, when it passed, the plan and its counts."""

    kind: str
    file_name: str
    file_hash: str
    n_rows: int = 0
    encoding: str = ""
    sheet: str | None = None
    problems: list[Problem] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    examples: int = 0  # template example rows taken out before the checks (counted in ``skipped``)
    already_batch: int | None = None
    row_numbers: list[int] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)  # raw cells (for the report's value column)
    header: list[str] = field(default_factory=list)
    plan: Plan | None = field(default=None, repr=False)

    @property
    def n_errors(self) -> int:
        return sum(max(len(p.rows), 1) for p in self.problems if p.severity == "error")

    @property
    def n_warnings(self) -> int:
        return sum(max(len(p.rows), 1) for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.n_errors == 0 and self.already_batch is None

    @property
    def unaccepted_columns(self) -> list[str]:
        """Headers no table reads, waiting for the user to accept dropping them."""
        return [p.column for p in self.problems if p.code == "unknown_column_unaccepted"]

    def _col_index(self, column: str) -> int | None:
        try:
            return self.header.index(column)
        except ValueError:
            return None

    def messages(self, lang: str = DEFAULT_LANG, limit: int | None = 10_000) -> list[tuple[int | None, str, str, str, str]]:
        """(row, column, value, message, severity): errors before warnings, each in file order
        (file-level problems first, in the order found: a wrong import kind is the very first)."""
        out: list[tuple[int | None, str, str, str, str, int]] = []
        # errors first, so that a limit never cuts an error off for warnings
        for k, p in sorted(enumerate(self.problems), key=lambda kp: kp[1].severity != "error"):
            key = f"ingest.p.{p.code}"
            personal = p.col.personal if p.col else None
            column = header_label(p.col, lang) if (p.col is not None and p.column == p.col.name) else p.column
            if len(p.rows) == 0:
                out.append((None, column, "", translate(key, lang, **_fmt_params(p.params, lang)), p.severity, k))
                continue
            j = self._col_index(p.column)
            fixed = translate(key, lang, **_fmt_params(p.params, lang)) if not p.row_params else None
            for i, r in enumerate(p.rows.tolist()):
                msg = fixed if fixed is not None else translate(key, lang, **_fmt_params({**p.params, **{n: a[i] for n, a in p.row_params.items()}}, lang))
                value = _shown(self.values[r][j], personal) if j is not None else ""
                out.append((self.row_numbers[r], column, value, msg, p.severity, k))
                if limit is not None and len(out) >= limit:
                    break
        out.sort(key=lambda x: (x[4] != "error", x[0] if x[0] is not None else -1, x[5]))
        rows = [x[:5] for x in out]
        return rows[:limit] if limit is not None else rows

    def frame(self, lang: str = DEFAULT_LANG, limit: int | None = 10_000) -> pd.DataFrame:
        """The report as a table with headers in ``lang`` (for the page and the download)."""
        rows = self.messages(lang, limit)
        cols = [translate(f"ingest.report.{c}", lang) for c in ("row", "column", "value", "problem", "severity")]
        f = pd.DataFrame(rows, columns=cols)
        f[cols[0]] = f[cols[0]].astype("Int64")
        f[cols[4]] = [translate(f"ingest.severity.{s}", lang) for s in f[cols[4]]]
        return f

    def summary(self, lang: str = DEFAULT_LANG) -> str:
        if self.already_batch is not None:
            return translate("ingest.p.already_imported", lang, batch=self.already_batch)
        return translate(
            "ingest.summary", lang, rows=self.n_rows, errors=self.n_errors, warnings=self.n_warnings,
            added=self.added, updated=self.updated, unchanged=self.unchanged, skipped=self.skipped,
        )

    def text(self, lang: str = DEFAULT_LANG, limit: int = 200) -> str:
        """Plain-text report for the command line."""
        lines = [f"{self.file_name}: {self.summary(lang)}"]
        row_word = translate("ingest.report.row", lang)
        for row, column, value, msg, sev in self.messages(lang, limit):
            where = f"{row_word} {row}" if row is not None else "—"
            shown = f" [{value}]" if value else ""
            lines.append(f"  {where} · {column}{shown}: {msg} ({translate(f'ingest.severity.{sev}', lang)})")
        total = self.n_errors + self.n_warnings
        if total > limit:
            lines.append("  " + translate("ingest.more_problems", lang, n=total - limit))
        return "\n".join(lines)

    def detail(self) -> dict:
        first = [{"row": r, "column": c, "problem": m} for r, c, _v, m, s in self.messages("en", 20) if s == "error"]
        return {
            "kind": self.kind, "rows": self.n_rows, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": self.skipped, "examples": self.examples, "errors": self.n_errors, "warnings": self.n_warnings, "encoding": self.encoding,
            "sheet": self.sheet, "first_errors": first,
        }


def _fmt_params(params: dict, lang: str) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, dict) and lang in v:
            v = v[lang]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, (list, tuple)):
            v = ("、" if lang == "zh" else ", ").join(str(x) for x in v)
        out[k] = v
    return out
