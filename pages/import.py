"""数据导入 Import: rosters, members, indicator updates, department feeds, assistance, comparison data.

Thin: choose a kind, download its template, upload, read the validation report, import.
Validation and writing live in ``fanpin.ingest`` (the command line uses the same functions).
"""

import pandas as pd
import streamlit as st

from fanpin.ingest import apply, specs, validate
from fanpin.report.export import safe_frame
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lkey, t
from fanpin.ui.sidebar import page_context

ctx = page_context("import")
engine, lang = ctx.data.engine, ctx.lang
ss = st.session_state

st.title(t("nav.import"))
st.caption(t("ingest.page.intro"))

flash = ss.pop("_import_flash", None)
if flash:
    st.success(flash)

kind = st.selectbox(t("ingest.page.kind"), specs.KINDS, format_func=lambda k: t(f"ingest.kind.{k}"), key=lkey("import_kind"))

with st.expander(t("ingest.page.columns"), expanded=False):
    st.dataframe(specs.column_help(kind, lang), hide_index=True, width="stretch")
    st.markdown(f"**{t('ingest.page.template')}**")
    download_table(ctx, specs.template_frame(kind, lang), f"template_{kind}_{lang}", key=f"tpl_{kind}_{lang}")

upload = st.file_uploader(t("ingest.page.upload"), type=["csv", "xlsx", "txt"], key=f"import_file_{kind}")

if upload is not None:
    data = upload.getvalue()
    digest = validate.file_hash(data)
    cache_key = (kind, digest, ctx.data.version)
    cached = ss.get("_import_report")
    if cached is not None and cached[0] == cache_key:
        report = cached[1]
    else:
        with st.spinner(t("ingest.page.validating")):
            report = validate.validate(engine, kind, data, upload.name)
        ss["_import_report"] = (cache_key, report)
        if not report.ok and report.already_batch is None:
            apply.record_refusal(engine, report, ctx.actor)  # once per file and data version

    st.subheader(t("ingest.page.report"))
    if report.already_batch is not None:
        st.info(report.summary(lang))
    else:
        c = st.columns(6)
        for col, (key, value) in zip(c, [("errors", report.n_errors), ("warnings", report.n_warnings), ("rows_added", report.added), ("rows_updated", report.updated), ("unchanged", report.unchanged), ("skipped", report.skipped)]):
            col.metric(t(f"ingest.metric.{key}"), f"{value:,}")
        st.caption(report.summary(lang) + (" · " + t("ingest.page.encoding", encoding=report.encoding) if report.encoding else ""))
        frame = report.frame(lang)
        if len(frame):
            # Shown escaped too: the table's own download button bypasses fanpin.export.
            st.dataframe(safe_frame(frame), hide_index=True, width="stretch")
            download_table(ctx, frame, f"import_report_{kind}", key="import_report")
        if report.ok:
            st.success(t("ingest.page.passed"))
            if st.button(t("ingest.page.apply"), type="primary", key="import_apply"):
                bar = st.progress(0.1, text=t("ingest.page.importing"))
                result = apply.import_file(engine, kind, data, upload.name, ctx.actor, principal=ctx.principal)
                bar.progress(1.0, text=result.message(lang))
                msg = result.message(lang)
                if result.merged_clues:
                    msg += " " + t("ingest.page.merged", n=result.merged_clues)
                ss["_import_flash"] = msg
                ss.pop("_import_report", None)
                st.rerun()
        else:
            st.error(t("ingest.page.failed"))

st.subheader(t("ingest.page.batches"))
batches = apply.recent_batches(engine, 20)
if batches.empty:
    st.caption(t("ingest.page.no_batches"))
else:
    shown = batches.assign(
        kind=batches["kind"].map(lambda k: t(f"ingest.kind.{k}") if k in specs.SPECS else k),
        status=batches["status"].map(lambda s: t(f"ingest.status.{s}") if s in ("applied", "refused") else s),
        file_hash=batches["file_hash"].str[:12],
        imported_at=pd.to_datetime(batches["imported_at"]).dt.strftime("%Y-%m-%d %H:%M"),
    )
    shown.columns = [t(f"ingest.col.{c}") for c in shown.columns]
    st.dataframe(safe_frame(shown), hide_index=True, width="stretch")
