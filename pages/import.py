"""数据导入 Import: a whole export workbook of the national monitoring system (tables recognised from
their headers), or one file of a kind (rosters, members, indicators, feeds, assistance, ...); the
county back out in the national layout; the demo county's sample workbook for workshops.

Thin: choose what to import, upload (or take the sample), read the validation report (errors
first), accept dropping unrecognised columns, check the fields an update changes, import; roll an
applied batch back (``fanpin.ui.import_widgets``).  Validation and writing live in ``fanpin.ingest`` (the
command line uses the same functions), the national-layout file in ``fanpin.report.national``.
"""

import pandas as pd
import streamlit as st

from fanpin.access.roles import can
from fanpin.demo import national_sample
from fanpin.ingest import apply, book, specs, validate, workbook
from fanpin.report import national
from fanpin.report.export import XLSX_MIME, safe_frame
from fanpin.ui.downloads import download_file, download_table
from fanpin.ui.i18n import lkey, t
from fanpin.ui.import_widgets import changes_view, first_error, report_table, rollback_section, upload_box
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

PAGE = "import"
WORKBOOK = "workbook"
_REPORT_KEY = "_import_report"


def national_section(ctx: Context) -> None:
    """The county in the national layout, and the sample workbook, for roles that may export."""
    if ctx.principal is None or not can(ctx.principal, "export"):
        return
    with st.expander(t("ingest.page.national"), expanded=False):
        st.caption(t("ingest.page.national_help"))
        unmasked = can(ctx.principal, "unmask") and st.checkbox(t("ingest.page.unmasked"), key="national_unmasked")
        panel = st.checkbox(t("ingest.page.with_panel"), key="national_panel")
        principal, engine = ctx.principal, ctx.engine
        download_file(
            ctx, lambda: national.national_workbook(engine, principal, unmasked=unmasked, panel=panel), "national_export.xlsx", XLSX_MIME,
            key="national_export", audit_name="national_export_unmasked" if unmasked else "national_export", fmt="xlsx", label=t("ingest.page.national_download"),
        )
        sample = national_sample.sample_bytes()
        if sample is not None:
            st.caption(t("ingest.page.sample_help"))
            download_file(ctx, lambda: sample, national_sample.SAMPLE_PATH.name, XLSX_MIME, key="national_sample", audit_name="national_sample", fmt="xlsx",
                          label=t("ingest.page.sample_download"))


def column_help(ctx: Context, kind: str) -> None:
    """The kind's columns and accepted values, and its template to download; for a workbook, the tables it may hold."""
    with st.expander(t("ingest.page.columns"), expanded=False):
        if kind == WORKBOOK:
            st.markdown(t("ingest.page.workbook_help"))
            for k in workbook.ORDER:
                st.markdown(f"**{t(f'ingest.kind.{k}')}**")
                st.dataframe(specs.column_help(k, ctx.lang), hide_index=True, width="stretch")
            return
        st.dataframe(specs.column_help(kind, ctx.lang), hide_index=True, width="stretch")
        st.markdown(f"**{t('ingest.page.template')}**")
        download_table(ctx, specs.template_frame(kind, ctx.lang), f"template_{kind}_{ctx.lang}", key=f"tpl_{kind}_{ctx.lang}")


def _is_already(report) -> bool:  # noqa: ANN001 - a Report or a WorkbookReport
    return report.already if kind_of(report) == WORKBOOK else report.already_batch is not None


def kind_of(report) -> str:  # noqa: ANN001 - a Report or a WorkbookReport
    return WORKBOOK if isinstance(report, workbook.WorkbookReport) else report.kind


def checked(ctx: Context, kind: str, data: bytes, file_name: str, accept: bool):  # noqa: ANN201 - a Report or a WorkbookReport
    """The file's report, validated once per file, acceptance and data version (a refusal is logged once too)."""
    cache_key = (kind, validate.file_hash(data), accept, ctx.data.version)
    cached = st.session_state.get(_REPORT_KEY)
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    with st.spinner(t("ingest.page.validating")):
        if kind == WORKBOOK:
            report = workbook.validate_workbook(ctx.engine, data, file_name, principal=ctx.principal, ignore_columns=accept)
        else:
            report = validate.validate(ctx.engine, kind, data, file_name, principal=ctx.principal, ignore_columns=accept)
    st.session_state[_REPORT_KEY] = (cache_key, report)
    if not report.ok and not _is_already(report):
        if kind == WORKBOOK:
            book.record_workbook_refusal(ctx.engine, report, principal=ctx.principal)
        else:
            apply.record_refusal(ctx.engine, report, principal=ctx.principal)
    return report


def _count(report, name: str) -> int:  # noqa: ANN001 - a Report or a WorkbookReport
    return report.count(name) if kind_of(report) == WORKBOOK else getattr(report, name)


def metrics(report) -> None:  # noqa: ANN001 - a Report or a WorkbookReport
    counts = [("errors", report.n_errors), ("warnings", report.n_warnings), ("rows_added", _count(report, "added")),
              ("rows_updated", _count(report, "updated")), ("unchanged", _count(report, "unchanged")), ("skipped", _count(report, "skipped"))]
    for col, (key, value) in zip(st.columns(len(counts)), counts):
        col.metric(t(f"ingest.metric.{key}"), f"{value:,}")


def problems(ctx: Context, report) -> None:  # noqa: ANN001 - a Report or a WorkbookReport
    """Counts, summary, the tables found (workbook) and the table of problems (with its download)."""
    metrics(report)
    encoding = " · " + t("ingest.page.encoding", encoding=report.encoding) if getattr(report, "encoding", "") else ""
    st.caption(md(report.summary(ctx.lang) + encoding))
    if kind_of(report) == WORKBOOK and report.parts:
        st.dataframe(safe_frame(report.tables(ctx.lang)), hide_index=True, width="stretch")
    frame = report.frame(ctx.lang)
    if len(frame):
        # Shown escaped too (formula-like cells quoted on screen as in the audited download below).
        st.dataframe(safe_frame(report_table(frame)), hide_index=True, width="stretch")
        download_table(ctx, frame, f"import_report_{kind_of(report)}", key="import_report")


def apply_button(ctx: Context, kind: str, data: bytes, file_name: str, accept: bool) -> None:
    """Import the passed file; the outcome is flashed on the next run."""
    if not st.button(t("ingest.page.apply"), type="primary", key="import_apply"):
        return
    bar = st.progress(0.1, text=t("ingest.page.importing"))
    if kind == WORKBOOK:
        result = book.import_workbook(ctx.engine, data, file_name, principal=ctx.principal, ignore_columns=accept)
    else:
        result = apply.import_file(ctx.engine, kind, data, file_name, principal=ctx.principal, ignore_columns=accept)
    msg = result.message(ctx.lang)
    bar.progress(1.0, text=md(msg))
    if result.merged_clues:
        msg += " " + t("ingest.page.merged", n=result.merged_clues)
    flash(PAGE, "success", msg)
    st.session_state.pop(_REPORT_KEY, None)
    st.rerun()


def the_file(kind: str) -> tuple[bytes, str] | None:
    """The uploaded file, or (for a workbook) the demo county's sample when the user takes it."""
    upload = upload_box(f"import_file_{kind}")
    if upload is not None:
        return upload.getvalue(), upload.name
    sample = national_sample.sample_bytes() if kind == WORKBOOK else None
    if sample is not None and st.toggle(t("ingest.page.use_sample"), key="import_use_sample"):
        return sample, national_sample.SAMPLE_PATH.name
    return None


def upload_section(ctx: Context, kind: str) -> None:
    """Upload, the report, the acceptance of dropped columns, and the import button when the file passed."""
    found = the_file(kind)
    if found is None:
        return
    data, name = found
    accept = bool(st.session_state.get("import_accept_columns", False))
    report = checked(ctx, kind, data, name, accept)
    st.subheader(t("ingest.page.report"))
    if _is_already(report):
        st.info(md(report.summary(ctx.lang)))
        return
    problems(ctx, report)
    if report.unaccepted_columns or accept:
        st.checkbox(t("ingest.page.accept_columns", columns=md("、".join(report.unaccepted_columns))), key="import_accept_columns")
    if report.ok:
        changes_view(report)  # every field an update changes, before the import button
        st.success(t("ingest.page.passed"))
        apply_button(ctx, kind, data, name, accept)
    else:
        first = first_error(report)
        st.error(t("ingest.page.first_error", message=md(first)) if first else t("ingest.page.failed"))


def _kind_label(k: str) -> str:
    return t(f"ingest.kind.{k}") if k in specs.SPECS or k == WORKBOOK else k


def batches_table(batches: pd.DataFrame) -> pd.DataFrame:
    """The recent batches with translated kinds, statuses and headers."""
    shown = batches.assign(
        kind=batches["kind"].map(_kind_label),
        status=batches["status"].map(lambda s: t(f"ingest.status.{s}") if s in ("applied", "refused", "rolled_back") else s),
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
    rollback_section(ctx, PAGE, _kind_label, _REPORT_KEY)


def main() -> None:
    ctx = page_context(PAGE)
    st.title(t("nav.import"))
    st.caption(t("ingest.page.intro"))
    show_flash(PAGE)
    national_section(ctx)
    kind = st.selectbox(t("ingest.page.kind"), (WORKBOOK, *specs.KINDS), format_func=_kind_label, key=lkey("import_kind"))
    column_help(ctx, kind)
    upload_section(ctx, kind)
    recent(ctx)


main()
