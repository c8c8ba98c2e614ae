"""The templates' example rows: recognised by their reserved codes and skipped with a note.

Every template (``fanpin.ingest.specs.template_frame``) carries one example row whose household
ID, ID numbers and region codes belong to the reserved example county
(``fanpin.core.regions.EXAMPLE_COUNTY``, 999999: province 99 is no real province, and no demo
county uses it).  So a template downloaded and imported back as it is can never overwrite a real
record, and imports cleanly into any database: a row naming that county in any of its place
columns is taken out before the checks (a warning names its line numbers, the report counts it
as skipped) and is never written.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fanpin.core.regions import EXAMPLE_COUNTY
from fanpin.ingest.read import Grid
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import KindSpec, header_map, norm

__all__ = ["PLACE_COLUMNS", "drop_examples", "example_rows"]

#: Columns whose values name a place (a household ID and an ID number begin with their region code).
PLACE_COLUMNS: frozenset[str] = frozenset(
    {"household_id", "id_number", "official_id_number", "relative_id_number", "region_code", "village_code", "parent_code"}
)


def example_rows(grid: Grid, spec: KindSpec, columns: frozenset[int] | None = None) -> list[int]:
    """Positions of the data rows naming the example county in a place column of ``spec``
    (``columns``: only these header positions, for one table of a shared sheet)."""
    hmap = header_map(spec)
    place = [j for j, h in enumerate(grid.header) if (columns is None or j in columns) and hmap.get(norm(h)) in PLACE_COLUMNS]
    place = [j for j in place if EXAMPLE_COUNTY in "\n".join(row[j] for row in grid.rows)]  # (one search per column: few files hold examples)
    if not place:
        return []
    return [i for i, row in enumerate(grid.rows) if any(row[j].strip().startswith(EXAMPLE_COUNTY) for j in place)]


def drop_examples(report: Report, grid: Grid, spec: KindSpec, columns: frozenset[int] | None = None) -> Grid:
    """``grid`` without its example rows; the report notes them (a warning with their line numbers)
    and counts them in ``examples`` (added to the skipped rows), its row references follow the grid."""
    rows = example_rows(grid, spec, columns)
    if not rows:
        return grid
    drop = set(rows)
    keep = [i for i in range(len(grid.rows)) if i not in drop]
    pos = {i: k for k, i in enumerate(keep)}
    lines = [grid.row_numbers[i] for i in rows]
    report.problems.append(Problem("example_rows", "", np.array([], dtype=np.intp), "warning", {"rows": lines, "county": EXAMPLE_COUNTY}))
    report.examples = len(rows)
    out = replace(
        grid, rows=[grid.rows[i] for i in keep], row_numbers=[grid.row_numbers[i] for i in keep],
        lossy={(pos[i], j) for i, j in grid.lossy if i in pos},
    )
    report.row_numbers, report.values = out.row_numbers, out.rows
    return out
