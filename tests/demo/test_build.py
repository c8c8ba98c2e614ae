"""The demo county: deterministic, valid identifiers, and the distributions it promises."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import select

from fanpin import store
from fanpin.core.ids import id_check_char
from fanpin.demo.build import build_demo
from fanpin.demo.spec import DemoSpec
from fanpin.store import schema as S
from tests.conftest import backend_url

MEDIUM = DemoSpec(households=20_000, months=13, start=202407, seed=20231)


def _build(url: str, spec: DemoSpec):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    build_demo(engine, spec)
    return engine


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory):
    return _build(f"sqlite:///{tmp_path_factory.mktemp('medium') / 'm.db'}", MEDIUM)


def _table(engine, table) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    return pd.DataFrame(rows, columns=[c.name for c in table.columns])


def test_same_seed_same_county(tmp_path) -> None:
    spec = DemoSpec(households=400, months=13, townships=5, villages=12, seed=3)
    a = _build(f"sqlite:///{tmp_path / 'a.db'}", spec)
    b = _build(f"sqlite:///{tmp_path / 'b.db'}", spec)
    for table in (S.regions, S.households, S.members, S.panel, S.events, S.clues):
        pd.testing.assert_frame_equal(_table(a, table), _table(b, table))
    c = _build(f"sqlite:///{tmp_path / 'c.db'}", DemoSpec(households=400, months=13, townships=5, villages=12, seed=4))
    assert not _table(a, S.panel)["income_pc"].equals(_table(c, S.panel)["income_pc"])


@pytest.mark.pg
def test_postgresql_holds_the_same_county(tmp_path) -> None:
    spec = DemoSpec(households=300, months=13, townships=4, villages=9, seed=5)
    lite = _build(f"sqlite:///{tmp_path / 'a.db'}", spec)
    pg = _build(backend_url("postgresql", tmp_path), spec)
    for period in (spec.periods[0], spec.periods[-1]):
        pd.testing.assert_frame_equal(store.load_snapshot(lite, period, use_cache=False), store.load_snapshot(pg, period, use_cache=False))
    m1, m2 = (_table(e, S.members).drop(columns="member_id").sort_values("id_number", ignore_index=True) for e in (lite, pg))
    pd.testing.assert_frame_equal(m1, m2)
    assert len(_table(pg, S.clues)) == len(_table(lite, S.clues)) > 0


def test_sizes_and_counts(medium) -> None:
    hh = _table(medium, S.households)
    assert len(hh) == 20_000
    assert hh["size"].between(1, 7).all()
    assert set(hh["size"]) == set(range(1, 8))
    assert 0.20 <= (hh["household_type"] == "former_poor").mean() <= 0.30
    members = _table(medium, S.members)
    assert (members.groupby("household_id").size().reindex(hh["household_id"]).to_numpy() == hh["size"].to_numpy()).all()
    assert store.periods(medium) == MEDIUM.periods


def test_former_poor_income_distribution(medium) -> None:
    snap = store.load_snapshot(medium, MEDIUM.periods[-1])
    fp = snap["household_type"] == "former_poor"
    med = snap.loc[fp, "income_pc"].median()
    assert 14_000 <= med <= 17_000
    # a long left tail: the 5th percentile well under half the median, some below the line
    assert snap.loc[fp, "income_pc"].quantile(0.05) < 0.6 * med
    line = 7500 + 300 * (MEDIUM.periods[-1] // 100 - 2023)
    below = (snap["income_pc"] < line).mean()
    assert 0.005 < below < 0.08
    assert snap.loc[~fp, "income_pc"].median() > med


def test_members_are_plausible(medium) -> None:
    m = _table(medium, S.members)
    end = pd.Timestamp("2025-07-15")
    age = (end - pd.to_datetime(m["birth_date"])).dt.days / 365.25
    hh = _table(medium, S.households)
    singles = hh.loc[hh["size"] == 1, "household_id"]
    alone = m[m["household_id"].isin(singles)]
    assert (age[alone.index] >= 65).mean() > 0.4  # elderly living alone are common
    assert 0.005 < (m["health"] == "serious").mean() < 0.05
    assert 0.08 < (m["health"] == "chronic").mean() < 0.35
    assert 0.02 < (m["disability"] > 0).mean() < 0.12
    assert set(m["schooling"]) >= {"preschool", "primary", "junior", "senior", "college", "none"}
    assert (m["work_location"] == "out_province").mean() > 0.1
    assert set(m["labour_capacity"]) == {"normal", "weak", "lost", "none"}


def test_id_numbers_valid_unique_and_consistent(medium) -> None:
    m = _table(medium, S.members)
    ids = m["id_number"].to_numpy().astype(str)
    assert ids.size == len(set(ids))
    assert np.all(np.char.str_len(ids) == 18)
    assert np.all(np.char.startswith(ids, "99"))
    assert (id_check_char(np.array([s[:17] for s in ids])) == np.array([s[17] for s in ids])).all()
    births = pd.to_datetime(m["birth_date"]).dt.strftime("%Y%m%d").to_numpy()
    assert (np.array([s[6:14] for s in ids]) == births).all()
    odd = np.array([int(s[16]) % 2 == 1 for s in ids])
    assert (odd == (m["sex"] == "M").to_numpy()).all()


def test_regions_and_geometry(medium) -> None:
    r = _table(medium, S.regions)
    assert r["region_code"].str.fullmatch(r"99\d{10}").all()
    assert (r["level"] == "county").sum() == 1
    assert (r["level"] == "township").sum() == MEDIUM.townships
    assert (r["level"] == "village").sum() == MEDIUM.villages
    towns = r[r["level"] == "township"].set_index("region_code")
    polys = {c: shape(json.loads(g)) for c, g in towns["geometry"].items()}
    v = r[r["level"] == "village"]
    assert (v["parent_code"] == v["region_code"].str[:9] + "000").all()
    for _, row in v.iterrows():
        assert polys[row["parent_code"]].contains(shapely.Point(row["lon"], row["lat"]))
    hh = _table(medium, S.households)
    assert (hh["village_code"].str[:9] + "000" == hh["township_code"]).all()


def test_shocks_create_spatial_hotspots(medium) -> None:
    ev = _table(medium, S.events)
    assert set(ev["event_type"]) >= {"illness", "accident", "job_loss", "flood", "factory_closure", "price_crash", "school_entry"}
    floods = ev[(ev["event_type"] == "flood") & ev["household_id"].isna()]
    assert len(floods) >= 2  # the flood hits several neighbouring townships together
    period = int(floods["period"].iloc[0])
    hit_towns = set(floods.loc[floods["period"] == period, "region_code"])
    snap = store.load_snapshot(medium, period)
    inside = snap["township_code"].isin(hit_towns)
    share_in = (snap.loc[inside, "disaster_loss"] > 0).mean()
    share_out = (snap.loc[~inside, "disaster_loss"] > 0).mean()
    assert share_in > 0.3 and share_out < 0.05
    from fanpin.demo.geography import township_adjacency

    r = _table(medium, S.regions)
    towns = r[r["level"] == "township"]
    from fanpin.demo.geography import Township

    ts = [Township(c, n, e, shape(json.loads(g)), lo, la) for c, n, e, g, lo, la in towns[["region_code", "name", "name_en", "geometry", "lon", "lat"]].itertuples(index=False)]
    adj = township_adjacency(ts)
    hit = sorted(hit_towns)
    assert all(any(o in adj[t] for o in hit if o != t) for t in hit)


def test_department_feeds_produce_clues(medium) -> None:
    cl = _table(medium, S.clues)
    assert set(cl["source"]) >= {"medical_insurance", "emergency", "housing", "education", "hrss", "civil_affairs", "disability_federation", "cadre", "household"}
    assert set(cl["channel"]) == {"department", "cadre_visit", "self_report"}
    assert cl["received_at"].notna().all()
    assert (cl["received_at"].map(lambda d: d.year * 100 + d.month) == cl["period"]).all()


def test_panel_simulation_steps_month_by_month() -> None:
    """The panel is a PanelSimulation stepped once per month: same seed, same months; state moves on."""
    from fanpin.demo.geography import make_geography
    from fanpin.demo.panel import PanelSimulation
    from fanpin.demo.population import _population

    spec = DemoSpec(households=300, months=4, townships=4, villages=9, seed=11)

    def run() -> list[dict]:
        rng = np.random.default_rng(spec.seed)
        geo = make_geography(rng, spec.townships, spec.villages, spec.county_code)
        pop = _population(rng, spec, geo)
        sim = PanelSimulation(spec, geo, pop, np.array([f"H{i:05d}" for i in range(spec.households)], dtype=object), rng)
        return [sim.step(p) for p in spec.periods]

    a, b = run(), run()
    for ma, mb in zip(a, b):
        assert ma.keys() == mb.keys()
        for k in ma:
            np.testing.assert_array_equal(ma[k], mb[k])
    assert [int(m["period"][0]) for m in a] == spec.periods
    assert not np.array_equal(a[0]["income_wage"], a[-1]["income_wage"])
