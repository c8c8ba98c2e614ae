"""The checks counties run on the national system's exports, over the monitoring record
(``monitoring_records``: one row per household, imported or written by the workflow): a risk
type with no matching measure, 帮扶消除 with no development-type measure, elimination within two
months of identification, an eliminated household below its year's line.  A record is read as it
stood at the end of the month checked (``MonthData.records``)."""

from __future__ import annotations

import pandas as pd

from fanpin.core.i18n import label
from fanpin.quality.month import MonthData, hits, join_details, month_index, ym
from fanpin.quality.thresholds import FAST_ELIMINATION_MONTHS, MATCHING_MEASURES
from fanpin.store.monitoring_records import DEVELOPMENT_MEASURES, RISK_COLUMNS


def unmatched_risks(d: MonthData) -> pd.DataFrame:
    """household_id, risk: each checked risk type of a record (致贫/返贫风险1-5, in their order)
    with none of its ``MATCHING_MEASURES`` in effect during the monitoring."""
    r = d.records
    risks = r.melt(id_vars=["household_id"], value_vars=list(RISK_COLUMNS), var_name="slot", value_name="risk")
    risks = risks[risks["risk"].isin(list(MATCHING_MEASURES))].sort_values(["household_id", "slot"]).drop_duplicates(["household_id", "risk"])
    if risks.empty:
        return pd.DataFrame({"household_id": pd.Series(dtype=object), "risk": pd.Series(dtype=object)})
    have = d.measures_in_effect(r, {m for ms in MATCHING_MEASURES.values() for m in ms})
    need = pd.DataFrame([(k, m) for k, ms in MATCHING_MEASURES.items() for m in ms], columns=["risk", "measure"])
    met = risks.merge(need, on="risk").merge(have, on=["household_id", "measure"])[["household_id", "risk"]].drop_duplicates()
    key = pd.MultiIndex.from_frame(risks[["household_id", "risk"]])
    return risks[~key.isin(pd.MultiIndex.from_frame(met))][["household_id", "risk"]].reset_index(drop=True)


def risk_no_measure(d: MonthData) -> pd.DataFrame:
    miss = unmatched_risks(d)
    names = {k: ("、".join(label("measure", m, "zh") for m in ms), ", ".join(label("measure", m, "en").lower() for m in ms)) for k, ms in MATCHING_MEASURES.items()}
    return join_details(hits(miss["household_id"], [
        f"风险类型{label('risk', k, 'zh')}，监测期间无对应帮扶措施（{names[k][0]}） / risk type {label('risk', k, 'en').lower()} with no matching measure during monitoring ({names[k][1]})"
        for k in miss["risk"]]))


def assistance_no_development(d: MonthData) -> pd.DataFrame:
    """帮扶消除 records with no development-type measure (``DEVELOPMENT_MEASURES``) in effect from
    identification to elimination: neither an assistance row nor the record's 实施开发式帮扶措施情况."""
    r = d.records[d.records["eliminated"] & (d.records["elimination_method"] == "by_assistance")]
    have = d.measures_in_effect(r, DEVELOPMENT_MEASURES)
    r = r[~r["household_id"].isin(have["household_id"])]
    when = [ym(p) if p == p else "时间不详" for p in r["eliminated_period"]]
    when_en = [ym(p) if p == p else "date unknown" for p in r["eliminated_period"]]
    return hits(r["household_id"], [f"{w}帮扶消除，监测期间无产业、就业、金融、公益岗位等开发式帮扶措施 / eliminated by assistance ({e}) with no development-type measure "
                                     "(industry, employment, finance, public welfare job) during monitoring" for w, e in zip(when, when_en)])


def eliminated_too_fast(d: MonthData) -> pd.DataFrame:
    """Records eliminated at most ``FAST_ELIMINATION_MONTHS`` months after their 识别监测时间 (both months known)."""
    r = d.records
    r = r[r["eliminated"] & r["identified_period"].notna() & r["eliminated_period"].notna()]
    gap = month_index(r["eliminated_period"]) - month_index(r["identified_period"])
    r = r[gap <= FAST_ELIMINATION_MONTHS]
    gap = gap[gap <= FAST_ELIMINATION_MONTHS]
    return hits(r["household_id"], [f"{ym(i)}识别为监测对象，{ym(p)}即消除风险（相隔{g}个月） / identified {ym(i)}, risk eliminated {ym(p)} ({g} month(s) later)"
                                     for i, p, g in zip(r["identified_period"], r["eliminated_period"], gap)])


def eliminated_below_line(d: MonthData) -> pd.DataFrame:
    """Eliminated records whose income per head in the year of 消除监测时间 is below that year's line.

    The income is the household's yearly income per head of that year (``yearly_incomes.income_pc``,
    the national income sheet's 家庭人均纯收入) when there is one, else the panel's rolling 12-month
    income per head at the year's latest month up to the month checked (December for a past year);
    the line is the stored line of the year (``stored_lines(...).stored_at``, the one year rule).
    Income exactly at the line is not below it."""
    inc = d.elimination_income
    if inc.empty:
        return hits([], [])
    lines = {int(y): d.line_of_year(int(y)) for y in inc["year"].unique()}
    inc = inc.assign(line=inc["year"].map(lines))
    inc = inc[inc["income_pc"] < inc["line"]]
    src = {"yearly": ("年度收支", "yearly income"), "panel": ("月度滚动", "rolling 12 months")}
    return hits(inc["household_id"], [f"已消除风险，{y}年人均纯收入{v:,.0f}元（{src[s][0]}）低于当年监测线{x:,.0f}元 / risk eliminated but income per head in {y} "
                                       f"of {v:,.0f} yuan ({src[s][1]}) is below that year's line of {x:,.0f}"
                                       for y, v, s, x in zip(inc["year"], inc["income_pc"], inc["source"], inc["line"])])
