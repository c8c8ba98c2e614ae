"""数据导入 Import: rosters, members, indicator updates, department feeds, assistance, comparison data.

Thin: choose a kind, download its template, upload, read the validation report, import.
Validation and writing live in ``fanpin.ingest`` (the command line uses the same functions).
"""

import pandas as pd
import streamlit as st

from fanpin.ingest import apply, specs, validate
from fanpin.ingest.report import Report
from fanpin.report.export import safe_frame
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lkey, t
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

PAGE = "import"
_REPORT_KEY = "_import_report"


def column_help(ctx: Context, kind: str) -> None:
    """The kind's columns and accepted values, and its template to download."""
    with st.expander(t("ingest.page.columns"), expanded=False):
        st.dataframe(specs.column_help(kind, ctx.lang), hide_index=True, width="stretch")
        st.markdown(f"**{t('ingest.page.template')}**")
        download_table(ctx, specs.template_frame(kind, ctx.lang), f"template_{kind}_{ctx.lang}", key=f"tpl_{kind}_{ctx.lang}")


def checked(ctx: Context, kind: str, data: bytes, file_name: str) -> Report:
    """The file's report, validated once per file and data version (a refusal is logged once too)."""
    cache_key = (kind, validate.file_hash(data), ctx.data.version)
    cached = st.session_state.get(_REPORT_KEY)
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    with st.spinner(t("ingest.page.validating")):
        report = validate.validate(ctx.engine, kind, data, file_name, principal=ctx.principal)
    st.session_state[_REPORT_KEY] = (cache_key, report)
    if not report.ok and report.already_batch is None:
        apply.record_refusal(ctx.engine, report, principal=ctx.principal)
    return report


def metrics(report: Report) -> None:
    counts = [("errors", report.n_errors), ("warnings", report.n_warnings), ("rows_added", report.added),
              ("rows_updated", report.updated), ("unchanged", report.unchanged), ("skipped", report.skipped)]
    for col, (key, value) in zip(st.columns(len(counts)), counts):
        col.metric(t(f"ingest.metric.{key}"), f"{value:,}")


def problems(ctx: Context, kind: str, report: Report) -> None:
    """Counts, summary and the table of problems (with its download)."""
    metrics(report)
    encoding = " · " + t("ingest.page.encoding", encoding=report.encoding) if report.encoding else ""
    st.caption(md(report.summary(ctx.lang) + encoding))
    frame = report.frame(ctx.lang)
    if len(frame):
        # Shown escaped too: the table's own download button bypasses fanpin.report.export.
        st.dataframe(safe_frame(frame), hide_index=True, width="stretch")
        download_table(ctx, frame, f"import_report_{kind}", key="import_report")


def apply_button(ctx: Context, kind: str, data: bytes, file_name: str) -> None:
    """Import the passed file; the outcome is flashed on the next run."""
    if not st.button(t("ingest.page.apply"), type="primary", key="import_apply"):
        return
    bar = st.progress(0.1, text=t("ingest.page.importing"))
    result = apply.import_file(ctx.engine, kind, data, file_name, principal=ctx.principal)
    msg = result.message(ctx.lang)
    bar.progress(1.0, text=md(msg))
    if result.merged_clues:
        msg += " " + t("ingest.page.merged", n=result.merged_clues)
    flash(PAGE, "success", msg)
    st.session_state.pop(_REPORT_KEY, None)
    st.rerun()


def upload_section(ctx: Context, kind: str) -> None:
    """Upload, the report, and the import button when the file passed."""
    upload = st.file_uploader(t("ingest.page.upload"), type=["csv", "xlsx", "txt"], key=f"import_file_{kind}")
    if upload is None:
        return
    data = upload.getvalue()
    report = checked(ctx, kind, data, upload.name)
    st.subheader(t("ingest.page.report"))
    if report.already_batch is not None:
        st.info(md(report.summary(ctx.lang)))
        return
    problems(ctx, kind, report)
    if report.ok:
        st.success(t("ingest.page.passed"))
        apply_button(ctx, kind, data, upload.name)
    else:
        st.error(t("ingest.page.failed"))


def batches_table(batches: pd.DataFrame) -> pd.DataFrame:
    """The recent batches with translated kinds, statuses and headers."""
    shown = batches.assign(
        kind=batches["kind"].map(lambda k: t(f"ingest.kind.{k}") if k in specs.SPECS else k),
        status=batches["status"].map(lambda s: t(f"ingest.status.{s}") if s in ("applied", "refused") else s),
        file_hash=batches["file_hash"].str[:12],
        imported_at=pd.to_datetime(batches["imported_at"]).dt.strftime("%Y-%m-%d %H:%M"),
    )
    shown.columns = [t(f"ingest.col.{c}") for c in shown.columns]
    return shown


def recent(ctx: Context) -> None:
    st.subheader(t("ingest.page.batches"))
    batches = apply.recent_batches(ctx.engine, principal=ctx.principal, limit=20)
    if batches.empty:
        st.caption(t("ingest.page.no_batches"))
    else:
        st.dataframe(safe_frame(batches_table(batches)), hide_index=True, width="stretch")


def main() -> None:
    ctx = page_context(PAGE)
    st.title(t("nav.import"))
    st.caption(t("ingest.page.intro"))
    show_flash(PAGE)
    kind = st.selectbox(t("ingest.page.kind"), specs.KINDS, format_func=lambda k: t(f"ingest.kind.{k}"), key=lkey("import_kind"))
    column_help(ctx, kind)
    upload_section(ctx, kind)
    recent(ctx)


main()
