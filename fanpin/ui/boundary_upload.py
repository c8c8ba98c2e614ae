"""The analytic store's boundaries on the administrator's page: what is kept, and a GIS export kept
after the same checks as ``fanpin snapshot boundaries`` (``fanpin.geo.boundaries``), audited.

A refused file changes nothing and says why in the reader's language (the county map's problem
messages); a county the file lacks is named, and drawn as missing on the map.
"""

from __future__ import annotations

import streamlit as st

from fanpin.access.audit import record
from fanpin.geo.boundaries import LEVELS, check_boundaries, store_codes
from fanpin.geo.geojson import describe_problems
from fanpin.store.snapshot import SnapshotStore
from fanpin.ui import region as R
from fanpin.ui.i18n import t
from fanpin.ui.sidebar import Context
from fanpin.ui.text import md

#: The order the levels are offered in (the county's first: what a province map draws).
OFFERED = ("county", "township", "city", "province")
AUDIT_ACTION = "boundaries"


def boundaries_tab(ctx: Context) -> None:
    prov = R.configured()
    if prov is None:
        st.info(t("boundaries.ui_no_store"))
        return
    store = SnapshotStore(prov.root)
    top = st.empty()  # what is kept: written last, after a file the click kept
    try:
        _upload(ctx, prov, store)
    finally:
        kept = {lv: store.read_boundaries(lv) for lv in LEVELS}
        shown = _sep(ctx.lang).join(t("boundaries.ui_count", n=len(fc["features"]), level=t(f"boundaries.level_{lv}")) for lv, fc in kept.items() if fc)
        top.caption(t("boundaries.ui_kept", kept=shown or t("boundaries.ui_none")))


def _upload(ctx: Context, prov: R.Province, store: SnapshotStore) -> None:
    level = st.radio(t("boundaries.ui_level"), OFFERED, format_func=lambda lv: t(f"boundaries.level_{lv}"), horizontal=True, key="ad_bd_level")
    upload = st.file_uploader(t("boundaries.ui_file"), type=["geojson", "json"], key="ad_bd_file", help=t("boundaries.ui_help"))
    if upload is None or not st.button(t("boundaries.ui_keep"), key="ad_bd_keep"):
        return
    checked = check_boundaries(upload.getvalue(), level, store_codes(store, level))
    if checked.fc is None:
        lines = describe_problems(checked.problems, ctx.lang)
        st.error(t("boundaries.refused", file=md(upload.name)) + "\n\n" + "\n".join(f"- {md(line)}" for line in lines))
        return
    store.write_boundaries(level, checked.fc)
    record(ctx.data.engine, ctx.principal.actor, AUDIT_ACTION, target=level,
           detail={"features": len(checked.fc["features"]), "missing": len(checked.missing), "file": upload.name[-64:]})
    st.success(t("boundaries.kept", n=len(checked.fc["features"]), level=t(f"boundaries.level_{level}"), path=md(upload.name)))
    if checked.missing:
        names = R.store_names(prov, ctx.lang)
        st.warning(t("boundaries.missing", n=len(checked.missing), codes=md(_sep(ctx.lang).join(R.region_label(c, names) for c in checked.missing[:20]))))


def _sep(lang: str) -> str:
    return "、" if lang == "zh" else ", "
