"""The demo's planted supervision cases: recorded, deterministic, and leaving the county's invariants intact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM
from fanpin.core.ids import id_check_char
from fanpin.demo.build import build_demo
from fanpin.demo.plant import planted_counts
from fanpin.demo.spec import DemoSpec
from fanpin.quality import rules as R
from fanpin.quality import thresholds as T
from fanpin.store import schema as S
from fanpin.store.monitoring_records import records_from_history
from tests.conftest import backend_url

#: The county checks: every planted case found, no near miss (nor any other clean household) flagged.
COUNTY_CHECKS = ("risk_no_measure", "assistance_no_development", "eliminated_too_fast", "eliminated_below_line")
#: The official procedure's checks: likewise (their near misses passed the chain, or just).
PROCEDURE_CHECKS = ("procedure_skipped", "notice_too_short")


def _table(engine, table) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(select(table)).mappings().all())


def test_counts_recorded_and_planted_households_disjoint(small_demo) -> None:
    engine, spec = small_demo
    counts = planted_counts(engine)
    planted = store.load_json_meta(engine, "planted_households")
    assert set(counts) == set(planted) == {r.code for r in R.RULES}
    k = max(3, spec.households // 2000)
    for code, hids in planted.items():
        assert counts[code] >= len(hids) > 0
        if code not in ("duplicate_person", "identical_income"):
            assert len(hids) <= k
    everyone = [h for hids in planted.values() for h in hids]
    assert len(everyone) == len(set(everyone))  # each planting in its own household
    assert store.get_meta(engine.connect(), "data_version")


def test_roster_invariants_survive_planting(small_demo) -> None:
    engine, spec = small_demo
    hh, m = _table(engine, S.households), _table(engine, S.members)
    assert (m.groupby("household_id").size().reindex(hh["household_id"]).to_numpy() == hh["size"].to_numpy()).all()
    ids = m["id_number"].to_numpy().astype(str)
    assert ids.size == len(set(ids))
    assert (id_check_char(np.array([s[:17] for s in ids])) == np.array([s[17] for s in ids])).all()
    births = pd.to_datetime(m["birth_date"]).dt.strftime("%Y%m%d").to_numpy()
    assert (np.array([s[6:14] for s in ids]) == births).all()
    assert ((np.array([int(s[16]) % 2 for s in ids]) == 1) == (m["sex"] == "M").to_numpy()).all()


def test_housing_marks_follow_grades_except_planted(small_demo) -> None:
    engine, spec = small_demo
    last = spec.periods[-1]
    snap = store.load_snapshot(engine, last)
    hh = _table(engine, S.households).set_index("household_id")
    planted = set(store.load_json_meta(engine, "planted_households")["unsafe_house_secured"])
    grade = snap.set_index("household_id")["housing_grade"].reindex(hh.index)
    contradict = hh["housing_secured"].astype(bool) & (grade >= T.UNSAFE_GRADE)
    assert set(hh.index[contradict]) == planted
    assert hh["housing_secured"].notna().all()


def test_planted_panel_values_are_consistent(small_demo) -> None:
    engine, spec = small_demo
    planted = store.load_json_meta(engine, "planted_households")
    snap = store.load_snapshot(engine, spec.periods[-1]).set_index("household_id")
    same = snap.loc[planted["identical_income"]]
    parts = ["income_wage", "income_business", "income_property", "income_transfer", "business_cost", "income_net"]
    for v, g in same.groupby("village_code"):
        assert len(g) >= T.SAME_INCOME_MIN and (g[parts].nunique() == 1).all(), v
    assert (same["income_pc"] == (same["income_net"] / same["size"]).round()).all()
    nl = snap.loc[planted["no_labour_wage"]]
    assert (nl["income_wage"] > 0).all() and nl["no_labour_guarantee"].all()
    assert (nl["income_pc"] == (nl["income_net"] / nl["size"]).round()).all()
    assert (snap.loc[planted["medical_no_clue"], "medical_oop"] >= T.MEDICAL_LARGE).all()
    # the month before is untouched by planting
    prev = store.load_snapshot(engine, spec.periods[-2]).set_index("household_id")
    assert (prev.loc[planted["medical_no_clue"], "medical_oop"] < T.MEDICAL_LARGE).all()


def test_monitoring_rows_are_a_valid_history(small_demo) -> None:
    engine, _ = small_demo
    mon = _table(engine, S.monitoring).sort_values("record_id")
    elim = mon[mon["status"] == "eliminated"]
    props = mon.set_index("record_id")
    assert (props.loc[elim["proposal_id"].astype(int), "status"] == "proposed").all()
    assert (props.loc[elim["proposal_id"].astype(int), "household_id"].to_numpy() == elim["household_id"].to_numpy()).all()
    planted = set(store.load_json_meta(engine, "planted_households")["eliminated_too_fast"])
    assert planted < set(elim["household_id"])  # slower eliminations are there too


def test_same_seed_same_plantings_on_both_backends(small_demo, tmp_path) -> None:
    engine, spec = small_demo
    pg = store.make_engine(backend_url("postgresql", tmp_path), create=True)
    try:
        store.upgrade(pg)
        build_demo(pg, spec)
        for key in ("planted_findings", "planted_households"):
            assert store.load_json_meta(pg, key) == store.load_json_meta(engine, key)
        a, b = R.find(engine, principal=SYSTEM), R.find(pg, principal=SYSTEM)
        pd.testing.assert_frame_equal(a, b)
    finally:
        pg.dispose()


def _below_the_line(engine, spec: DemoSpec) -> set[str]:
    """Worked out apart from the rule: households eliminated by the last month whose yearly income per head
    of the elimination year is below the line the demo set for that year."""
    recs, inc = _table(engine, S.monitoring_records), _table(engine, S.yearly_incomes)
    e = recs[recs["eliminated"].astype(bool) & recs["eliminated_period"].notna()]
    e = e[e["eliminated_period"].astype(int) <= spec.periods[-1]].assign(year=lambda x: x["eliminated_period"].astype(int) // 100)
    e = e.merge(inc[["household_id", "year", "income_pc"]], on=["household_id", "year"])
    return set(e.loc[e["income_pc"] < e["year"].map(spec.lines()), "household_id"])


def _month_gap(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype(int), b.astype(int)
    return (b // 100 - a // 100) * 12 + b % 100 - a % 100


def test_planted_monitoring_cases_are_their_historys_records(small_demo) -> None:
    """Each planted case's record is what its history gives (as the workflow's would be), the months sit
    where the rule's boundaries are, and with no replay (no natural case) each check finds exactly its plants."""
    engine, spec = small_demo
    planted = store.load_json_meta(engine, "planted_households")
    near = store.load_json_meta(engine, "planted_near_misses")
    assert set(near) == {*COUNTY_CHECKS, *PROCEDURE_CHECKS} and all(near[c] for c in near)
    hids = sorted({h for c in COUNTY_CHECKS for h in (*planted[c], *near[c])})
    recs = _table(engine, S.monitoring_records).set_index("household_id")
    with engine.connect() as conn:
        hist = records_from_history(conn).set_index("household_id")
    cols = ["monitoring_category", "risk_1", "risk_2", "identified_period", "eliminated", "elimination_method", "eliminated_period", "development_measures"]

    def rows(f: pd.DataFrame) -> list[list[str]]:
        f = f.astype(object).where(f.notna(), None)
        for c in ("identified_period", "eliminated_period"):
            f[c] = f[c].map(lambda v: None if v is None else int(v))
        return [[str(v) for v in r] for r in f.to_numpy()]

    assert rows(recs.loc[hids, cols]) == rows(hist.loc[hids, cols])
    fast = recs.loc[planted["eliminated_too_fast"]]
    assert sorted(_month_gap(fast["identified_period"], fast["eliminated_period"])) == [0, 1, 2]
    slow = recs.loc[near["eliminated_too_fast"]]
    slow = slow[slow["eliminated"].astype(bool)]
    assert set(_month_gap(slow["identified_period"], slow["eliminated_period"])) == {T.FAST_ELIMINATION_MONTHS + 1, T.FAST_ELIMINATION_MONTHS + 3}
    assert set(recs.loc[planted["assistance_no_development"], "elimination_method"]) == {"by_assistance"}
    assert set(recs.loc[planted["risk_no_measure"], "risk_1"]) <= set(T.MATCHING_MEASURES)
    f = R.find(engine, codes=list(COUNTY_CHECKS), principal=SYSTEM)
    assert {c: set(f.loc[f["rule"] == c, "household_id"]) for c in COUNTY_CHECKS} == {c: set(planted[c]) for c in COUNTY_CHECKS}
    assert _below_the_line(engine, spec) == set(planted["eliminated_below_line"])


def _build(path, spec: DemoSpec):
    eng = store.make_engine(f"sqlite:///{path}", create=True)
    store.upgrade(eng)
    return eng, build_demo(eng, spec)


@pytest.mark.parametrize(("households", "seed"), [(600, 11), (900, 5), (2_500, 3)])
def test_rules_find_exactly_the_recorded_counts(households: int, seed: int, tmp_path) -> None:
    spec = DemoSpec(households=households, months=9, start=202501, townships=4, villages=12, seed=seed)
    eng, counts = _build(tmp_path / "d.db", spec)
    try:
        assert {k[len("planted_"):]: v for k, v in counts.items() if k.startswith("planted_")} == planted_counts(eng)
        f = R.find(eng, principal=SYSTEM)
        assert f["rule"].value_counts().reindex([r.code for r in R.RULES], fill_value=0).to_dict() == planted_counts(eng)
        planted = store.load_json_meta(eng, "planted_households")
        assert all(len(v) > 0 for v in planted.values())
        # the county checks over the replayed workflow: the plants, no near miss, and for the income check
        # the replayed households whose year's income fell back below the line (worked out apart from the rule)
        near = store.load_json_meta(eng, "planted_near_misses")
        below = _below_the_line(eng, spec)
        for code in COUNTY_CHECKS:
            flagged = set(f.loc[f["rule"] == code, "household_id"])
            assert near[code] and not flagged & set(near[code]), code
            assert flagged == set(planted[code]) | (below if code == "eliminated_below_line" else set()), code
        # the procedure's checks over the replayed workflow and every planted monitoring case: the plants only
        for code in PROCEDURE_CHECKS:
            flagged = set(f.loc[f["rule"] == code, "household_id"])
            assert near[code] and not flagged & set(near[code]), code
            assert flagged == set(planted[code]), code
    finally:
        eng.dispose()


def test_same_seed_same_plantings(tmp_path) -> None:
    spec = DemoSpec(households=600, months=9, start=202501, townships=4, villages=12, seed=11)
    found = []
    for i in range(2):
        eng, _ = _build(tmp_path / f"d{i}.db", spec)
        found.append((R.find(eng, principal=SYSTEM), _table(eng, S.dept_records), _table(eng, S.official_relations), _table(eng, S.members), _table(eng, S.monitoring).drop(columns=["recorded_at"])))
        eng.dispose()
    for x, y in zip(*found):
        pd.testing.assert_frame_equal(x, y)
