"""What an applied import changed, and what it prepares for the next page view.

An import bumps the data version, which retires the columnar copy of every month and the
panel's kept scores.  The write says what it touched (``changed``: the tables the copy reads,
the months of panel rows), so the new version's copy carries over every file the import left
alone; after its transaction commits the import writes what is missing itself
(``prepared``), so the next page view reads no month through SQL and scores no month.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.engine import Engine

from fanpin.ingest.report import Report
from fanpin.ingest.specs import SPECS

#: Tables whose rows the columnar copy reads (``fanpin.store.columnar``); members: the household counts.
COPIED = frozenset({"households", "members", "panel"})


def changed(reports: Iterable[Report]) -> dict:
    """``bump_data_version`` keywords for the applied reports: the copied tables they wrote and
    the months of the panel rows among them."""
    tables: set[str] = set()
    months: set[int] = set()
    for report in reports:
        if report.plan is None or not (report.added or report.updated):
            continue
        table = SPECS[report.kind].table
        if table in COPIED:
            tables.add(table)
        if table == "panel":
            months |= {int(p) for p in report.plan.frame["period"].dropna().unique()}
        if report.kind == "members":
            tables.add("households")  # the household counts follow the members
    return {"changed": sorted(tables), "periods": sorted(months) if "panel" in tables else None}


def prepared(engine: Engine) -> int:
    """After the import's transaction: the columnar copy of the new version and the baseline's
    panel scores (``fanpin.engine.panel_stream.prepare_views``); returns the months written.  A
    failure here leaves the import applied and the work to the app (logged)."""
    from fanpin.engine.panel_stream import prepare_views

    try:
        return prepare_views(engine)
    except Exception:
        logging.getLogger(__name__).exception("preparing the views after the import failed")
        return 0
