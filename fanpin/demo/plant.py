"""Plant a known number of each supervision rule's case into a built demo county.

Runs after ``build_demo`` with its own random stream (derived from the seed), so the rest
of the county is unchanged by it.  First the roster's 住房安全有保障 marks are set
consistently with the last month's housing grades; then the rules run once to count
what the county already contains (some rules find natural cases: a child not in school,
a large medical bill no feed reported); then each rule gets a handful of cases in
households no rule flagged and no other planting touched, so that the rules find exactly
``natural + planted`` afterwards.  Those totals go to ``meta["planted_findings"]`` (JSON,
rule -> count) and the planted household ids to ``meta["planted_households"]``.

Plantings are minimally invasive: single member fields, a few panel cells of the last
month (kept consistent: net income stays the sum of its parts), department records,
officials' relations and monitoring rows; no member is added or removed.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from fanpin.core.ids import id_check_char
from fanpin.quality import rules as R
from fanpin.store import io as sio
from fanpin.store import schema as S


def planted_counts(engine: Engine) -> dict[str, int]:
    """The totals recorded by the last planting (rule -> findings expected in the last month)."""
    return {k: int(v) for k, v in (sio.load_json_meta(engine, "planted_findings", {}) or {}).items()}


class _Picker:
    """Draws households no rule flagged and no planting used yet."""

    def __init__(self, rng: np.random.Generator, used: set[str]) -> None:
        self.rng = rng
        self.used = used

    def pick(self, candidates, n: int) -> list[str]:  # noqa: ANN001
        c = np.array(sorted(set(map(str, candidates)) - self.used), dtype=object)
        if len(c) == 0 or n <= 0:
            return []
        chosen = sorted(self.rng.choice(c, size=min(n, len(c)), replace=False).tolist())
        self.used.update(chosen)
        return chosen


def _at(period: int, day: int = 15) -> datetime:
    return datetime(period // 100, period % 100, day, 10, 0, 0)


def plant_findings(engine: Engine, spec, rng: np.random.Generator | None = None) -> dict[str, int]:  # noqa: ANN001 - DemoSpec
    """Plant each rule's cases; returns rule -> expected findings in the last month (natural + planted)."""
    rng = rng if rng is not None else np.random.default_rng([int(spec.seed), 0x5E1F])
    P = int(spec.periods[-1])
    k = max(3, spec.households // 2000)
    h_c, p_c, m_c = S.households.c, S.panel.c, S.members.c

    # 0. the roster's housing-security marks agree with the month's grade
    with engine.begin() as conn:
        conn.execute(update(S.households).values(housing_secured=True))
        unsafe = select(p_c.household_id).where(p_c.period == P, p_c.housing_grade >= R.UNSAFE_GRADE)
        conn.execute(update(S.households).where(h_c.household_id.in_(unsafe)).values(housing_secured=False))

    natural = R.find(engine, P)
    nat = natural["rule"].value_counts().to_dict()
    pick = _Picker(rng, set(natural["household_id"].astype(str)))
    planted: dict[str, list[str]] = {}

    with engine.connect() as conn:
        d = R._Month(conn, P)
        hh, mem, pan = d.households.copy(), d.members.copy(), d.panel.copy()
        extra = pd.DataFrame(
            conn.execute(select(p_c.household_id, p_c.income_property, p_c.income_transfer, p_c.business_cost).where(p_c.period == P)).fetchall(),
            columns=["household_id", "income_property", "income_transfer", "business_cost"],
        )
        clue_hh = {r[0] for r in conn.execute(select(S.clues.c.household_id).distinct())}
        illness_hh = set(d.illness_clue_households(12))
    pan = pan.merge(extra, on="household_id").merge(hh[["household_id", "village_code", "size", "no_labour_guarantee"]], on="household_id")
    pan = pan.sort_values("household_id").reset_index(drop=True)
    mem = mem.sort_values("member_id").reset_index(drop=True)
    mem["age"] = R._age_at_end_of(mem["birth_date"], P)
    alive = mem[mem["deceased_period"].isna()]
    ids_taken = set(mem["id_number"])

    member_updates: list[dict] = []  # {"mid": ..., column: value}
    panel_updates: list[dict] = []
    dept_rows: list[dict] = []
    relation_rows: list[dict] = []

    # 1. deceased heads still marked as receiving dibao / tekun
    heads = alive[(alive["relation"] == "head") & (alive["dibao"] | alive["tekun"])]
    chosen = pick.pick(heads["household_id"], k)
    for mid in heads[heads["household_id"].isin(chosen)]["member_id"]:
        member_updates.append({"mid": int(mid), "deceased_period": sio.shift_period(P, -2)})
    planted["deceased_benefit"] = chosen

    # 2. a death registered by the police that the roster does not show
    cand = alive[~alive["dibao"] & ~alive["tekun"] & (alive["age"] >= 60)]
    chosen = pick.pick(cand["household_id"], k)
    for _, m in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id").iterrows():
        dept_rows.append({"id_number": m["id_number"], "household_id": m["household_id"], "source": "public_security", "record_type": "death",
                          "period": sio.shift_period(P, -1), "value": None, "detail": "死亡登记 / death registration"})
    planted["death_not_recorded"] = chosen

    # 3. cars and commercial houses worth several years of declared income (and near misses that are not)
    head_id = alive[alive["relation"] == "head"].drop_duplicates("household_id").set_index("household_id")["id_number"]
    with_head = pan[pan["household_id"].isin(head_id.index) & (pan["income_net"] > 0)]
    net = with_head.set_index("household_id")["income_net"]
    no_biz = with_head[with_head["income_business"].fillna(0) <= 0]["household_id"]
    chosen = pick.pick(no_biz, 1) if len(no_biz) else []
    for h in chosen:
        dept_rows.append({"id_number": head_id[h], "household_id": h, "source": "market_regulation", "record_type": "business", "period": sio.shift_period(P, -6),
                          "value": None, "detail": "个体工商户登记 / registered sole proprietorship"})
    more = pick.pick(with_head["household_id"], k - len(chosen))
    for i, h in enumerate(more):
        kind, src = (("car", "transport"), ("commercial_house", "housing"))[i % 2]
        value = round(R.ASSET_INCOME_RATIO * float(net[h]) + float(rng.uniform(20_000, 150_000)), -3)
        dept_rows.append({"id_number": head_id[h], "household_id": h, "source": src, "record_type": kind, "period": sio.shift_period(P, -3),
                          "value": value, "detail": "购置登记 / purchase registered"})
    planted["income_vs_dept"] = chosen + more
    near = pick.pick(with_head[with_head["income_net"] > 20_000]["household_id"], k)
    for i, h in enumerate(near):  # a cheap second-hand car, or a business with business income: no contradiction
        if i % 2 == 0:
            dept_rows.append({"id_number": head_id[h], "household_id": h, "source": "transport", "record_type": "car", "period": sio.shift_period(P, -3),
                              "value": round(0.5 * float(net[h]), -3), "detail": "二手车 / second-hand car"})
        elif float(with_head.set_index("household_id").loc[h, "income_business"] or 0) > 0:
            dept_rows.append({"id_number": head_id[h], "household_id": h, "source": "market_regulation", "record_type": "business", "period": sio.shift_period(P, -6),
                              "value": None, "detail": "个体工商户登记 / registered sole proprietorship"})

    # 4. dibao households with a member related to a village official (and relatives not on dibao)
    posts = np.array(["village_secretary", "village_director", "village_committee", "township_staff"], dtype=object)
    kinds = np.array(["sibling", "child", "parent", "spouse", "grandchild"], dtype=object)
    adults = alive[alive["age"] >= 30]
    village_of = hh.set_index("household_id")["village_code"]

    def relate(hids: list[str]) -> None:
        for h in hids:
            v = village_of[h]
            pool = adults[(adults["household_id"] != h) & (adults["household_id"].map(village_of) == v)]
            if pool.empty:
                pool = adults[adults["household_id"] != h]
            official = pool.iloc[int(rng.integers(len(pool)))]
            relative = alive[alive["household_id"] == h].iloc[0]
            relation_rows.append({"official_id_number": official["id_number"], "official_post": str(rng.choice(posts)), "region_code": v,
                                  "relative_id_number": relative["id_number"], "relation": str(rng.choice(kinds))})

    dibao_hh = pan[pan["dibao"]]["household_id"]
    chosen = pick.pick(dibao_hh[dibao_hh.isin(alive["household_id"])], k)
    relate(chosen)
    planted["official_relative_dibao"] = chosen
    relate(pick.pick(pan[~pan["dibao"]]["household_id"], k))  # relatives not on dibao: no finding

    # 5. one person registered in two households under two ID numbers
    cand = alive[(alive["age"] >= 25) & (alive["age"] <= 55) & ~alive["dibao"] & ~alive["tekun"] & ~alive["public_welfare_job"]]
    pairs: list[str] = []
    for _ in range(max(2, k // 2)):  # a few pairs
        a_h = pick.pick(cand["household_id"], 1)
        if not a_h:
            break
        a = cand[cand["household_id"] == a_h[0]].iloc[0]
        b_h = pick.pick(cand[cand["sex"] == a["sex"]]["household_id"], 1)
        if not b_h:
            break
        b = cand[(cand["household_id"] == b_h[0]) & (cand["sex"] == a["sex"])].iloc[0]
        parity = 1 if a["sex"] == "M" else 0
        seq0 = int(a["id_number"][14:17])
        new_id = None
        for j in range(1, 500):
            s = (seq0 + 2 * j) % 1000
            if s % 2 != parity or s == 0:
                continue
            body = a["id_number"][:14] + f"{s:03d}"
            cand_id = body + str(id_check_char(body))
            if cand_id not in ids_taken:
                new_id = cand_id
                break
        if new_id is None:
            continue
        ids_taken.add(new_id)
        member_updates.append({"mid": int(b["member_id"]), "name": a["name"], "birth_date": a["birth_date"], "id_number": new_id})
        pairs += [a_h[0], b_h[0]]
    planted["duplicate_person"] = sorted(pairs)

    # 6. households with no labour capacity that have wage income
    cand = pan[pan["no_labour_guarantee"].fillna(False).astype(bool) & (pan["income_wage"].fillna(0) == 0)]
    chosen = pick.pick(cand["household_id"], k)
    pi = pan.set_index("household_id")
    for h in chosen:
        w = round(float(rng.uniform(2_000, 8_000)), -2)
        net_h = float(pi.loc[h, "income_net"]) + w
        panel_updates.append({"hid": h, "income_wage": w, "income_net": net_h, "income_pc": round(net_h / int(pi.loc[h, "size"]))})
    planted["no_labour_wage"] = chosen

    # 7. a village where several households carry the same (estimated) income
    ok = pan[(pan["income_net"] > 0) & ~pan["no_labour_guarantee"].fillna(False).astype(bool) & ~pan["household_id"].isin(pick.used)]
    per_village = ok.groupby("village_code").size()
    villages = sorted(per_village[per_village >= 10].index)
    group: list[str] = []
    n_groups = max(1, k // 5)
    for v in (rng.choice(np.array(villages, dtype=object), size=min(n_groups, len(villages)), replace=False) if villages else []):
        members_v = pick.pick(ok[ok["village_code"] == v]["household_id"], R.SAME_INCOME_MIN + 1)
        tpl = pi.loc[members_v[0]]
        for h in members_v:
            panel_updates.append({"hid": h, **{c: float(tpl[c]) for c in ("income_wage", "income_business", "income_property", "income_transfer", "business_cost", "income_net")},
                                  "income_pc": round(float(tpl["income_net"]) / int(pi.loc[h, "size"]))})
        group += members_v
    planted["identical_income"] = sorted(group)

    # 8. a large medical bill that no feed reported
    cand = pan[(pan["medical_oop"].fillna(0) < R.MEDICAL_LARGE) & ~pan["household_id"].isin(illness_hh)]
    chosen = pick.pick(cand["household_id"], k)
    for h in chosen:
        panel_updates.append({"hid": h, "medical_oop": round(float(rng.uniform(12_000, 60_000)), -1)})
    planted["medical_no_clue"] = chosen

    # 9. monitoring: eliminations in the same / next month as identification, slower ones, still monitored
    quiet = sorted(set(pan["household_id"]) - clue_hh - pick.used)[: 3 * k]  # low ids, households no feed mentions
    quiet = [str(x) for x in rng.permutation(np.array(quiet, dtype=object))]
    fast, slow, still = quiet[:k], quiet[k : 2 * k], quiet[2 * k : 3 * k]
    pick.used.update(quiet)
    planted["eliminated_too_fast"] = sorted(fast)
    first_rows, elim_of = [], {}
    for i, h in enumerate(fast):
        ident = sio.shift_period(P, -4)
        gone = ident if i % 2 == 0 else sio.shift_period(ident, 1)
        first_rows.append({"household_id": h, "period": ident, "status": "monitored", "category": "marginal", "risk_types": "illness", "recorded_at": _at(ident), "recorded_by": "demo_cadre"})
        elim_of[h] = gone
    for h in slow:
        ident = sio.shift_period(P, -8)
        first_rows.append({"household_id": h, "period": ident, "status": "monitored", "category": "sudden_hardship", "risk_types": "disaster", "recorded_at": _at(ident), "recorded_by": "demo_cadre"})
        elim_of[h] = sio.shift_period(P, -3)
    for h in still:
        ident = sio.shift_period(P, -2)
        first_rows.append({"household_id": h, "period": ident, "status": "monitored", "category": "unstable_former_poor", "risk_types": "unstable_work", "recorded_at": _at(ident), "recorded_by": "demo_cadre"})

    # 10. a child of compulsory school age not enrolled
    age = alive["age"]
    cand = alive[(age >= R.SCHOOL_AGES[0]) & (age <= R.SCHOOL_AGES[1]) & alive["schooling"].isin(("primary", "junior"))]
    chosen = pick.pick(cand["household_id"], k)
    for mid in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id")["member_id"]:
        member_updates.append({"mid": int(mid), "schooling": "none"})
    planted["school_not_enrolled"] = chosen

    # 11. an unsafe house marked housing-secure
    chosen = pick.pick(pan[pan["housing_grade"].fillna(0) >= R.UNSAFE_GRADE]["household_id"], k)
    planted["unsafe_house_secured"] = chosen

    # 12. a public welfare job held by someone without labour capacity
    cand = alive[alive["labour_capacity"].isin(("lost", "none")) & (age >= 18) & ~alive["public_welfare_job"]]
    chosen = pick.pick(cand["household_id"], k)
    for mid in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id")["member_id"]:
        member_updates.append({"mid": int(mid), "public_welfare_job": True})
    planted["welfare_job_no_labour"] = chosen

    # ---- write everything in one transaction
    with engine.begin() as conn:
        for upd in member_updates:
            mid = upd.pop("mid")
            conn.execute(update(S.members).where(m_c.member_id == mid).values(**upd))
        for upd in panel_updates:
            hid = upd.pop("hid")
            conn.execute(update(S.panel).where(p_c.period == P, p_c.household_id == hid).values(**upd))
        if dept_rows:
            conn.execute(insert(S.dept_records), dept_rows)
        if relation_rows:
            conn.execute(insert(S.official_relations), relation_rows)
        if planted["unsafe_house_secured"]:
            conn.execute(update(S.households).where(h_c.household_id.in_(planted["unsafe_house_secured"])).values(housing_secured=True))
        if first_rows:
            conn.execute(insert(S.monitoring), first_rows)
            props = [{"household_id": h, "period": p, "status": "proposed", "category": "marginal", "risk_types": "illness", "method": "by_assistance",
                      "recorded_at": _at(p, 20), "recorded_by": "demo_cadre"} for h, p in sorted(elim_of.items())]
            conn.execute(insert(S.monitoring), props)
            m = S.monitoring.c
            ids = dict(conn.execute(select(m.household_id, m.record_id).where(m.status == "proposed", m.household_id.in_(sorted(elim_of)))).fetchall())
            conn.execute(insert(S.monitoring), [
                {"household_id": h, "period": p, "status": "eliminated", "category": "marginal", "risk_types": "illness", "method": "by_assistance",
                 "recorded_at": _at(p, 25), "recorded_by": "demo_cadre", "approved_by": "demo_head", "proposal_id": int(ids[h])}
                for h, p in sorted(elim_of.items())
            ])
        totals = {r.code: int(nat.get(r.code, 0)) + len(planted.get(r.code, [])) for r in R.RULES}
        sio.set_meta(conn, "planted_findings", json.dumps(totals, sort_keys=True))
        sio.set_meta(conn, "planted_households", json.dumps({c: planted.get(c, []) for c in sorted(totals)}, sort_keys=True))
        sio.bump_data_version(conn)
    return totals


__all__ = ["plant_findings", "planted_counts"]
