"""农户画像 Household profile: one household's facts, risk and reasons, history, members, timeline, 幸福清单.

Open with ``?household=<id>`` to land on a household (other pages link here).
Every render of a household's detail is written to the audit log; personal data
stay masked unless a role that needs them unmasks one household, which is
logged as well.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.core import fmt
from fanpin.core.i18n import LANGS
from fanpin.core.periods import format_period
from fanpin.engine.scoring import RiskPolicy
from fanpin.ui import profile_views as V
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md
from fanpin.ui.workflow_widgets import codes_text, refusal_text
from fanpin.workflow import profile as P
from fanpin.workflow import standing as SD
from fanpin.workflow import timeline as TL

PAGE = "profile"
SEARCH_LIMIT = 500


def follow_link() -> None:
    """A link from another page (``?household=<id>``) fills the search once."""
    linked = st.query_params.get("household")
    if linked and linked != st.session_state.get("pf_linked"):
        st.session_state["pf_linked"] = linked
        st.session_state["pf_search"] = str(linked)[:40]
        for name in ("pf_township", "pf_village", "pf_household"):
            st.session_state.pop(name, None)
            for code in LANGS:
                st.session_state.pop(f"{name}_{code}", None)


def pick_household(ctx: Context, tnames: dict[str, str], vnames: dict[str, str]) -> str | None:
    """ID prefix and/or township and village (a case worker's own only) -> one household, or None."""
    areas, lang, everything = P.search_areas(ctx.data.regions(), principal=ctx.principal), ctx.lang, t("common.all")
    c1, c2, c3 = st.columns([2, 1, 1])
    query = c1.text_input(t("profile.search"), key="pf_search", max_chars=40, placeholder=t("profile.search_placeholder"), persist_state="session")
    township = V.kept_choice(c2, t("common.township"), ["", *areas.townships], lambda c: tnames.get(c, c) if c else everything, "pf_township", lang)
    parent_of = areas.parent_of

    def village_label(c: str) -> str:
        if not c:
            return everything
        return vnames.get(c, c) if township else f"{vnames.get(c, c)} · {tnames.get(parent_of.get(c), '')}"

    village = V.kept_choice(c3, t("common.village"), ["", *areas.villages_in(township)], village_label, "pf_village", lang)
    if not (query or "").strip() and not township and not village:
        st.info(t("profile.pick_hint"))
        return None
    found = P.find_households(ctx.engine, query, township or None, village or None, limit=SEARCH_LIMIT, principal=ctx.principal)
    if found.empty:
        st.warning(t("profile.none_found"))
        return None
    about = {r.household_id: f"{r.household_id} · {vnames.get(r.village_code, r.village_code)} · {lbl('household_type', r.household_type)}" for r in found.itertuples(index=False)}
    hid = V.kept_choice(st, t("profile.household"), list(about), about.get, "pf_household", lang)
    st.caption(t("profile.more", n=SEARCH_LIMIT) if len(about) >= SEARCH_LIMIT else t("profile.found", n=fmt.count(len(about), lang)))
    st.query_params["household"] = hid  # the URL now names this household and can be shared
    st.session_state["pf_linked"] = hid
    return hid


def on_unmask(ctx: Context, household_id: str) -> None:
    try:  # refused for a role that may not, or a household outside a case worker's townships
        P.unmask(ctx.engine, ctx.principal, household_id, detail={"period": ctx.period, "page": PAGE})
    except AccessDenied:
        st.session_state.pop("pf_unmasked", None)
        return
    st.session_state["pf_unmasked"] = household_id  # one household at a time


def on_mask_again() -> None:
    st.session_state.pop("pf_unmasked", None)


def log_once(ctx: Context, hid: str) -> None:
    """One view entry per household per session (not one per rerun)."""
    viewed = st.session_state.setdefault("_pf_viewed", set())
    if hid not in viewed:
        P.log_view(ctx.engine, hid, principal=ctx.principal, detail={"period": ctx.period, "page": PAGE})
        viewed.add(hid)


def header(ctx: Context, detail: P.HouseholdDetail, sd: SD.Standing | None, policy: RiskPolicy, names: tuple[dict, dict], unmasked: bool) -> None:
    """Who and where, badges for type and monitoring status, this month's score, the facts."""
    hh, status, (tnames, vnames) = detail.household, detail.monitoring_status(), names
    village, town = vnames.get(hh["village_code"], hh["village_code"]), tnames.get(hh["township_code"], hh["township_code"])
    st.header(t("profile.header", id=md(detail.household_id), village=md(village), township=md(town)))
    badges = [f":blue-badge[{lbl('household_type', hh['household_type'])}]"]
    if status is None:
        badges.append(f":gray-badge[{t('profile.not_monitored')}]")
    else:
        colour = "orange" if status["status"] == "monitored" else "green"
        badges += [f":{colour}-badge[{lbl(k, status[c])}]" for k, c in (("monitoring_status", "status"), ("category", "category")) if status.get(c)]
    if hh["no_labour_guarantee"]:
        badges.append(f":violet-badge[{t('profile.guarantee_badge')}]")
    st.markdown(" ".join(badges))
    m = st.columns(4)
    m[0].metric(t("common.score"), f"{sd.score:.1f}" if sd else "—")
    m[1].metric(t("common.tier"), lbl("tier", sd.tier) if sd else "—", help=t("profile.tier_help", yellow=f"{policy.cutoffs[0]:g}", red=f"{policy.cutoffs[1]:g}") if sd else None)
    m[2].metric(t("profile.size"), t("profile.unit.persons", n=hh["size"]))
    m[3].metric(t("profile.labour"), t("profile.labour_value", n=hh["n_labour"], weak=hh["n_weak_labour"]), help=t("profile.labour_help"))
    yes_no = {True: t("profile.yes"), False: t("profile.no")}

    def num(col: str) -> str:
        return "—" if pd.isna(hh.get(col)) else f"{hh[col]:g}"

    facts = [
        t("profile.phone", phone=P.phone_shown(hh, unmasked) or "—"), t("profile.farmland", mu=num("farmland_mu")), t("profile.house_area", m2=num("house_area")),
        t("profile.road", km=num("road_distance_km")), t("profile.cooperative", v=yes_no[bool(hh["in_cooperative"])]), t("profile.relocated", v=yes_no[bool(hh["relocated"])]),
    ]
    if status is not None and status.get("risk_types"):
        facts.append(t("profile.risk_types", v=codes_text(status["risk_types"], "risk")))
    st.caption(md(" · ".join(facts)))


def audit_trail(ctx: Context, hid: str) -> None:
    """Who looked at this household: the administrator reviews the trail."""
    if not can(ctx.principal, "audit_view"):
        return
    with st.expander(t("profile.audit_title")):
        trail = P.audit_entries(ctx.engine, principal=ctx.principal, target=hid, limit=50)
        shown = trail.assign(action=[lbl("audit_action", a) for a in trail["action"]], actor=[lbl("role", a) for a in trail["actor"]])[["at", "actor", "action", "detail"]]
        cfg = {"at": st.column_config.DatetimeColumn(t("profile.audit_at"), format="YYYY-MM-DD HH:mm:ss")}
        cfg |= {c: st.column_config.TextColumn(t(f"profile.audit_{c}")) for c in ("actor", "action", "detail")}
        st.dataframe(shown, hide_index=True, width="stretch", key="pf_audit", column_config=cfg)


def reasons(ctx: Context, sd: SD.Standing, policy: RiskPolicy) -> None:
    """Why this tier: points per indicator, warning lines hit, the rule that forced the tier, gaps."""
    lang, line = ctx.lang, policy.income_line
    left, right = st.columns([3, 2])
    rs = sd.reasons(top=12)
    if rs.empty:
        left.info(t("profile.no_reasons"))
    else:
        left.plotly_chart(V.contribution_figure(rs, sd.score), width="stretch", key="pf_contrib")
        left.caption(t("profile.contrib_legend"))
    with right:
        hits = sd.indicators[sd.indicators["hit"]]
        st.markdown(f"**{t('profile.lines_hit', n=len(hits))}**")
        if hits.empty:
            st.caption(t("profile.no_lines_hit"))
        for r in hits.itertuples(index=False):
            st.markdown("- " + t("profile.line_item", indicator=lbl("indicator", r.key), value=SD.format_indicator(r.key, r.value, lang, line),
                                 line=SD.line_text(r.key, r.warning_line, lang)))
        forced = SD.forced_reason(sd, line, lang)
        if forced:
            st.warning(forced)
        gaps = sd.indicators[sd.indicators["missing"]]
        if len(gaps):
            st.info(t("profile.missing", items="、".join(lbl("indicator", k) for k in gaps["key"])))
        st.caption(t("profile.confirm_note"))
        V.model_suggests(ctx, sd.household_id)
    with st.expander(t("profile.indicators_title"), expanded=False):
        indicator_table(ctx, sd, line)


def indicator_table(ctx: Context, sd: SD.Standing, line: float) -> None:
    shown = V.indicator_frame(sd.indicators, ctx.lang, line)
    st.dataframe(shown.style.apply(lambda r: ["background-color: #fde2e1" if r["hit"] else ""] * len(r), axis=1), hide_index=True, width="stretch",
                 height=35 * (len(shown) + 1) + 3, key="pf_indicators", column_config=V.indicator_columns())
    download_table(ctx, shown, f"indicators_{sd.household_id}_{ctx.period}", "pf_indicators_dl", labels={c: t(f"profile.col.{c}") for c in shown.columns})


def history(ctx: Context, ps, hid: str, policy: RiskPolicy) -> None:  # noqa: ANN001 - PanelScores
    hist = SD.score_history(ps, hid)
    st.subheader(t("profile.history_title"))
    if not hist["score"].notna().any():
        st.info(t("profile.no_history"))
        return
    score, income = V.history_figures(hist, ctx.period, policy.cutoffs)
    h1, h2 = st.columns(2)
    h1.plotly_chart(score, width="stretch", key="pf_history_score")
    h2.plotly_chart(income, width="stretch", key="pf_history_income")


def members_tab(ctx: Context, detail: P.HouseholdDetail, unmasked: bool) -> None:
    mm = P.members_masked(detail.members, unmask=unmasked, as_of=ctx.period)
    if mm.empty:
        st.caption(t("profile.no_members"))
    else:
        people = V.members_frame(mm)
        st.dataframe(people, hide_index=True, width="stretch", column_config=V.member_columns(people), key="pf_members")
        if not unmasked:  # downloads carry masked data only
            download_table(ctx, people, f"members_{detail.household_id}", "pf_members_dl", labels={c: t(f"profile.mcol.{c}") for c in people.columns})
    if not P.can_unmask(ctx.principal):
        st.caption(t("profile.masked_note", role=lbl("role", ctx.role)))
    elif unmasked:
        st.warning(t("profile.unmasked_note"))
        st.button(t("profile.mask_again"), on_click=on_mask_again, key="pf_mask_again")
    else:
        st.button(t("profile.unmask"), on_click=on_unmask, args=(ctx, detail.household_id), key="pf_unmask", help=t("profile.unmask_help"))


def timeline_tab(ctx: Context, detail: P.HouseholdDetail, periods: list[int]) -> None:
    tl = TL.timeline(detail)
    if tl.empty:
        st.caption(t("profile.no_timeline"))
        return
    shown = V.timeline_frame(tl, ctx.lang)
    st.plotly_chart(V.timeline_figure(shown, periods), width="stretch", key="pf_timeline")
    table = shown[["month", "kind_label", "what", "amount_text", "note"]]
    labels = {"month": t("common.month"), "kind_label": t("profile.col.kind"), "what": t("profile.col.what"), "amount_text": t("profile.col.amount"), "note": t("profile.col.note")}
    st.dataframe(table, hide_index=True, width="stretch", key="pf_timeline_table", column_config={k: st.column_config.TextColumn(v) for k, v in labels.items()})
    download_table(ctx, table, f"timeline_{detail.household_id}", "pf_timeline_dl", labels=labels)


def cases_tab(ctx: Context, detail: P.HouseholdDetail, tnames: dict[str, str]) -> None:
    """Clues, orders and the monitoring record of the household."""
    parts = (("clues", "profile.ccol", V.clues_frame(detail.clues, ctx.lang) if len(detail.clues) else None),
             ("orders", "profile.ocol", V.orders_frame(detail.orders, tnames) if len(detail.orders) else None),
             ("monitoring", "profile.mocol", V.monitoring_frame(detail.monitoring, ctx.lang) if len(detail.monitoring) else None))
    for name, prefix, frame in parts:
        st.markdown(f"**{t(f'profile.{name}_title')}**")
        if frame is None:
            st.caption(t(f"profile.no_{name}"))
            continue
        cfg = V.text_columns(prefix, frame.columns, frame)  # cells read whole; a wide table scrolls
        if "amount" in frame and pd.api.types.is_numeric_dtype(frame["amount"]):
            cfg["amount"] = st.column_config.NumberColumn(t(f"{prefix}.amount"), format="localized")
        st.dataframe(frame, hide_index=True, width="stretch", key=f"pf_{name}", column_config=cfg)


def assistance_tab(ctx: Context, detail: P.HouseholdDetail) -> None:
    st.markdown(f"**{t('profile.assistance_title')}**")
    summary, lang = TL.assistance_summary(detail.assistance), ctx.lang
    if summary.empty:
        st.caption(t("profile.no_assistance"))
        return
    a1, a2, a3 = st.columns(3)
    a1.metric(t("profile.assistance_total"), fmt.yuan(float(summary["amount"].sum()), lang))
    a2.metric(t("profile.assistance_times"), fmt.count(int(summary["count"].sum()), lang))
    a3.metric(t("profile.assistance_measures"), fmt.count(len(summary), lang))
    left, right = st.columns([2, 3])
    left.plotly_chart(V.assistance_figure(summary, lang), width="stretch", key="pf_assistance_chart")
    shown, cfg = V.assistance_summary_frame(summary, lang)
    right.dataframe(shown, hide_index=True, width="stretch", key="pf_assistance_summary", column_config=cfg)
    items = V.assistance_items(detail.assistance, lang)
    with st.expander(t("profile.assistance_items", n=len(items))):
        cfg = V.text_columns("profile.icol", items.columns) | {"amount": st.column_config.NumberColumn(t("profile.icol.amount"), format="localized")}
        st.dataframe(items, hide_index=True, width="stretch", key="pf_assistance_items", column_config=cfg)
        download_table(ctx, items, f"assistance_{detail.household_id}", "pf_assistance_dl", labels={c: t(f"profile.icol.{c}") for c in items.columns})


def main() -> None:
    ctx = page_context(PAGE)
    st.title(t("profile.title"))
    follow_link()
    names = (ctx.data.township_names(ctx.lang), ctx.data.village_names(ctx.lang))
    hid = pick_household(ctx, *names)
    if hid is None:
        return
    try:
        detail = P.household_detail(ctx.engine, hid, principal=ctx.principal)
    except AccessDenied as exc:
        st.error(refusal_text(exc))
        return
    if detail is None:
        st.warning(t("profile.none_found"))
        return
    unmasked = P.can_unmask(ctx.principal) and st.session_state.get("pf_unmasked") == hid
    log_once(ctx, hid)
    policy, scorer = ctx.data.policy_for(ctx.period), ctx.data.scorer(ctx.period)
    sd = SD.standing(scorer, scorer.run(policy), hid)
    header(ctx, detail, sd, policy, names, unmasked)
    V.visit_form(ctx, hid)
    audit_trail(ctx, hid)
    st.subheader(t("profile.reasons_title", month=format_period(ctx.period, ctx.lang)))
    if sd is None:
        st.info(t("profile.no_month", month=format_period(ctx.period, ctx.lang)))
    else:
        reasons(ctx, sd, policy)
    with st.spinner(t("profile.computing")):
        ps = ctx.data.panel_scores()  # the baseline, each month with its line
    history(ctx, ps, hid, policy)
    tabs = st.tabs([t("profile.tab_members", n=len(detail.members)), t("profile.tab_timeline"),
                    t("profile.tab_cases", clues=len(detail.clues), orders=len(detail.orders)), t("profile.tab_assistance")])
    with tabs[0]:
        members_tab(ctx, detail, unmasked)
    with tabs[1]:
        timeline_tab(ctx, detail, list(ps.periods))
    with tabs[2]:
        cases_tab(ctx, detail, names[0])
    with tabs[3]:
        assistance_tab(ctx, detail)


main()
