"""The one download path: every table and file a user downloads goes through these buttons.

The file is built when the button is clicked (Streamlit's deferred download: nothing is built
on a rerun), through ``fanpin.report.export``, which checks the export right, masks, escapes
formula cells and writes the audit row.  A role without the export right sees no button.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import streamlit as st

from fanpin.access.roles import can
from fanpin.report.export import FORMATS, export_file, export_table
from fanpin.ui.i18n import t

TableSource = pd.DataFrame | Callable[[], pd.DataFrame]


def _frame(source: TableSource) -> pd.DataFrame:
    return source() if callable(source) else source


def download_table(
    ctx, source: TableSource, name: str, key: str, *, labels: Mapping[str, str] | None = None, unmasked: bool = False, where=None  # noqa: ANN001 - a page Context, a container
) -> None:
    """CSV (UTF-8 with BOM, so Excel shows Chinese) and .xlsx buttons for a table.

    ``source`` is the table (columns named by code: ``name``, ``id_number`` and ``phone`` are
    masked) or a function that makes it, called only on a click; ``labels`` renames the columns
    for the file after masking.  Nothing is drawn for a role that may not export."""
    principal, engine = ctx.principal, ctx.data.engine
    if principal is None or not can(principal, "export"):
        return
    row = (where or st).container(horizontal=True, gap="small")  # buttons as wide as their labels, never cut ("下…")
    for fmt, label in (("csv", "common.download_csv"), ("xlsx", "common.download_xlsx")):
        row.download_button(
            t(label),
            data=lambda fmt=fmt: export_table(engine, principal, _frame(source), name, fmt, unmasked=unmasked, labels=labels),
            file_name=f"{name}.{fmt}",
            mime=FORMATS[fmt],
            key=f"{key}_{fmt}",
            on_click="ignore",
            width="content",
        )


def download_file(
    ctx, make: Callable[[], bytes], file_name: str, mime: str, key: str, *, audit_name: str, fmt: str, where=None,  # noqa: ANN001 - ctx is the page Context, where a Streamlit container (typing them would import the sidebar here)
    detail: Mapping[str, object] | None = None, **button: object,
) -> None:
    """One button for a file made by ``make`` (called on the click), audited as ``audit_name``
    (``detail``: more for the audit row, such as the household)."""
    principal, engine = ctx.principal, ctx.data.engine
    if principal is None or not can(principal, "export"):
        return
    (where or st).download_button(
        button.pop("label", t("common.download")),
        data=lambda: export_file(engine, principal, make(), audit_name, fmt, detail),
        file_name=file_name,
        mime=mime,
        key=key,
        on_click="ignore",
        **button,
    )
