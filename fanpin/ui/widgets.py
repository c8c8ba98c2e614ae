"""Shared widgets: table downloads, tier colours, small formatting helpers for pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fanpin.report.export import csv_bytes, xlsx_bytes
from fanpin.ui.i18n import t
from fanpin.ui.login import record_export

TIER_COLOURS = {"red": "#d62728", "yellow": "#f2b701", "green": "#2ca02c"}


def download_table(frame: pd.DataFrame, name: str, key: str) -> None:
    """CSV (UTF-8 with BOM, so Excel shows Chinese) and .xlsx buttons for a table; each download
    is written to the audit log (who, which table, format, rows)."""
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        t("common.download_csv"), csv_bytes(frame), file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv",
        on_click=record_export, args=(name, len(frame), "csv"),
    )
    c2.download_button(
        t("common.download_xlsx"),
        xlsx_bytes(frame),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click=record_export, args=(name, len(frame), "xlsx"),
    )
