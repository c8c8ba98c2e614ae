"""Rules on declared income and spending: against department records of wealth, identical incomes
in a village (estimated rather than surveyed), large medical costs that raised no clue."""

from __future__ import annotations

import pandas as pd

from fanpin.quality.month import MonthData, hits, join_details
from fanpin.quality.thresholds import ASSET_INCOME_RATIO, ASSET_TYPES, MEDICAL_LARGE, SAME_INCOME_MIN

_ASSET_LABELS = {"car": ("车辆", "a car"), "commercial_house": ("商品房", "a commercial house"), "business": ("工商注册", "a registered business")}


def income_vs_dept(d: MonthData) -> pd.DataFrame:
    r = d.dept[d.dept["record_type"].isin(ASSET_TYPES)]
    if r.empty:
        return hits([], [])
    owner = d.members.drop_duplicates("id_number").set_index("id_number")["household_id"]
    hid = r["id_number"].map(owner)
    r = r.assign(hh=hid.where(hid.notna(), r["household_id"])).dropna(subset=["hh"])
    r = r.merge(d.panel, left_on="hh", right_on="household_id", how="inner", suffixes=("_rec", ""))
    net = r["income_net"].fillna(0).clip(lower=0)
    asset = r["record_type"].isin(("car", "commercial_house"))
    on_benefit = r["dibao"] | r["tekun"]
    bad = (asset & r["value"].notna() & (r["value"] >= ASSET_INCOME_RATIO * net)) | (asset & r["value"].isna() & on_benefit)
    bad |= (r["record_type"] == "business") & (r["income_business"].isna() | (r["income_business"] <= 0))
    r = r[bad]
    zh = r["record_type"].map(lambda k: _ASSET_LABELS[k][0])
    en = r["record_type"].map(lambda k: _ASSET_LABELS[k][1])
    val = r["value"].map(lambda v: f"{v:,.0f}" if pd.notna(v) else "?")
    return join_details(hits(
        r["household_id"],
        [f"部门记录有{a}（{v}元），申报家庭纯收入{n:,.0f}元、经营性收入{b:,.0f}元 / department records {e} ({v} yuan) against declared net income {n:,.0f} and business income {b:,.0f}"
         for a, e, v, n, b in zip(zh, en, val, r["income_net"].fillna(0), r["income_business"].fillna(0))],
    ))


def identical_income(d: MonthData) -> pd.DataFrame:
    f = d.panel[d.panel["income_net"] > 0][["household_id", "income_net"]].merge(d.households[["household_id", "village_code"]], on="household_id")
    n = f.groupby(["village_code", "income_net"])["household_id"].transform("size")
    f = f.assign(n=n)[n >= SAME_INCOME_MIN]
    return hits(f["household_id"], [f"本村{k}户家庭纯收入同为{v:,.0f}元，疑似估算而非入户核实 / {k} households in the village declare exactly {v:,.0f} yuan net income (estimated rather than surveyed)"
                                      for k, v in zip(f["n"], f["income_net"])])


def medical_no_clue(d: MonthData) -> pd.DataFrame:
    f = d.panel[d.panel["medical_oop"].fillna(0) >= MEDICAL_LARGE]
    f = f[~f["household_id"].isin(d.illness_clue_households(12))]
    return hits(f["household_id"], [f"近12个月合规自付医疗费用{v:,.0f}元，未产生因病风险线索 / out-of-pocket medical costs of {v:,.0f} yuan in 12 months but no illness clue was raised" for v in f["medical_oop"]])
