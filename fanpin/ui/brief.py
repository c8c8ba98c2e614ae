"""The monthly brief's download button on the overview page."""

from __future__ import annotations

import streamlit as st

from fanpin.ui.i18n import t

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _key(ctx) -> tuple:  # noqa: ANN001
    """One brief per (database, data version, month, language, township scope) and session."""
    scope = ctx.principal.townships if ctx.principal is not None else None
    return (ctx.data.url, ctx.data.version, int(ctx.period), ctx.lang, tuple(sorted(scope)) if scope is not None else None)


def _build(ctx) -> dict:  # noqa: ANN001
    from fanpin.report.document import produce

    data = ctx.data
    policy = data.baseline(ctx.period)
    ps = data.panel_scores(policy)  # the overview's cached panel: the same numbers as the page
    model = data.model()  # RiskModel, a refusal message, or None
    scores = None
    if model is not None and not isinstance(model, str):
        try:
            scores = data.model_scores(model, ctx.period)
        except Exception:  # noqa: BLE001 - the brief says why the model could not score (compute_brief retries and reports)
            scores = None
    made = produce(data.engine, ctx.period, ctx.lang, ctx.actor, ps=ps, policy_name=policy.name, principal=ctx.principal, model=model, use_saved_model=False, model_scores=scores)
    return {"docx": made.docx, "xlsx": made.xlsx, "name": t("brief.file", period=ctx.period)}


def brief_download(ctx) -> None:  # noqa: ANN001
    """Offer the month's brief (.docx) and its tables (.xlsx) for download.

    The first click builds both (and writes the audit row); they are kept in the session per
    data version, month and language, so reruns and later clicks do not rebuild.
    """
    cache: dict = st.session_state.setdefault("_briefs", {})
    key = _key(ctx)
    made = cache.get(key)
    cols = st.columns([1, 1, 3])
    first = cols[0].empty()  # the build button, replaced in place by the Word download once built
    if made is None:
        if first.button(t("brief.ui.button"), key="ov_brief", help=t("brief.ui.help"), icon="📄"):
            with st.spinner(t("brief.ui.building")):
                try:
                    made = _build(ctx)
                except Exception as exc:  # noqa: BLE001 - shown to the user, the page goes on
                    st.error(t("brief.ui.failed", error=str(exc)))
                    return
            if len(cache) >= 4:
                cache.clear()  # a few months' briefs at most per session
            cache[key] = made
    if made is not None:
        first.download_button(t("brief.ui.download_docx"), made["docx"], file_name=f"{made['name']}.docx", mime=DOCX_MIME, key="ov_brief_docx", icon="📄")
        cols[1].download_button(t("brief.ui.download_xlsx"), made["xlsx"], file_name=f"{made['name']}.xlsx", mime=XLSX_MIME, key="ov_brief_xlsx", icon="📊")
