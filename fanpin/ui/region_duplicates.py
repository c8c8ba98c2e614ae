"""The same person registered in more than one household, on a province's or city's overview.

Finding them needs every county's members side by side (``ProvinceEngine.duplicates``: a shuffle by
the keyed hash of the ID number, on Dask or in this process), about 24 s for 5M households in one
process, so it runs as a background job on a click (``fanpin.ui.jobs``) and its answer is kept in the session per
store version and region.  A leader above the county sees counts by county; a role that may view
households (an administrator) also gets the households, numbered by person (never the hash), through
the one audited download.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.engine import regional
from fanpin.ui import jobs
from fanpin.ui import region as R
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import t
from fanpin.ui.sidebar import Context
from fanpin.ui.tables import fit_width

JOB = "region_duplicates"


def _find(engine, principal, region: str, key: tuple, report: jobs.Report) -> dict:  # noqa: ANN001 - a ProvinceEngine, a Principal
    """The background job (no Streamlit here)."""
    report("loading", 0.1)
    found = regional.region_duplicates(engine, principal, region)
    report("done", 1.0)
    return {"key": key, "found": found}


def duplicates_section(ctx: Context, prov: R.Province, region: str, names: dict[str, str]) -> None:
    """The section: a button, the job's progress, then the counts by county (and the households)."""
    st.subheader(t("province.dup_title"))
    st.caption(t("province.dup_caption"))
    cache: dict = st.session_state.setdefault("_region_duplicates", {})
    key = (prov.root, prov.version, region, ctx.principal.username)
    found = cache.get(key)
    if found is None:
        def prepare() -> Callable[[jobs.Report], object]:
            regional.check_region(ctx.principal, region)
            eng, who = R.engine(prov), ctx.principal
            return lambda report: _find(eng, who, region, key, report)

        result = jobs.on_click(st, ctx.principal.username, JOB, "job.duplicates", lambda: st.button(t("province.dup_button"), key="pv_dup"), prepare)
        if result is None:
            return
        cache.clear()  # one region's answer at a time per session
        cache[result["key"]] = result["found"]
        found = cache.get(key)
        if found is None:  # the job was for another region or store version: ask again
            return
    show(ctx, found, region, names)


def show(ctx: Context, found: pd.DataFrame, region: str, names: dict[str, str]) -> None:
    by = regional.duplicates_by_county(found, region)
    if by.empty:
        st.success(t("province.dup_none"))
        return
    people = found["person_key"].nunique()
    across = int((found.groupby("person_key")["county_code"].nunique() > 1).sum())
    st.markdown(t("province.dup_summary", people=fmt.count(people, ctx.lang), across=fmt.count(across, ctx.lang)))
    shown = by.assign(region=[R.region_label(c, names) for c in by["region_code"]])
    heads = {"region": t("province.region_col"), "people": t("province.dup_people"), "across_counties": t("province.dup_across"),
             "households": t("common.households")}
    config = {c: st.column_config.Column(h, width=fit_width([], h) if c != "region" else fit_width(shown["region"].tolist(), h)) for c, h in heads.items()}
    st.dataframe(shown[list(heads)], hide_index=True, column_config=config, key="pv_dup_table", width="content")
    if can(ctx.principal, "household_view"):
        rows = found.assign(person=pd.factorize(found["person_key"], sort=True)[0] + 1,
                            county=[R.region_label(str(c).ljust(12, "0"), names) for c in found["county_code"]])
        labels = {"person": t("province.dup_person"), "county": t("province.region_col"), "household_id": t("common.household_id")}
        download_table(ctx, rows[list(labels)], f"duplicates_{regional.short(region)}", "pv_dup_dl", labels=labels)
