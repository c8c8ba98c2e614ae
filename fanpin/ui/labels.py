"""Label tables for tables and charts: code -> text in the session's language.

Pages keep codes in their frames (``township_code``, ``tier``, indicator keys) and turn them
into text at the last moment, here: tier, indicator, dimension and region names, the
column headers of the map's and the simulator's tables (the same headers on screen and in
a download's ``labels=``), tooltips filled from columns, a reasons column.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from fanpin.core import fmt
from fanpin.core.indicators import BY_KEY, KEYS
from fanpin.engine.scenario import CostComparison
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.ui.i18n import lang, lbl, t

#: A column's header: a message key, or (label kind, code) for a vocabulary label.
Header = str | tuple[str, str]

#: The column headers of each table the map and the simulator show or export.
COLUMNS: dict[str, dict[str, Header]] = {
    "sim_townships": {
        "township": "common.township",
        "households": "common.households",
        "red_base": "simulator.red_base",
        "red_scen": "simulator.red_scen",
        "red_change": "simulator.red_change",
        "yellow_base": "simulator.yellow_base",
        "yellow_scen": "simulator.yellow_scen",
        "yellow_change": "simulator.yellow_change",
    },
    "sim_movers": {
        "household_id": "common.household_id",
        "township_code": "common.township",
        "village_code": "common.village",
        "base_score": "simulator.base_score",
        "base_tier": "simulator.base_tier",
        "scen_score": "simulator.scen_score",
        "scen_tier": "simulator.scen_tier",
        "score_change": "simulator.score_change",
    },
    "sim_sensitivity": {
        "indicator": "simulator.indicator",
        "dimension": "simulator.dimension",
        "weight": "simulator.weight",
        "red_minus": "simulator.red_minus",
        "red_plus": "simulator.red_plus",
        "yellow_minus": "simulator.yellow_minus",
        "yellow_plus": "simulator.yellow_plus",
    },
    "map_hotspots": {
        "township": "common.township",
        "township_code": "map.col.code",
        "households": "common.households",
        "red": ("tier", "red"),
        "red_share": "map.col.red_share",
        "mean_score": "map.col.mean_score",
        "red_share_change": "map.col.red_share_change",
        "mean_score_change": "map.col.mean_score_change",
        "neighbours": "map.col.neighbours",
        "z": "map.col.z",
        "p": "map.col.p",
        "cls": "map.col.cls",
    },
    "map_villages": {
        "village": "common.village",
        "village_code": "map.col.village_code",
        "households": "common.households",
        "red": ("tier", "red"),
        "yellow": ("tier", "yellow"),
        "green": ("tier", "green"),
        "red_share": "map.col.red_share",
        "mean_score": "map.col.mean_score",
    },
    "map_households": {
        "household_id": "common.household_id",
        "village": "common.village",
        "score": "common.score",
        "tier": "common.tier",
        "reasons": "map.col.reasons",
    },
}

#: Indicator key -> its dimension.
DIMENSION_OF: dict[str, str] = {k: BY_KEY[k].dimension for k in KEYS}


def header(spec: Header) -> str:
    return lbl(*spec) if isinstance(spec, tuple) else t(spec)


def column_labels(table: str) -> dict[str, str]:
    """Code column -> header for one of :data:`COLUMNS`' tables, in the session's language."""
    return {code: header(spec) for code, spec in COLUMNS[table].items()}


def tier_labels() -> dict[str, str]:
    return {x: lbl("tier", x) for x in TIERS}


def indicator_labels() -> dict[str, str]:
    return {k: lbl("indicator", k) for k in KEYS}


def indicator_with_dimension(key: str) -> str:
    """'Dimension · indicator', for charts listing every indicator."""
    return f"{lbl('dimension', DIMENSION_OF[key])} · {lbl('indicator', key)}"


def region_names(codes: pd.Series, names: Mapping[str, str]) -> pd.Series:
    """Region names for codes (the code itself where the name is unknown)."""
    return codes.map(names).fillna(codes)


def reasons_text(frame: pd.DataFrame, columns: Sequence[str] = ("reason_1", "reason_2", "reason_3")) -> pd.Series:
    """The indicator keys in ``columns`` as one text of labels, '、'-joined (', ' in English; empty cells left out)."""
    labels, sep = indicator_labels(), "、" if lang() == "zh" else ", "
    out = frame[columns[0]].map(labels).fillna("")
    for col in columns[1:]:
        more = frame[col].map(labels)
        out = out.where(more.isna(), out + sep + more.fillna(""))
    return out


def fill_template(template: str, index: pd.Index, **columns: pd.Series | str) -> pd.Series:
    """``template`` ({name} placeholders, any order) filled row by row from columns or constants, vectorised."""
    out = pd.Series("", index=index, dtype=object)
    for literal, field, _, _ in string.Formatter().parse(template):
        out = out + literal
        if field:
            value = columns[field]
            out = out + (value.astype(str) if isinstance(value, pd.Series) else str(value))
    return out


def short_name(name: str) -> str:
    """Map labels: 'Fengyan Township' -> 'Fengyan', 'Taiba County' -> 'Taiba' (Chinese names are short already)."""
    for suffix in (" Township", " Town", " County", " City"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def metric_text(metric: str, value: float | None, lang: str) -> str:
    """A township metric of the map as shown in tooltips and the legend."""
    if value is None or not np.isfinite(value):
        return "—"
    if metric == "red_share":
        return fmt.pct(value)
    if metric == "red":
        return fmt.count(value, lang)
    if metric == "red_share_change":
        return t("map.pp", value=f"{100 * value:+.2f}")
    if metric == "mean_score_change":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def when_text(v: object) -> str:
    """A timestamp to the minute (as stored, when it is not a datetime)."""
    return v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else ("" if v is None else str(v)[:16])


def saved_policies_table(saved: Sequence[Mapping]) -> pd.DataFrame:
    """The saved scenarios (``policies.list_policies`` rows) as shown: name, line, cut-offs, who and when."""
    rows = []
    for r in saved:
        p = RiskPolicy.from_json(r["policy_json"])
        role = {c: lbl("role", r[c]) if r[c] else "" for c in ("created_by", "adopted_by")}
        rows.append(
            {
                t("simulator.col_name"): r["name"],
                t("simulator.col_line"): f"{p.income_line:,.0f}",
                t("simulator.col_cutoffs"): f"{p.cutoffs[0]:g} / {p.cutoffs[1]:g}",
                t("simulator.col_created"): when_text(r["created_at"]),
                t("simulator.col_created_by"): role["created_by"],
                t("simulator.col_adopted"): when_text(r["adopted_at"]),
                t("simulator.col_adopted_by"): role["adopted_by"],
            }
        )
    return pd.DataFrame(rows)


def cost_table_frame(cost: CostComparison, tiers: Sequence[str], lang: str) -> pd.DataFrame:
    """Assistance cost per tier and in total, baseline vs scenario, formatted in yuan."""
    diff = cost.per_tier_difference()
    return pd.DataFrame(
        {
            t("common.tier"): [lbl("tier", x) for x in tiers] + [t("simulator.cost_total")],
            t("simulator.baseline"): [fmt.yuan(cost.base.per_tier[x], lang) for x in tiers] + [fmt.yuan(cost.base.total, lang)],
            t("simulator.scenario"): [fmt.yuan(cost.scenario.per_tier[x], lang) for x in tiers] + [fmt.yuan(cost.scenario.total, lang)],
            t("simulator.change"): [("+" if v > 0 else "") + fmt.yuan(v, lang) for v in (*(diff[x] for x in tiers), cost.difference)],
        }
    )


def forced_note(why: str, tier: str | None, amount: float, lang: str) -> str:
    """Why a household's tier is above its score's (``engine.summary.forced_by``): the income rule
    with its amount ("forced red: income per person below 7,800元"), another tier rule, or "" (the score)."""
    if why == "income":
        return t("overview.forced_income", tier=lbl("tier", tier), amount=fmt.yuan(amount, lang))
    return t("overview.forced_rule", tier=lbl("tier", tier)) if why == "rule" else ""
