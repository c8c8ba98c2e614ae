"""The monthly brief's buttons on the overview page: build it, then download the .docx and .xlsx.

Building (``fanpin.report.document.produce``, as the logged-in principal) runs in the background
(``fanpin.ui.jobs``: the page stays usable, the progress is shown) and writes the ``brief`` audit row; each download goes through the one audited download path (``download_file``:
the export right checked, one ``export`` row).  A role without the export right sees neither
the build button nor the downloads.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fanpin.access.roles import can
from fanpin.report.export import DOCX_MIME, XLSX_MIME
from fanpin.ui import jobs
from fanpin.ui.downloads import download_file
from fanpin.ui.i18n import t
from fanpin.ui.sidebar import Context

#: At most this many built briefs are kept per session (a few months, two languages).
MAX_CACHED = 4


def _key(ctx: Context, township: str | None = None) -> tuple:
    """One brief per (database, data version, month, language, township scope, township) and session."""
    scope = ctx.principal.townships
    return (ctx.data.url, ctx.data.version, int(ctx.period), ctx.lang, tuple(sorted(scope)) if scope is not None else None, township)


def _inputs(ctx: Context, township: str | None = None) -> dict:
    """What the brief is made from, gathered on the page's run (the cached panel, the model)."""
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
    return {
        "engine": data.engine, "period": ctx.period, "lang": ctx.lang, "principal": ctx.principal, "ps": ps, "policy_name": policy.name,
        "model": model, "model_scores": scores, "name": t("brief.file", period=ctx.period) + (f"_{township}" if township else ""), "township": township,
    }


def _make(inputs: dict, report: jobs.Report) -> dict:
    """The background job: figures, charts, the .docx and .xlsx, the ``brief`` audit row."""
    from fanpin.report.document import produce

    args = dict(inputs)
    name, key = args.pop("name"), args.pop("key")
    report("figures", 0.1)
    made = produce(args.pop("engine"), args.pop("period"), args.pop("lang"), use_saved_model=False, **args)
    return {"docx": made.docx, "xlsx": made.xlsx, "name": name, "key": key}


#: One brief job per user: a language switch or another month while it runs still shows it.
JOB = "brief"


def _built(ctx: Context, cache: dict, key: tuple, where, township: str | None = None) -> dict | None:  # noqa: ANN001 - a Streamlit placeholder
    """The build button; its click starts the brief in the background (the page stays usable),
    whose progress is drawn until it is done; the finished brief is kept in ``cache`` under the
    month, language and scope it was made for."""
    def prepare() -> Callable[[jobs.Report], object]:
        inputs = {**_inputs(ctx, township), "key": key}  # gathered on the page's run, on the click only
        return lambda report: _make(inputs, report)

    result = jobs.on_click(where, ctx.principal.username, JOB, "job.brief",
                           lambda: where.button(t("brief.ui.button"), key="ov_brief", help=t("brief.ui.help"), icon="📄"), prepare)
    if result is None:
        return None
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[result["key"]] = result
    return cache.get(key) or _built(ctx, cache, key, where, township)


def brief_download(ctx: Context, township: str | None = None) -> None:
    """Offer the month's brief (.docx) and its tables (.xlsx) for download: the township's brief
    when ``township`` is given (the overview filtered to it).

    The first click builds both (and writes the ``brief`` audit row); they are kept in the
    session per data version, month, language and scope, so reruns do not rebuild.  Each
    download writes its own ``export`` row.
    """
    if not can(ctx.principal, "export"):
        return
    cache: dict = st.session_state.setdefault("_briefs", {})
    key = _key(ctx, township)
    row = st.container(horizontal=True, gap="small")  # buttons as wide as their labels (a column cut "Build the monthly…")
    first = row.empty()  # the build button, replaced in place by the Word download once built
    made = cache.get(key) or _built(ctx, cache, key, first, township)
    if made is None:
        return
    name = made["name"]
    download_file(
        ctx, lambda: made["docx"], f"{name}.docx", DOCX_MIME, "ov_brief_docx", audit_name=f"brief_{ctx.period}", fmt="docx",
        where=first, label=t("brief.ui.download_docx"), icon="📄",
    )
    download_file(
        ctx, lambda: made["xlsx"], f"{name}.xlsx", XLSX_MIME, "ov_brief_xlsx", audit_name=f"brief_{ctx.period}", fmt="xlsx",
        where=row, label=t("brief.ui.download_xlsx"), icon="📊",
    )
