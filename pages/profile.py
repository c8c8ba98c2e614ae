"""农户画像 Household profile: one household's facts, risk and reasons, history, members, timeline, 幸福清单.

Open with ``?household=<id>`` to land on a household (other pages link here).
Every render of a household's detail is written to the audit log; personal data
stay masked unless a role that needs them unmasks one household, which is
logged as well.
"""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.core import fmt
from fanpin.core.i18n import LANGS
from fanpin.core.indicators import BY_KEY, DEPARTMENTS, INCOME_KEY
from fanpin.core.periods import format_period
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.sidebar import page_context
from fanpin.ui.widgets import TIER_COLOURS
from fanpin.workflow import profile as P
from fanpin.workflow import standing as SD
from fanpin.workflow import timeline as TL

SEARCH_LIMIT = 500
GREY = "#95a5a6"

ctx = page_context("profile")
data, period, lang, role, me = ctx.data, ctx.period, ctx.lang, ctx.role, ctx.principal
engine = data.engine


def line_text(key: str, line: float, multiple: bool = True) -> str:
    """A warning line with the side that hits it: "≥ 2 人", "< 11,700元" (called once ``policy`` is set)."""
    if pd.isna(line):
        return "—"
    text = SD.format_indicator(key, line, lang, policy.income_line if multiple else None)
    if BY_KEY[key].unit == "flag":
        return text
    return ("≥ " if BY_KEY[key].direction > 0 else "< ") + text


def _model_suggests(household_id: str) -> None:
    """模型建议 / Model suggests: a small, labelled suggestion beside the rules; nothing when no model is trained."""
    model = data.model()
    if model is None or isinstance(model, str):  # none trained, or refused (the model page says why)
        return
    scores = data.model_scores(model, period)
    if household_id not in scores.index:
        return
    row, horizon = scores.loc[household_id], int(model.meta["horizon"])
    with st.container(border=True):
        st.markdown(f"**{t('model.suggests')}**")
        if row["below_line_now"]:
            st.caption(t("model.suggests_below"))
        else:
            st.markdown(t("model.suggests_text", h=horizon, p=fmt.pct(float(row["probability"]))))
            factors = [t(f"model.feature.{f}") for f in (row["factor_1"], row["factor_2"], row["factor_3"]) if f]
            if factors:
                st.markdown(t("model.suggests_factors", f=t("profile.list_sep").join(factors)))
        st.caption(t("model.suggests_caption"))


st.title(t("profile.title"))

# ---- a link from another page: ?household=<id> fills the search once
linked = st.query_params.get("household")
if linked and linked != st.session_state.get("pf_linked"):
    st.session_state["pf_linked"] = linked
    st.session_state["pf_search"] = str(linked)[:40]
    for name in ("pf_township", "pf_village", "pf_household"):
        st.session_state.pop(name, None)
        for code in LANGS:
            st.session_state.pop(f"{name}_{code}", None)


def choose(where, label: str, options: list, label_of, name: str):  # noqa: ANN001, ANN201
    """A selectbox whose choice is kept under ``name`` for the session and survives a language switch.

    The option labels change with the language and a keyed selectbox would keep
    showing the old label, so the widget is keyed per language and seeded from ``name``.
    """
    current = st.session_state.get(name)
    index = options.index(current) if current in options else 0
    key = f"{name}_{lang}"
    if key in st.session_state and st.session_state[key] not in options:  # the options changed under it
        del st.session_state[key]
    value = where.selectbox(label, options, index=index, format_func=label_of, key=key)
    st.session_state[name] = value
    return value


# ---- finding a household: ID prefix and/or township and village
regions = data.regions()
tnames, vnames = data.township_names(lang), data.village_names(lang)
# a case worker picks among their own townships (the search below is scoped in the domain function too)
town_codes = sorted(c for c in regions.loc[regions["level"] == "township", "region_code"] if me.sees(c))
villages = regions[(regions["level"] == "village") & regions["parent_code"].isin(town_codes)].sort_values("region_code")
parent_of = dict(zip(villages["region_code"], villages["parent_code"]))

ALL = t("common.all")  # format_funcs use values fixed in this run, not a lookup at call time
c1, c2, c3 = st.columns([2, 1, 1])
query = c1.text_input(t("profile.search"), key="pf_search", max_chars=40, placeholder=t("profile.search_placeholder"), persist_state="session")
township = choose(c2, t("common.township"), ["", *town_codes], lambda c: tnames.get(c, c) if c else ALL, "pf_township")
in_town = villages if not township else villages[villages["parent_code"] == township]
village = choose(
    c3,
    t("common.village"),
    ["", *in_town["region_code"]],
    lambda c: (vnames.get(c, c) if township else f"{vnames.get(c, c)} · {tnames.get(parent_of.get(c), '')}") if c else ALL,
    "pf_village",
)

if not (query or "").strip() and not township and not village:
    st.info(t("profile.pick_hint"))
    st.stop()
found = P.find_households(engine, query, township or None, village or None, limit=SEARCH_LIMIT, principal=me)
if found.empty:
    st.warning(t("profile.none_found"))
    st.stop()
ids = found["household_id"].tolist()
about = {
    r.household_id: f"{r.household_id} · {vnames.get(r.village_code, r.village_code)} · {lbl('household_type', r.household_type)}"
    for r in found.itertuples(index=False)
}
hid = choose(st, t("profile.household"), ids, about.get, "pf_household")
st.caption(t("profile.more", n=SEARCH_LIMIT) if len(ids) >= SEARCH_LIMIT else t("profile.found", n=fmt.count(len(ids), lang)))
st.query_params["household"] = hid  # the URL now names this household and can be shared
st.session_state["pf_linked"] = hid

try:
    detail = P.household_detail(engine, hid, principal=me)
except AccessDenied as exc:
    st.error(t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code))
    st.stop()
if detail is None:
    st.warning(t("profile.none_found"))
    st.stop()
hh = detail.household


# ---- personal data: masked unless an allowed role unmasks this one household (logged)
def _unmask(household_id: str) -> None:
    try:  # refused for a role that may not, or a household outside a case worker's townships
        P.unmask(engine, me, household_id, detail={"period": period, "page": "profile"})
    except AccessDenied:
        st.session_state.pop("pf_unmasked", None)
        return
    st.session_state["pf_unmasked"] = household_id  # one household at a time


def _mask_again() -> None:
    st.session_state.pop("pf_unmasked", None)


unmasked = P.can_unmask(me) and st.session_state.get("pf_unmasked") == hid
# one view entry per household per session (not one per rerun)
viewed = st.session_state.setdefault("_pf_viewed", set())
if hid not in viewed:
    P.log_view(engine, hid, principal=me, detail={"period": period, "page": "profile"})
    viewed.add(hid)

# ---- header: who, where, and where it stands this month
policy = data.policy_for(period)
scorer = data.scorer(period)
result = scorer.run(policy)
sd = SD.standing(scorer, result, hid)
status = detail.monitoring_status()

vname = vnames.get(hh["village_code"], hh["village_code"])
tname = tnames.get(hh["township_code"], hh["township_code"])
st.header(t("profile.header", id=hid, village=vname, township=tname))
badges = [f":blue-badge[{lbl('household_type', hh['household_type'])}]"]
if status is None:
    badges.append(f":gray-badge[{t('profile.not_monitored')}]")
else:
    colour = "orange" if status["status"] == "monitored" else "green"
    badges.append(f":{colour}-badge[{lbl('monitoring_status', status['status'])}]")
    if status.get("category"):
        badges.append(f":{colour}-badge[{lbl('category', status['category'])}]")
if hh["no_labour_guarantee"]:
    badges.append(f":violet-badge[{t('profile.guarantee_badge')}]")
st.markdown(" ".join(badges))
m = st.columns(4)
if sd is not None:
    m[0].metric(t("common.score"), f"{sd.score:.1f}")
    m[1].metric(t("common.tier"), lbl("tier", sd.tier), help=t("profile.tier_help", yellow=f"{policy.cutoffs[0]:g}", red=f"{policy.cutoffs[1]:g}"))
else:
    m[0].metric(t("common.score"), "—")
    m[1].metric(t("common.tier"), "—")
m[2].metric(t("profile.size"), t("profile.unit.persons", n=hh["size"]))
m[3].metric(t("profile.labour"), t("profile.labour_value", n=hh["n_labour"], weak=hh["n_weak_labour"]), help=t("profile.labour_help"))

yes_no = {True: t("profile.yes"), False: t("profile.no")}
facts = [
    t("profile.phone", phone=P.phone_shown(hh, unmasked) or "—"),
    t("profile.farmland", mu="—" if pd.isna(hh.get("farmland_mu")) else f"{hh['farmland_mu']:g}"),
    t("profile.house_area", m2="—" if pd.isna(hh.get("house_area")) else f"{hh['house_area']:g}"),
    t("profile.road", km="—" if pd.isna(hh.get("road_distance_km")) else f"{hh['road_distance_km']:g}"),
    t("profile.cooperative", v=yes_no[bool(hh["in_cooperative"])]),
    t("profile.relocated", v=yes_no[bool(hh["relocated"])]),
]
if status is not None and status.get("risk_types"):
    facts.append(t("profile.risk_types", v="、".join(lbl("risk", r) for r in str(status["risk_types"]).split(",") if r)))
st.caption(" · ".join(facts))

if can(me, "audit_view"):  # who looked at this household: the administrator reviews the trail
    with st.expander(t("profile.audit_title")):
        trail = P.audit_entries(engine, principal=me, target=hid, limit=50)
        st.dataframe(
            trail.assign(action=[lbl("audit_action", a) for a in trail["action"]], actor=[lbl("role", a) for a in trail["actor"]])[["at", "actor", "action", "detail"]],
            hide_index=True,
            width="stretch",
            key="pf_audit",
            column_config={
                "at": st.column_config.DatetimeColumn(t("profile.audit_at"), format="YYYY-MM-DD HH:mm:ss"),
                "actor": st.column_config.TextColumn(t("profile.audit_actor")),
                "action": st.column_config.TextColumn(t("profile.audit_action")),
                "detail": st.column_config.TextColumn(t("profile.audit_detail")),
            },
        )

# ---- why this tier: contributions, warning lines hit, tier rules, gaps
st.subheader(t("profile.reasons_title", month=format_period(period, lang)))
if sd is None:
    st.info(t("profile.no_month", month=format_period(period, lang)))
else:
    left, right = st.columns([3, 2])
    rs = sd.reasons(top=12)
    with left:
        if rs.empty:
            st.info(t("profile.no_reasons"))
        else:
            rs = rs.iloc[::-1]  # largest at the top of a horizontal bar chart
            labels = [lbl("indicator", k) + (t("profile.missing_mark") if miss else "") for k, miss in zip(rs["key"], rs["missing"])]
            fig = go.Figure(
                go.Bar(
                    x=rs["contribution"].round(2),
                    y=labels,
                    orientation="h",
                    marker=dict(
                        color=[TIER_COLOURS["red"] if h else GREY for h in rs["hit"]],
                        pattern=dict(shape=["/" if miss else "" for miss in rs["missing"]]),
                    ),
                    text=[f"{c:.1f}" for c in rs["contribution"]],
                    textposition="outside",
                    cliponaxis=False,
                    hovertemplate="%{y}: %{x:.2f}<extra></extra>",
                )
            )
            fig.update_layout(
                title=t("profile.contrib_chart", score=f"{sd.score:.1f}"),
                height=90 + 26 * len(rs),
                margin=dict(l=10, r=40, t=40, b=10),
                xaxis=dict(title=t("profile.points")),
                yaxis=dict(automargin=True),
            )
            st.plotly_chart(fig, width="stretch", key="pf_contrib")
            st.caption(t("profile.contrib_legend"))
    with right:
        hits = sd.indicators[sd.indicators["hit"]]
        st.markdown(f"**{t('profile.lines_hit', n=len(hits))}**")
        if hits.empty:
            st.caption(t("profile.no_lines_hit"))
        for r in hits.itertuples(index=False):
            st.markdown(
                "- " + t(
                    "profile.line_item",
                    indicator=lbl("indicator", r.key),
                    value=SD.format_indicator(r.key, r.value, lang, policy.income_line),
                    line=line_text(r.key, r.warning_line, multiple=False),
                )
            )
        if sd.forced:
            causes = []
            for rule in (r for r in sd.rules_hit if r.tier == sd.tier):
                if rule.indicator == INCOME_KEY:
                    causes.append(t("profile.forced_income", threshold=f"{rule.threshold:g}", amount=fmt.yuan(rule.threshold * policy.income_line, lang)))
                elif BY_KEY[rule.indicator].unit == "flag":
                    causes.append(lbl("indicator", rule.indicator))
                else:
                    causes.append(t("profile.forced_other", indicator=lbl("indicator", rule.indicator), line=line_text(rule.indicator, rule.threshold)))
            st.warning(t("profile.forced", cause=t("profile.list_sep").join(causes), tier=lbl("tier", sd.tier), score_tier=lbl("tier", sd.score_tier)))
        gaps = sd.indicators[sd.indicators["missing"]]
        if len(gaps):
            st.info(t("profile.missing", items="、".join(lbl("indicator", k) for k in gaps["key"])))
        st.caption(t("profile.confirm_note"))
        _model_suggests(hid)

    # ---- indicator table vs warning lines
    with st.expander(t("profile.indicators_title"), expanded=False):
        it = sd.indicators
        shown = pd.DataFrame(
            {
                "dimension": [lbl("dimension", d) for d in it["dimension"]],
                "indicator": [lbl("indicator", k) for k in it["key"]],
                "value": [SD.format_indicator(k, v, lang, policy.income_line) for k, v in zip(it["key"], it["value"])],
                "warning_line": [line_text(k, v) for k, v in zip(it["key"], it["warning_line"])],
                "hit": it["hit"].to_numpy(),
                "contribution": it["contribution"].round(2).to_numpy(),
                "weight": (100 * it["weight"]).round(1).to_numpy(),
                "missing": it["missing"].to_numpy(),
            }
        )
        st.dataframe(
            shown.style.apply(lambda r: ["background-color: #fde2e1" if r["hit"] else ""] * len(r), axis=1),
            hide_index=True,
            width="stretch",
            height=35 * (len(shown) + 1) + 3,
            key="pf_indicators",
            column_config={
                "dimension": st.column_config.TextColumn(t("profile.col.dimension"), width=80),
                "indicator": st.column_config.TextColumn(t("profile.col.indicator"), width=290),
                "value": st.column_config.TextColumn(t("profile.col.value"), width=190),
                "warning_line": st.column_config.TextColumn(t("profile.col.warning_line"), width=200),
                "hit": st.column_config.CheckboxColumn(t("profile.col.hit"), width=60),
                "contribution": st.column_config.NumberColumn(t("profile.col.contribution"), format="%.2f", width=70),
                "weight": st.column_config.NumberColumn(t("profile.col.weight"), format="%.1f%%", width=70),
                "missing": st.column_config.CheckboxColumn(t("profile.col.missing"), width=60),
            },
        )
        download_table(ctx, shown.rename(columns=lambda c: t(f"profile.col.{c}")), f"indicators_{hid}_{period}", "pf_indicators_dl")

# ---- score, tier and income over every month
with st.spinner(t("profile.computing")):
    ps = data.panel_scores()  # the baseline, each month with its line
hist = SD.score_history(ps, hid)
st.subheader(t("profile.history_title"))
if hist["score"].notna().any():
    x = pd.to_datetime([f"{p // 100}-{p % 100:02d}-01" for p in hist["period"]])
    now = pd.Timestamp(f"{period // 100}-{period % 100:02d}-01")
    h1, h2 = st.columns(2)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=hist["score"].round(2), mode="lines", line=dict(color="#7f8c8d", width=1.5), showlegend=False, hoverinfo="skip"))
    for tier in ("green", "yellow", "red"):
        sel = (hist["tier"] == tier).to_numpy()
        if sel.any():
            fig.add_trace(go.Scatter(x=x[sel], y=hist["score"][sel].round(2), mode="markers", name=lbl("tier", tier), marker=dict(color=TIER_COLOURS[tier], size=8)))
    fig.add_hline(y=policy.cutoffs[0], line_dash="dot", line_color=TIER_COLOURS["yellow"])
    fig.add_hline(y=policy.cutoffs[1], line_dash="dot", line_color=TIER_COLOURS["red"])
    fig.add_vline(x=now, line_dash="dash", line_color="#34495e", line_width=1)
    fig.update_layout(title=t("profile.history_score"), height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2), yaxis=dict(title=t("common.score")), xaxis=dict(tickformat="%Y-%m"))
    h1.plotly_chart(fig, width="stretch", key="pf_history_score")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=hist["income_pc"].round(0), mode="lines+markers", name=t("profile.income_pc"), line=dict(color="#2c7fb8", width=2), marker=dict(size=5)))
    fig.add_trace(go.Scatter(x=x, y=hist["income_line"], mode="lines", name=t("profile.income_line"), line=dict(color=TIER_COLOURS["red"], dash="dash", shape="hv")))
    fig.add_vline(x=now, line_dash="dash", line_color="#34495e", line_width=1)
    fig.update_layout(title=t("profile.history_income"), height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2), yaxis=dict(title=t("profile.yuan_per_person"), tickformat=",.0f"), xaxis=dict(tickformat="%Y-%m"))
    h2.plotly_chart(fig, width="stretch", key="pf_history_income")
else:
    st.info(t("profile.no_history"))


# ---- members, timeline, clues and orders, 幸福清单
def _lb(kind: str, code: object) -> str:
    """lbl() for a value that may be NULL (NaN/None in a frame)."""
    return lbl(kind, None if code is None or (isinstance(code, float) and pd.isna(code)) else str(code))


def _code_label(kind: str, code: object) -> str:
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return "—"
    if kind in ("event", "area_event"):
        return lbl("event", str(code))
    if kind == "clue":
        return lbl("risk", str(code))
    if kind == "order":
        return lbl("order_state", str(code))
    if kind == "monitoring":
        return lbl("monitoring_status", str(code))
    return lbl("measure", str(code))


def _source_label(code: str) -> str:
    return lbl("department", code) if code in DEPARTMENTS else lbl("source", code)


def _when(ts: object) -> str:
    return "" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


tab_m, tab_t, tab_c, tab_a = st.tabs(
    [
        t("profile.tab_members", n=len(detail.members)),
        t("profile.tab_timeline"),
        t("profile.tab_cases", clues=len(detail.clues), orders=len(detail.orders)),
        t("profile.tab_assistance"),
    ]
)

with tab_m:
    mm = P.members_masked(detail.members, unmask=unmasked, as_of=period)
    if mm.empty:
        st.caption(t("profile.no_members"))
    else:
        people = pd.DataFrame(
            {
                "name": mm["name"],
                "id_number": mm["id_number"],
                "sex": [_lb("sex", v) for v in mm["sex"]],
                "age": mm["age"],
                "relation": [_lb("relation", v) for v in mm["relation"]],
                "ethnicity": [_lb("profile.ethnicity", v) for v in mm["ethnicity"]],
                "education": [_lb("profile.education", v) for v in mm["education"]],
                "health": [_lb("health", v) for v in mm["health"]],
                "disability": [t("profile.no") if not v else t("profile.disability_grade", g=int(v)) for v in mm["disability"]],
                "labour": [_lb("labour", v) for v in mm["labour_capacity"]],
                "schooling": [_lb("schooling", v) for v in mm["schooling"]],
                "work": [_lb("profile.work", v) for v in mm["work_location"]],
                "medical_insurance": mm["medical_insurance"].astype(bool),
                "pension_insurance": mm["pension_insurance"].astype(bool),
                "dibao": mm["dibao"].astype(bool),
                "tekun": mm["tekun"].astype(bool),
                "public_welfare_job": mm["public_welfare_job"].astype(bool),
            }
        )
        cfg = {c: st.column_config.TextColumn(t(f"profile.mcol.{c}")) for c in people.columns}
        cfg["age"] = st.column_config.NumberColumn(t("profile.mcol.age"), format="%d")
        for c in ("medical_insurance", "pension_insurance", "dibao", "tekun", "public_welfare_job"):
            cfg[c] = st.column_config.CheckboxColumn(t(f"profile.mcol.{c}"))
        st.dataframe(people, hide_index=True, width="stretch", column_config=cfg, key="pf_members")
        if not unmasked:  # downloads carry masked data only
            download_table(ctx, people.rename(columns=lambda c: t(f"profile.mcol.{c}")), f"members_{hid}", "pf_members_dl")
    if P.can_unmask(me):
        if unmasked:
            st.warning(t("profile.unmasked_note"))
            st.button(t("profile.mask_again"), on_click=_mask_again, key="pf_mask_again")
        else:
            st.button(t("profile.unmask"), on_click=_unmask, args=(hid,), key="pf_unmask", help=t("profile.unmask_help"))
    else:
        st.caption(t("profile.masked_note", role=lbl("role", role)))

with tab_t:
    tl = TL.timeline(detail)
    if tl.empty:
        st.caption(t("profile.no_timeline"))
    else:
        kinds = ["area_event", "event", "clue", "order", "monitoring", "assistance"]
        colours = {"area_event": "#8e44ad", "event": "#e67e22", "clue": "#d62728", "order": "#2c3e50", "monitoring": "#16a085", "assistance": "#2ca02c"}
        tl = tl.assign(
            kind_label=[t(f"profile.kind.{k}") for k in tl["kind"]],
            what=[_code_label(k, c) for k, c in zip(tl["kind"], tl["code"])],
            amount_text=[fmt.yuan(a, lang) if pd.notna(a) else "" for a in tl["amount"]],
            note=[TL.pick_language(v, lang) for v in tl["text"]],
            date=pd.to_datetime([f"{p // 100}-{p % 100:02d}-15" for p in tl["period"]]),
        )
        fig = go.Figure()
        for k in kinds:
            part = tl[tl["kind"] == k]
            if part.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=part["date"],
                    y=part["kind_label"],
                    mode="markers",
                    name=t(f"profile.kind.{k}"),
                    marker=dict(color=colours[k], size=12, symbol="diamond" if k == "area_event" else "circle"),
                    customdata=list(zip(part["what"], part["amount_text"], part["note"])),
                    hovertemplate="%{x|%Y-%m} · %{customdata[0]} %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
                )
            )
        x0 = pd.Timestamp(f"{ps.periods[0] // 100}-{ps.periods[0] % 100:02d}-01") if ps.periods else None
        x1 = pd.Timestamp(f"{ps.periods[-1] // 100}-{ps.periods[-1] % 100:02d}-28") if ps.periods else None
        fig.update_layout(
            title=t("profile.timeline_chart"),
            height=120 + 45 * tl["kind"].nunique(),
            margin=dict(l=10, r=10, t=40, b=10),
            showlegend=False,
            xaxis=dict(range=[x0, x1] if x0 is not None else None, tickformat="%Y-%m"),
            yaxis=dict(automargin=True, categoryorder="array", categoryarray=[t(f"profile.kind.{k}") for k in kinds if k in set(tl["kind"])][::-1]),
        )
        st.plotly_chart(fig, width="stretch", key="pf_timeline")
        table = tl.assign(month=[format_period(p, lang) for p in tl["period"]])[["month", "kind_label", "what", "amount_text", "note"]]
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="pf_timeline_table",
            column_config={
                "month": st.column_config.TextColumn(t("common.month")),
                "kind_label": st.column_config.TextColumn(t("profile.col.kind")),
                "what": st.column_config.TextColumn(t("profile.col.what")),
                "amount_text": st.column_config.TextColumn(t("profile.col.amount")),
                "note": st.column_config.TextColumn(t("profile.col.note")),
            },
        )
        download_table(
            ctx,
            table.rename(columns={"month": t("common.month"), "kind_label": t("profile.col.kind"), "what": t("profile.col.what"), "amount_text": t("profile.col.amount"), "note": t("profile.col.note")}),
            f"timeline_{hid}",
            "pf_timeline_dl",
        )

with tab_c:
    st.markdown(f"**{t('profile.clues_title')}**")
    c = detail.clues
    if c.empty:
        st.caption(t("profile.no_clues"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "clue_id": c["clue_id"].astype(str),
                    "received_at": [_when(v) for v in c["received_at"]],
                    "channel": [_lb("channel", v) for v in c["channel"]],
                    "source": [_source_label(v) for v in c["source"]],
                    "risk_type": [_lb("risk", v) for v in c["risk_type"]],
                    "amount": pd.to_numeric(c["amount"], errors="coerce"),
                    "detail": [TL.pick_language(v, lang) for v in c["detail"]],
                    "status": [_lb("clue_status", v) for v in c["status"]],
                }
            ),
            hide_index=True,
            width="stretch",
            key="pf_clues",
            column_config={
                **{k: st.column_config.TextColumn(t(f"profile.ccol.{k}")) for k in ("clue_id", "received_at", "channel", "source", "risk_type", "detail", "status")},
                "amount": st.column_config.NumberColumn(t("profile.ccol.amount"), format="localized"),
            },
        )
    st.markdown(f"**{t('profile.orders_title')}**")
    o = detail.orders
    if o.empty:
        st.caption(t("profile.no_orders"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "order_id": o["order_id"].astype(str),
                    "created_at": [_when(v) for v in o["created_at"]],
                    "assignee": [_source_label(v) if k == "department" else tnames.get(v, v) for k, v in zip(o["assignee_kind"], o["assignee"])],
                    "due_date": [_when(v) for v in o["due_date"]],
                    "state": [_lb("order_state", v) for v in o["state"]],
                    "decision": [_lb("decision", v) for v in o["decision"]],
                    "category": [_lb("category", v) for v in o["category"]],
                    "risk_types": ["、".join(lbl("risk", r) for r in str(v).split(",") if r) if isinstance(v, str) else "" for v in o["risk_types"]],
                    "clue_ids": o["clue_ids"],
                    "findings": o["findings"].fillna(""),
                    "decided_at": [_when(v) for v in o["decided_at"]],
                }
            ),
            hide_index=True,
            width="stretch",
            key="pf_orders",
            column_config={k: st.column_config.TextColumn(t(f"profile.ocol.{k}")) for k in ("order_id", "created_at", "assignee", "due_date", "state", "decision", "category", "risk_types", "clue_ids", "findings", "decided_at")},
        )
    st.markdown(f"**{t('profile.monitoring_title')}**")
    mo = detail.monitoring
    if mo.empty:
        st.caption(t("profile.no_monitoring"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "month": [format_period(p, lang) for p in mo["period"]],
                    "status": [_lb("monitoring_status", v) for v in mo["status"]],
                    "category": [_lb("category", v) for v in mo["category"]],
                    "risk_types": ["、".join(lbl("risk", r) for r in str(v).split(",") if r) if isinstance(v, str) else "" for v in mo["risk_types"]],
                    "method": [_lb("elimination_method", v) for v in mo["method"]],
                    "recorded_at": [_when(v) for v in mo["recorded_at"]],
                }
            ),
            hide_index=True,
            width="stretch",
            key="pf_monitoring",
            column_config={k: st.column_config.TextColumn(t(f"profile.mocol.{k}")) for k in ("month", "status", "category", "risk_types", "method", "recorded_at")},
        )

with tab_a:
    st.markdown(f"**{t('profile.assistance_title')}**")
    summary = TL.assistance_summary(detail.assistance)
    if summary.empty:
        st.caption(t("profile.no_assistance"))
    else:
        a1, a2, a3 = st.columns(3)
        a1.metric(t("profile.assistance_total"), fmt.yuan(float(summary["amount"].sum()), lang))
        a2.metric(t("profile.assistance_times"), fmt.count(int(summary["count"].sum()), lang))
        a3.metric(t("profile.assistance_measures"), fmt.count(len(summary), lang))
        left, right = st.columns([2, 3])
        shown = summary.assign(
            measure_label=[_lb("measure", v) for v in summary["measure"]],
            first=[format_period(p, lang) for p in summary["first_period"]],
            last=[format_period(p, lang) for p in summary["last_period"]],
        )
        with left:
            bars = shown.iloc[::-1]
            fig = go.Figure(
                go.Bar(
                    x=bars["amount"],
                    y=bars["measure_label"],
                    orientation="h",
                    marker=dict(color="#2ca02c"),
                    text=[fmt.yuan(v, lang) for v in bars["amount"]],
                    textposition="outside",
                    cliponaxis=False,
                    hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
                )
            )
            fig.update_layout(title=t("profile.assistance_chart"), height=90 + 32 * len(bars), margin=dict(l=10, r=70, t=40, b=10), yaxis=dict(automargin=True), xaxis=dict(title=t("profile.yuan"), tickformat=",.0f"))
            st.plotly_chart(fig, width="stretch", key="pf_assistance_chart")
        with right:
            table = shown[["measure_label", "count", "amount", "first", "last"]]
            st.dataframe(
                table,
                hide_index=True,
                width="stretch",
                key="pf_assistance_summary",
                column_config={
                    "measure_label": st.column_config.TextColumn(t("profile.acol.measure")),
                    "count": st.column_config.NumberColumn(t("profile.acol.count"), format="%d"),
                    "amount": st.column_config.NumberColumn(t("profile.acol.amount"), format="localized"),
                    "first": st.column_config.TextColumn(t("profile.acol.first")),
                    "last": st.column_config.TextColumn(t("profile.acol.last")),
                },
            )
        a = detail.assistance
        items = pd.DataFrame(
            {
                "month": [format_period(p, lang) for p in a["period"]],
                "measure": [_lb("measure", v) for v in a["measure"]],
                "amount": pd.to_numeric(a["amount"], errors="coerce"),
                "cadre": a["cadre"].fillna(""),
                "description": [TL.pick_language(v, lang) for v in a["description"]],
            }
        )
        with st.expander(t("profile.assistance_items", n=len(items))):
            st.dataframe(
                items,
                hide_index=True,
                width="stretch",
                key="pf_assistance_items",
                column_config={
                    "month": st.column_config.TextColumn(t("common.month")),
                    "measure": st.column_config.TextColumn(t("profile.acol.measure")),
                    "amount": st.column_config.NumberColumn(t("profile.acol.amount"), format="localized"),
                    "cadre": st.column_config.TextColumn(t("profile.acol.cadre")),
                    "description": st.column_config.TextColumn(t("profile.col.note")),
                },
            )
            download_table(ctx, items.rename(columns=lambda c: t(f"profile.icol.{c}")), f"assistance_{hid}", "pf_assistance_dl")
