"""Province and city leaders: scoped by a region code's prefix, aggregates only.

Accounts on SQLite and PostgreSQL (the region kept in the account's scope column, checked against
the database's townships and the analytic store's counties); the picker's options and the engine's
refusals on a tiny demo province of three counties in two cities (990101, 990102 in city 9901,
990201 in city 9902)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import AccessDenied, Principal, can, can_open, in_region
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.regional import check_region, covered_counties, region_duplicates, region_rows, region_scenario, region_tree, region_trends, side_by_side
from fanpin.engine.scoring import RiskPolicy
from fanpin.store.snapshot import SnapshotStore
from tests.conftest import insert_tiny_regions

ROOT = Principal("root", "admin")
PROV = Principal("gov", "province_leader", frozenset(), region="990000000000")
CITY1 = Principal("mayor1", "city_leader", frozenset(), region="990100000000")
CITY2 = Principal("mayor2", "city_leader", frozenset(), region="990200000000")
COUNTIES = ["980101", "990101", "990102", "990201"]


# ---------------------------------------------------------------- the rule, without data
def test_covers_is_a_prefix_of_the_region() -> None:
    assert in_region("990101003000", "990100000000") and not in_region("990201003000", "990100000000")
    assert PROV.covers("990000000000") and PROV.covers("9902") and PROV.covers("990201003000")
    assert not PROV.covers("980101") and not PROV.covers(None) and not PROV.covers("99x1")
    assert CITY1.covers("990101") and CITY1.covers("990100000000")
    assert not CITY1.covers("990000000000") and not CITY1.covers("990201") and not CITY1.covers("990200000000")
    assert ROOT.covers("980101")
    # a county's roles read their county's database, never the province's store
    for p in (Principal("boss", "leader"), Principal("ana", "analyst"), Principal("cw", "case_worker", frozenset({"990101001000"}))):
        assert not p.covers("990101")
    # a leader above the county without a region sees nothing
    assert not Principal("x", "city_leader").covers("990101")


def test_leaders_above_the_county_read_aggregates_only() -> None:
    for role in ("province_leader", "city_leader"):
        assert {p for p in ("overview", "map", "simulator", "profile", "clues", "register", "todo", "admin") if can_open(role, p)} == {"overview", "map", "simulator"}
        assert can(role, "export")
        for action in ("household_view", "unmask", "policy_adopt", "policy_save", "case_county", "clue_add", "user_manage"):
            assert not can(role, action), (role, action)


def test_the_picker_offers_exactly_the_regions_covered() -> None:
    t = region_tree(PROV, COUNTIES)
    assert t.provinces == ["990000000000"]
    assert t.cities == ["990100000000", "990200000000"]
    assert t.counties == ["990101000000", "990102000000", "990201000000"]
    assert t.children("990000000000") == ["990100000000", "990200000000"]
    assert t.children("990100000000") == ["990101000000", "990102000000"]
    c = region_tree(CITY1, COUNTIES)
    assert (c.provinces, c.cities, c.counties) == ([], ["990100000000"], ["990101000000", "990102000000"])
    assert c.top == "990100000000" and not c.offers("990000000000") and not c.offers("990201000000")
    a = region_tree(ROOT, COUNTIES)
    assert a.provinces == ["980000000000", "990000000000"] and len(a.counties) == 4
    assert region_tree(Principal("boss", "leader"), COUNTIES) == region_tree(None, COUNTIES)
    assert region_tree(None, COUNTIES).top is None
    assert covered_counties(CITY2, COUNTIES) == ["990201"]


# ---------------------------------------------------------------- the engine's answers
@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> ProvinceEngine:
    s = SnapshotStore(tmp_path_factory.mktemp("prov") / "store")
    build_province(s, ProvinceSpec(counties=3, households_per_county=600, months=5, townships=4, villages=12, counties_per_city=2, duplicates=0, seed=3))
    return ProvinceEngine(s)


def test_a_city_leader_gets_their_city_and_nothing_else(province: ProvinceEngine) -> None:
    assert province.counties == ["990101", "990102", "990201"]
    pol = RiskPolicy.default()
    agg = region_trends(province, CITY1, "990100000000", pol)
    assert sorted(agg.frame["county_code"].unique()) == ["990101", "990102"]  # the other city's files were never read
    table = side_by_side(agg, "990100000000", province.periods[-1], "county")
    assert table["region_code"].tolist() and set(table["region_code"]) == {"990101000000", "990102000000"}
    assert int(table["households"].sum()) == 1200
    for region in ("990200000000", "990000000000", "990201000000", "990201001000"):
        with pytest.raises(AccessDenied):
            region_trends(province, CITY1, region, pol)
        with pytest.raises(AccessDenied):
            region_scenario(province, CITY1, region, province.periods[-1], pol, pol)
        with pytest.raises(AccessDenied):
            region_duplicates(province, CITY1, region)
    for county in ("990101", "990201"):  # no household rows, not even of their own city
        with pytest.raises(AccessDenied):
            region_rows(province, CITY1, province.periods[-1], county)
    with pytest.raises(AccessDenied):
        check_region(Principal("boss", "leader"), "990100000000")


def test_a_province_leaders_figures_add_up_to_the_engines(province: ProvinceEngine) -> None:
    pol = RiskPolicy.default()
    whole = province.trends(pol)
    mine = region_trends(province, PROV, "990000000000", pol)
    assert whole.at("county").equals(mine.at("county"))
    sc = region_scenario(province, CITY2, "990200000000", province.periods[-1], pol, replace(pol, cutoffs=(30.0, 50.0)))
    assert set(sc.frame["county_code"]) == {"990201"}
    assert sum(sc.base_counts.values()) == 600
    assert region_rows(province, ROOT, province.periods[-1], "990201").shape[0] == 600  # an administrator may drill down
    with pytest.raises(AccessDenied):  # a township named with another county's code
        region_rows(province, ROOT, province.periods[-1], "990201", "990101001000")


# ---------------------------------------------------------------- accounts
@pytest.fixture
def eng(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANPIN_STORE_DIR", str(tmp_path / "no-store"))  # no analytic store: the database's regions only
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
    yield engine
    engine.dispose()


def test_leaders_are_created_with_a_region_and_scoped_by_it(eng) -> None:
    u = users.add_user(eng, "gov", "province_leader", "pass-word-1", region="99", principal=ROOT)
    assert (u.region, u.townships) == ("990000000000", None)
    p = users.authenticate(eng, "gov", "pass-word-1")
    assert p.region == "990000000000" and p.townships == frozenset({"990101001000", "990101002000"})  # the database's townships inside it
    users.add_user(eng, "mayor", "city_leader", "pass-word-1", region="990100000000", principal=ROOT)
    assert users.principal_for(eng, "mayor").townships == frozenset({"990101001000", "990101002000"})
    # moved to another city (known from nowhere): refused; to a case worker: townships again
    with pytest.raises(users.UserError) as e:
        users.set_role(eng, "mayor", "city_leader", region="9902", principal=ROOT)
    assert e.value.code == "unknown_region"
    users.set_role(eng, "mayor", "case_worker", ["990101001000"], principal=ROOT)
    assert users.principal_for(eng, "mayor") == Principal("mayor", "case_worker", frozenset({"990101001000"}), "mayor")


@pytest.mark.parametrize(("role", "kwargs", "code"), [
    ("province_leader", {}, "bad_region"),
    ("province_leader", {"region": "9901"}, "bad_region"),  # a city's code for a province leader
    ("city_leader", {"region": "99"}, "bad_region"),
    ("city_leader", {"region": "99ab"}, "bad_region"),
    ("city_leader", {"region": "9801"}, "unknown_region"),
    ("city_leader", {"region": "9901", "townships": ["990101001000"]}, "townships_not_case_worker"),
    ("analyst", {"region": "99"}, "region_not_leader"),
])
def test_a_leader_above_the_county_needs_a_region_of_their_level(eng, role: str, kwargs: dict, code: str) -> None:
    with pytest.raises(users.UserError) as e:
        users.add_user(eng, "x", role, "pass-word-1", principal=ROOT, **kwargs)
    assert e.value.code == code


def test_the_analytic_stores_counties_are_known_regions(eng, province: ProvinceEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANPIN_STORE_DIR", str(province.store.root))
    users.add_user(eng, "mayor2", "city_leader", "pass-word-1", region="9902", principal=ROOT)
    p = users.principal_for(eng, "mayor2")
    assert p.region == "990200000000" and p.townships == frozenset()  # none of the database's townships: its households stay out of sight


def test_the_command_line_creates_and_moves_a_leader_with_a_region(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import io

    from fanpin.cli.main import main

    monkeypatch.setenv("FANPIN_STORE_DIR", str(tmp_path / "no-store"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
    monkeypatch.setattr("sys.stdin", io.StringIO("pass-word-1\n"))
    assert main(["user", "add", "gov", "--role", "province_leader", "--region", "99", "--password-stdin", "--db", url]) == 0
    assert "region 990000000000" in capsys.readouterr().out
    assert main(["user", "role", "gov", "--role", "city_leader", "--region", "9901", "--db", url]) == 0
    assert "region 990100000000" in capsys.readouterr().out
    assert users.get_user(engine, "gov").region == "990100000000"
    assert main(["user", "role", "gov", "--role", "city_leader", "--db", url]) == 2
    assert "region" in capsys.readouterr().err
    engine.dispose()
