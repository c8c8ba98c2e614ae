"""Rules on who is in the roster and what it says of them: the deceased still on benefits, deaths
not recorded, officials' relatives on 低保, one person registered twice, labour and schooling
contradictions, unsafe houses marked secure."""

from __future__ import annotations

import pandas as pd

from fanpin.quality.month import MonthData, age_at_end_of, hits, join_details, ym
from fanpin.quality.thresholds import SCHOOL_AGES, UNSAFE_GRADE


def _death_periods(d: MonthData) -> pd.DataFrame:
    """Per member: the death month from the roster or from a department death record (earliest)."""
    m = d.members[["member_id", "household_id", "id_number", "deceased_period", "dibao", "tekun"]]
    deaths = d.dept[d.dept["record_type"] == "death"]
    rec = deaths.assign(p=deaths["period"].fillna(0)).groupby("id_number")["p"].min()
    out = m.assign(record_period=m["id_number"].map(rec))
    out["died"] = out[["deceased_period", "record_period"]].min(axis=1)
    return out


def deceased_benefit(d: MonthData) -> pd.DataFrame:
    m = _death_periods(d)
    hit = m[(m["died"] < d.period) & (m["dibao"] | m["tekun"])]
    first = hit.groupby("household_id")["died"].min()
    n = hit.groupby("household_id").size()
    return hits(
        first.index,
        [f"{k}名成员已死亡（{ym(p) if p else '时间不详'}）仍享受低保/特困 / {k} member(s) deceased ({ym(p) if p else 'date unknown'}) still receiving dibao/tekun"
         for k, p in zip(n.reindex(first.index), first)],
    )


def death_not_recorded(d: MonthData) -> pd.DataFrame:
    deaths = d.dept[(d.dept["record_type"] == "death") & d.dept["id_number"].notna()]
    m = d.members[d.members["deceased_period"].isna()][["household_id", "id_number"]]
    hit = deaths.merge(m, on="id_number", suffixes=("_rec", ""))
    when = hit["period"].map(lambda p: ym(p) if pd.notna(p) else "?")
    return join_details(hits(hit["household_id"], [f"部门死亡登记（{s}，{w}），家庭成员信息未标注死亡 / death registered by {s} ({w}) but the roster does not mark the member deceased"
                                                     for s, w in zip(hit["source"], when)]))


def official_relative_dibao(d: MonthData) -> pd.DataFrame:
    rel = d.relations.merge(d.alive[["household_id", "id_number"]], left_on="relative_id_number", right_on="id_number")
    rel = rel.merge(d.panel[d.panel["dibao"]][["household_id"]], on="household_id")
    return join_details(hits(rel["household_id"], [f"低保户成员为干部近亲属（{p}，{r}） / dibao household member is a close relative of an official ({p}, {r})"
                                                     for p, r in zip(rel["official_post"], rel["relation"])]))


def duplicate_person(d: MonthData) -> pd.DataFrame:
    """Same name, sex and birth date in two households with ID numbers equal in the first 14 characters
    (address code and birth date) and different in the last four (sequence and check character):
    one person registered twice under a mistyped or re-issued number.  An exact repeat of an ID
    number cannot reach the database (unique) and is refused by the import."""
    m = d.members[["household_id", "name", "sex", "birth_date", "id_number"]].copy()
    m["id14"] = m["id_number"].str[:14]
    key = ["name", "sex", "birth_date", "id14"]
    g = m.groupby(key, sort=False)
    dup = m[(g["household_id"].transform("nunique") >= 2) & (g["id_number"].transform("nunique") >= 2)]
    if dup.empty:
        return hits([], [])
    others = dup.groupby(key, sort=False)["household_id"].agg(lambda s: sorted(set(s)))
    dup = dup.join(others.rename("all"), on=key)
    detail = [f"疑似同一人在两户重复登记（姓名、性别、出生日期相同，身份证号末四位不同），另见 {','.join(x for x in a if x != h)} / "
              f"same person apparently registered in two households (same name, sex and birth date, ID numbers differ in the last four characters), also in {','.join(x for x in a if x != h)}"
              for h, a in zip(dup["household_id"], dup["all"])]
    return join_details(hits(dup["household_id"], detail))


def no_labour_wage(d: MonthData) -> pd.DataFrame:
    h = d.households
    none = h["no_labour_guarantee"].fillna(False).astype(bool) | ((h["n_labour"] + h["n_weak_labour"]) == 0)
    f = d.panel.merge(h[none][["household_id"]], on="household_id")
    f = f[f["income_wage"].fillna(0) > 0]
    return hits(f["household_id"], [f"标注整户无劳动能力，但工资性收入{w:,.0f}元 / marked as having no labour capacity but has wage income of {w:,.0f} yuan" for w in f["income_wage"]])


def school_not_enrolled(d: MonthData) -> pd.DataFrame:
    m = d.alive
    age = age_at_end_of(m["birth_date"], d.period)
    lo, hi = SCHOOL_AGES
    hit = m[(age >= lo) & (age <= hi) & m["schooling"].isin(("none", "preschool"))]
    n = hit.groupby("household_id").size()
    return hits(n.index, [f"{k}名义务教育阶段（{lo}-{hi}岁）儿童未在学 / {k} child(ren) of compulsory school age ({lo}-{hi}) not enrolled" for k in n])


def unsafe_house_secured(d: MonthData) -> pd.DataFrame:
    h = d.households[d.households["housing_secured"].fillna(False).astype(bool)][["household_id"]]
    f = d.panel.merge(h, on="household_id")
    f = f[f["housing_grade"].fillna(0) >= UNSAFE_GRADE]
    grade = f["housing_grade"].astype(int).map({1: "A", 2: "B", 3: "C", 4: "D"})
    return hits(f["household_id"], [f"住房鉴定为{g}级危房，却标注住房安全有保障 / house graded {g} (unsafe) but marked housing-secure" for g in grade])


def welfare_job_no_labour(d: MonthData) -> pd.DataFrame:
    m = d.alive
    hit = m[m["public_welfare_job"] & m["labour_capacity"].isin(("lost", "none"))]
    n = hit.groupby("household_id").size()
    return hits(n.index, [f"{k}名无劳动能力成员占用公益岗位 / {k} member(s) without labour capacity hold a public welfare job" for k in n])
