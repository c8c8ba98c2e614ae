"""The monthly brief of a province or city (``fanpin.report.region_brief``): a tiny demo province
(3 counties x 2,000 households x 13 months: 990101 and 990102 in city 9901, 990201 in city 9902)
built into a temporary analytic store.  The brief's figures are the overview's helpers' (and add
up by hand), the documents open and say them in both languages, and a city leader is refused
another city's brief."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import AccessDenied, Principal
from fanpin.core import fmt
from fanpin.core.i18n import translate
from fanpin.core.periods import shift
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.engine import regional
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.scoring import RiskPolicy
from fanpin.report import region_brief as RB
from fanpin.report.document import document_text
from fanpin.store.schema import audit_log
from fanpin.store.snapshot import SnapshotStore

SPEC = ProvinceSpec(counties=3, households_per_county=2000, months=13, townships=5, villages=20, counties_per_city=2, duplicates=0, seed=11)
PROVINCE, CITY1, CITY2 = "990000000000", "990100000000", "990200000000"
GOV = Principal("gov", "province_leader", frozenset(), region=PROVINCE)
MAYOR1 = Principal("mayor1", "city_leader", frozenset(), region=CITY1)
POLICY = RiskPolicy.default()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ProvinceEngine:
    s = SnapshotStore(tmp_path_factory.mktemp("region_brief") / "store")
    build_province(s, SPEC)
    return ProvinceEngine(s)


@pytest.fixture(scope="module")
def last(engine: ProvinceEngine) -> int:
    return engine.periods[-1]


@pytest.fixture(scope="module")
def made(engine: ProvinceEngine, last: int) -> dict[tuple[str, str], RB.RegionProduced]:
    """The province's brief (its cities) and city 9901's (its counties), in both languages."""
    return {(r, lang): RB.produce_region_brief(engine, GOV, r, last, POLICY, lang) for r in (PROVINCE, CITY1) for lang in ("zh", "en")}


# ---------------------------------------------------------------- the figures are the overview's
@pytest.mark.parametrize(("region", "by", "level"), [(PROVINCE, "city", "city"), (PROVINCE, "county", "county"), (CITY1, "city", "county")])
def test_the_figures_are_the_overview_helpers(engine: ProvinceEngine, last: int, region: str, by: str, level: str) -> None:
    b = RB.compute_region_brief(engine, GOV, region, last, POLICY, by=by)
    agg = regional.region_trends(engine, GOV, region, POLICY)
    assert b.child_level == level
    # children: side_by_side's rows and values, in red-share order
    want = regional.side_by_side(agg, region, last, level).drop(columns="trend").sort_values("region_code", ignore_index=True)
    got = b.children.drop(columns=["trend", "red_share_window"]).sort_values("region_code", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert b.children["red_share"].is_monotonic_decreasing
    # the headline: month_totals' row of the month and of the month before
    totals = regional.month_totals(agg, region).set_index("period")
    for key in RB.HEADLINE:
        assert b.now[key] == pytest.approx(totals.loc[last, key])
        assert b.before[key] == pytest.approx(totals.loc[shift(last, -1), key])
    # the trend: the last 12 months up to the brief's month
    assert b.trend["period"].tolist() == engine.periods[-12:]
    assert b.trend["red"].tolist() == totals.loc[engine.periods[-12:], "red"].astype(int).tolist()
    # the 3-month change in red share, by hand from the children's counts
    wide = agg.at(level, region).set_index(["region_code", "period"])
    for row in b.children.itertuples():
        now = wide.loc[(row.region_code, last)]
        then = wide.loc[(row.region_code, shift(last, -3))]
        assert row.red_share_window == pytest.approx(now["red"] / now["households"] - then["red"] / then["households"])
    assert b.income_line == engine.policy_for(POLICY, last).income_line
    assert b.data_version == engine.manifest.data_version == "demo-11-3x2000x13"


def test_a_hand_check_of_one_sum(engine: ProvinceEngine, last: int) -> None:
    """The province's red count is the sum of its counties' red counts from the engine itself."""
    b = RB.compute_region_brief(engine, GOV, PROVINCE, last, POLICY)
    by_county = engine.trends(POLICY).at("county")
    month = by_county[by_county["period"] == last]
    assert len(month) == 3
    assert b.now["red"] == int(month["red"].sum()) == int(b.children["red"].sum())
    assert b.now["households"] == 6000 == int(b.children["households"].sum())
    assert b.change("red") == int(month["red"].sum()) - int(by_county.loc[by_county["period"] == shift(last, -1), "red"].sum())


def test_attention_points_follow_their_rules(made: dict, last: int) -> None:
    b = made[(CITY1, "zh")].brief
    codes = [p.code for p in b.points]
    assert len(codes) <= RB.MAX_POINTS and [p.priority for p in b.points] == sorted(p.priority for p in b.points)
    rising = b.children[b.children["red_share_window"] >= RB.SHARE_RISE_MIN].sort_values("red_share_window", ascending=False)
    share = next((p for p in b.points if p.code == "share_rising"), None)
    if len(rising):
        assert [c for c, _ in share.params["items"]] == rising["region_code"].head(RB.TOP_N).tolist()
    else:
        assert share is None
    red_up = b.change("red") / b.before["red"]
    assert ("red_up" in codes) == (red_up >= RB.RED_UP_MIN)
    assert ("rising" in codes) == (b.now["rising"] / b.now["households"] >= RB.RISING_SHARE_MIN)


def test_a_rule_on_made_up_figures(made: dict) -> None:
    b = made[(CITY1, "zh")].brief
    kids = b.children.copy()
    kids["red_share_window"] = [0.001, 0.03]
    kids["red_share"] = [0.9, 0.01]
    fake = RB.RegionBrief(**{**b.__dict__, "children": kids, "points": []})
    pts = {p.code: p for p in RB.suggest_points(fake)}
    assert pts["share_rising"].params["items"] == [(kids["region_code"].iloc[1], 0.03)]  # 0.1 points is under the threshold
    assert [c for c, _ in pts["high_share"].params["items"]] == [kids["region_code"].iloc[0]]
    second = kids["region_code"].iloc[1][:6]
    assert f"县 {second} +3.0个百分点" in RB.point_text(pts["share_rising"], fake, "zh")
    assert f"County {second} +3.0 pts" in RB.point_text(pts["share_rising"], fake, "en")


# ---------------------------------------------------------------- the documents
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_docx_says_the_region_and_the_headline(made: dict, lang: str) -> None:
    for region, place in ((PROVINCE, {"zh": "省 99", "en": "Province 99"}), (CITY1, {"zh": "市 9901", "en": "City 9901"})):
        m = made[(region, lang)]
        b = m.brief
        text = document_text(m.docx)
        title = text.splitlines()[0]
        assert place[lang] in title
        assert ("月度防返贫监测研判报告" if lang == "zh" else "monthly monitoring brief") in title
        assert RB.headline_text(b, lang) in text
        for figure in (fmt.count(b.now["households"], lang), fmt.count(b.now["red"], lang), fmt.signed(b.change("red")), fmt.pct(b.now["red_share"])):
            assert figure in text
        for code in b.children["region_code"]:
            assert b.name(code, lang) in text
        for p in b.points:
            assert RB.point_text(p, b, lang) in text
        from docx import Document

        doc = Document(io.BytesIO(m.docx))
        assert doc.core_properties.title == title
        assert len(doc.inline_shapes) == 1  # the trend chart
        assert len(doc.tables) == 3  # headline, children, trend
    zh = document_text(made[(PROVINCE, "zh")].docx)
    en = document_text(made[(PROVINCE, "en")].docx)
    assert "一、总体情况" in zh and "1. The month at a glance" in en and "总体情况" not in en


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_holds_the_tables(made: dict, lang: str) -> None:
    m = made[(PROVINCE, lang)]
    wb = load_workbook(io.BytesIO(m.xlsx))
    assert wb.sheetnames == [translate(f"region_brief.sheet.{k}", lang) for k in ("headline", "children", "trend", "points")]
    kids = pd.read_excel(io.BytesIO(m.xlsx), sheet_name=1)
    assert kids[translate("region_brief.col.code", lang)].astype(str).tolist() == m.brief.children["region_code"].tolist()
    assert int(kids[translate("region_brief.col.households", lang)].sum()) == 6000
    trend = pd.read_excel(io.BytesIO(m.xlsx), sheet_name=2)
    assert len(trend) == 12


def test_names_from_data_are_escaped(engine: ProvinceEngine, last: int) -> None:
    """Names are the only text from data: invisible characters out of the .docx, formulas out of the .xlsx."""
    names = {"zh": {CITY1: "=HYPERLINK(\"x\")", CITY2: "南\u202e市\x07"}}
    m = RB.produce_region_brief(engine, GOV, PROVINCE, last, POLICY, "zh", names=names)
    text = document_text(m.docx)
    assert "南市" in text and "\u202e" not in text and "\x07" not in text
    kids = load_workbook(io.BytesIO(m.xlsx)).worksheets[1]
    cells = [c.value for row in kids.iter_rows() for c in row]
    assert "'=HYPERLINK(\"x\")" in cells and "=HYPERLINK(\"x\")" not in cells


# ---------------------------------------------------------------- access and errors
def test_a_city_leader_is_refused_another_city(engine: ProvinceEngine, last: int) -> None:
    assert RB.compute_region_brief(engine, MAYOR1, CITY1, last, POLICY).now["households"] == 4000
    for region in (CITY2, PROVINCE):
        with pytest.raises(AccessDenied):
            RB.compute_region_brief(engine, MAYOR1, region, last, POLICY)
        with pytest.raises(AccessDenied):  # also with sums someone else computed
            RB.produce_region_brief(engine, MAYOR1, region, last, POLICY, "zh", agg=regional.region_trends(engine, GOV, region, POLICY))
    with pytest.raises(AccessDenied):  # a county's leader reads their county from its database, not the store
        RB.compute_region_brief(engine, Principal("boss", "leader"), CITY1, last, POLICY)


def test_a_month_not_in_the_store_and_an_empty_region(engine: ProvinceEngine, last: int) -> None:
    with pytest.raises(RB.RegionBriefError) as e:
        RB.compute_region_brief(engine, GOV, PROVINCE, 201901, POLICY)
    assert e.value.code == "no_month"
    assert "2019年1月" in e.value.text(translate, "zh") and "2019-01" in e.value.text(translate, "en") and "2023-01" in str(e.value)
    root = Principal("root", "admin")
    with pytest.raises(RB.RegionBriefError) as e:
        RB.compute_region_brief(engine, root, "990300000000", last, POLICY)
    assert e.value.code == "unknown_region"
    with pytest.raises(RB.RegionBriefError):
        RB.compute_region_brief(engine, root, "990101000000", last, POLICY)  # a county's brief is the county's own
    assert RB.region_of("99") == PROVINCE and RB.region_of("9901") == CITY1 and RB.region_of(CITY2) == CITY2
    for bad in ("990101", "x", "990101001000", ""):
        with pytest.raises(RB.RegionBriefError):
            RB.region_of(bad)


def test_the_first_month_has_nothing_to_compare(engine: ProvinceEngine) -> None:
    b = RB.compute_region_brief(engine, GOV, CITY1, engine.periods[0], POLICY)
    assert b.before is None and b.prev_period is None and b.change("red") is None
    assert np.isnan(b.children["red_share_window"]).all()
    text = document_text(RB.render_docx(b, "en"))
    assert translate("region_brief.p.first_month", "en") in text


def test_producing_with_a_database_writes_one_audit_row(engine: ProvinceEngine, last: int, tmp_path) -> None:
    db = store.make_engine(f"sqlite:///{tmp_path / 'audit.db'}", create=True)
    store.upgrade(db)
    RB.produce_region_brief(engine, MAYOR1, CITY1, last, POLICY, "en", audit_db=db)
    with db.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.target)).all()
    assert [tuple(r) for r in rows if r.action == "brief"] == [("mayor1", "brief", f"{CITY1}:{last}")]
