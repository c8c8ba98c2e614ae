"""The monthly brief's buttons on a province's or city's overview: build it, then download the .docx and .xlsx.

As on the county's overview (``fanpin.ui.brief``): building (``fanpin.report.region_brief.
produce_region_brief``, as the logged-in principal, from the region's sums the page already holds,
so the brief says what the page says) runs in the background (``fanpin.ui.jobs``) and writes the
``brief`` audit row to the app's database; each download goes through the one audited download
path (``download_file``: the export right checked, one ``export`` row).  A role without the export
right sees neither the build button nor the downloads.  The brief holds aggregates only.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from fanpin.access.roles import can
from fanpin.engine import regional
from fanpin.engine.scoring import RiskPolicy
from fanpin.report.export import DOCX_MIME, XLSX_MIME
from fanpin.ui import jobs
from fanpin.ui import region as R
from fanpin.ui.downloads import download_file
from fanpin.ui.i18n import t
from fanpin.ui.sidebar import Context

#: At most this many built briefs are kept per session (a few regions and months, two languages).
MAX_CACHED = 4
#: One region brief job per user (the county's brief is another job: both may be asked for).
JOB = "region_brief"


def _key(ctx: Context, prov: R.Province, region: str, period: int, policy: RiskPolicy, by: str | None, names: dict[str, str]) -> tuple:
    """One brief per (store version, baseline, region, month, children, names, language) and session."""
    digest = hashlib.sha256((policy.to_json() + repr(sorted(names.items()))).encode()).hexdigest()[:16]
    return (prov.root, prov.version, digest, region, int(period), by, ctx.lang)


def _make(inputs: dict, report: jobs.Report) -> dict:
    """The background job: figures, chart, the .docx and .xlsx, the ``brief`` audit row (no Streamlit here)."""
    from fanpin.report.region_brief import produce_region_brief

    args = dict(inputs)
    name, key = args.pop("name"), args.pop("key")
    report("figures", 0.1)
    made = produce_region_brief(**args)
    report("document", 0.9)
    return {"docx": made.docx, "xlsx": made.xlsx, "name": name, "key": key}


def _built(ctx: Context, cache: dict, key: tuple, where, inputs: dict) -> dict | None:  # noqa: ANN001 - a Streamlit placeholder
    """The build button; its click starts the brief in the background, whose progress is drawn until
    it is done; the finished brief is kept in ``cache`` under the key it was made for."""
    place = R.region_label(inputs["region"], inputs["names"].get(ctx.lang))
    job_inputs = {**inputs, "key": key}
    result = jobs.on_click(where, ctx.principal.username, JOB, "job.brief",
                           lambda: where.button(t("region_brief.ui.button", place=place), key="pv_brief", help=t("region_brief.ui.help"), icon="📄"),
                           lambda: lambda report: _make(job_inputs, report))
    if result is None:
        return None
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[result["key"]] = result
    return cache.get(key) or _built(ctx, cache, key, where, inputs)


def region_brief_download(ctx: Context, prov: R.Province, region: str, period: int, policy: RiskPolicy, by: str | None = "city",
                          names: dict[str, str] | None = None) -> None:
    """Offer the region's brief for the month (.docx) and its tables (.xlsx), for roles with the
    export right.  ``policy``: the overview's baseline (``R.baseline``); ``by``: a province's
    children (cities, or counties as the overview groups them); ``names``: region code -> name in
    the user's language, as the overview labels them (codes' labels otherwise).

    The first click builds both from the region's cached sums (checked for this principal) and
    writes the ``brief`` audit row; they are kept in the session per store version, baseline,
    region, month, children and language, so reruns do not rebuild.  Each download writes its
    own ``export`` row."""
    if ctx.principal is None or not can(ctx.principal, "export"):
        return
    regional.check_region(ctx.principal, region)
    cache: dict = st.session_state.setdefault("_region_briefs", {})
    names = dict(names or {})
    key = _key(ctx, prov, region, period, policy, by, names)
    row = st.container(horizontal=True, gap="small")  # buttons as wide as their labels
    first = row.empty()  # the build button, replaced in place by the Word download once built
    made = cache.get(key)
    if made is None:
        inputs = {
            "engine": R.engine(prov), "principal": ctx.principal, "region": region, "period": int(period), "policy": policy, "lang": ctx.lang,
            "agg": R.aggregates(prov, ctx.principal, region, policy),  # the overview's cached sums: the same numbers as the page
            "by": by, "names": {ctx.lang: names}, "audit_db": ctx.data.engine, "name": t("region_brief.file", region=regional.short(region), period=int(period)),
        }
        made = _built(ctx, cache, key, first, inputs)
    if made is None:
        return
    name, audit = made["name"], f"brief_{regional.short(region)}_{int(period)}"
    download_file(ctx, lambda: made["docx"], f"{name}.docx", DOCX_MIME, "pv_brief_docx", audit_name=audit, fmt="docx",
                  where=first, label=t("region_brief.ui.download_docx"), icon="📄")
    download_file(ctx, lambda: made["xlsx"], f"{name}.xlsx", XLSX_MIME, "pv_brief_xlsx", audit_name=audit, fmt="xlsx",
                  where=row, label=t("region_brief.ui.download_xlsx"), icon="📊")
