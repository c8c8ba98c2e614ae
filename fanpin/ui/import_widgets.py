"""The import page's widgets: the upload box with its instructions in the user's language, the
report table (errors first, no "None" rows), the changes an import would make (before the import
button) and the rollback of an applied batch.

Streamlit 1.67's uploader draws its own English ("Upload", "100MB per file • CSV, TXT, XLSX",
"Drag and drop a file here" while dragging) with no language option; the label and a caption
under the box say the same in the user's language, naming the English button.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fanpin.ingest import diff, undo, workbook
from fanpin.report.export import safe_frame
from fanpin.ui.i18n import lang, t
from fanpin.ui.messages import flash
from fanpin.ui.text import md

__all__ = ["changes_view", "first_error", "report_table", "rollback_section", "upload_box"]

UPLOAD_TYPES: tuple[str, ...] = ("csv", "xlsx", "txt")
#: Up to this many changed fields are listed as a plain table (every one visible), more in a scrolling grid.
TABLE_ROWS = 200


def upload_box(key: str):  # noqa: ANN201 - an UploadedFile or None
    """The file uploader, labelled and explained in the user's language (formats, the size limit
    the server enforces, and the English button's name)."""
    sep = "、" if lang() == "zh" else ", "
    limit = st.get_option("server.maxUploadSize")
    upload = st.file_uploader(t("ingest.page.upload"), type=list(UPLOAD_TYPES), key=key)
    st.caption(t("ingest.page.upload_help", types=sep.join(x.upper() for x in UPLOAD_TYPES), mb=limit))
    return upload


def report_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The validation report as shown: errors before warnings (a workbook's tables one after the
    other otherwise), the row number blank for a problem of the whole file (never "None")."""
    if frame.empty:
        return frame
    row, severity = t("ingest.report.row"), t("ingest.report.severity")
    error = t("ingest.severity.error")
    shown = frame.assign(_w=(frame[severity] != error).astype(int)).sort_values("_w", kind="stable").drop(columns="_w")
    shown[row] = [("" if pd.isna(r) else str(int(r))) for r in shown[row]]
    return shown.reset_index(drop=True)


def first_error(report) -> str | None:  # noqa: ANN001 - a Report or a WorkbookReport
    """The first error of the report (the kind of file it looks like, when that is the problem)."""
    reports = report.reports if isinstance(report, workbook.WorkbookReport) else [report]
    for r in reports:
        for _row, _col, _value, msg, severity in r.messages(lang(), limit=200):
            if severity == "error":
                return msg
    return None


def _changes(report) -> tuple[pd.DataFrame, int]:  # noqa: ANN001 - a Report or a WorkbookReport
    if not isinstance(report, workbook.WorkbookReport):
        return diff.changes(report, lang()), report.updated
    frames = []
    for p in report.parts:
        r = p.report
        if r.already_batch is None and r.updated:
            f = diff.changes(r, lang())
            f.insert(0, t("ingest.workbook.where"), f"{r.sheet} · {t(f'ingest.kind.{r.kind}')}")
            frames.append(f)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), report.count("updated")


def changes_view(report) -> None:  # noqa: ANN001 - a Report or a WorkbookReport
    """Every field an import would change, "A → B", before the import button (nothing when it updates nothing)."""
    frame, n = _changes(report)
    if frame.empty:
        return
    st.subheader(t("ingest.page.changes"))
    st.caption(t("ingest.page.changes_help", n=n))
    keep = [c for c in frame.columns if c not in (t("ingest.diff.before"), t("ingest.diff.after"))]
    if len(frame) <= TABLE_ROWS:  # all of it readable at once (st.table renders markdown: every cell escaped)
        st.table(frame[keep].map(md), hide_index=True)
    else:
        st.dataframe(safe_frame(frame[keep]), hide_index=True, width="stretch", key="import_changes")


def _option(batches: pd.DataFrame, kind_label) -> dict[int, str]:  # noqa: ANN001 - a function of a kind
    out = {}
    for b in batches.itertuples(index=False):
        when = pd.Timestamp(b.imported_at).strftime("%Y-%m-%d %H:%M")
        out[int(b.batch_id)] = t("ingest.page.batch_option", batch=b.batch_id, kind=kind_label(b.kind), file=b.file_name, when=when)
    return out


def rollback_section(ctx, page: str, kind_label, forget: str) -> None:  # noqa: ANN001 - a page Context, a function of a kind
    """Roll back one of the newest applied batches, after a confirmation naming it; the outcome is
    flashed (refusals say why, in the user's language); ``forget``: the session key of a report
    that the rollback makes stale."""
    # keyed: it stays open when a flashed message above it comes and goes
    with st.expander(t("ingest.page.rollback"), expanded=False, key="import_rollback_box"):
        st.caption(t("ingest.page.rollback_help"))
        batches = undo.undoable_batches(ctx.engine, principal=ctx.principal, limit=50)
        if batches.empty:
            st.caption(t("ingest.page.rollback_none"))
            return
        options = _option(batches, kind_label)
        # keyed by the newest batch: a new import selects itself (a kept older choice would be a trap)
        newest = max(options)
        pick = st.selectbox(t("ingest.page.rollback_pick"), list(options), format_func=options.get, key=f"import_rollback_pick_{newest}")
        file_name = batches.loc[batches["batch_id"] == pick, "file_name"].iloc[0]
        sure = st.checkbox(t("ingest.page.rollback_confirm", batch=pick, file=md(file_name)), key=f"import_rollback_sure_{pick}")
        if not st.button(t("ingest.page.rollback_button"), disabled=not sure, key="import_rollback_go"):
            return
        try:
            result = undo.rollback(ctx.engine, int(pick), principal=ctx.principal)
        except undo.RollbackRefused as exc:
            st.error(md(exc.message(lang())))
            return
        flash(page, "success", result.message(lang()))
        st.session_state.pop(forget, None)
        st.rerun()
