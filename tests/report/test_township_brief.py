"""A township's monthly brief (issue 19 item 4): every figure is that township's, as the domain
functions give it restricted to the township (tiers, newly red, clues, orders, monitoring, cases,
its villages ranked), and no other township's name or village appears in the document."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy, stored_lines
from fanpin.engine.summary import household_list, month_summary
from fanpin.engine.trends import score_panel
from fanpin.quality import rules
from fanpin.report import brief as B
from fanpin.report.document import document_text, produce
from fanpin.store import schema as S
from fanpin.workflow import procedure
from fanpin.workflow.case_figures import STEP_WAIT_DAYS
from fanpin.workflow.common import as_of_date
from fanpin.workflow.monitoring import monitoring_history
from fanpin.workflow.orders import closed_loop, create_order, list_orders
from tests.conftest import copy_sqlite
from tests.workflow.chain import decide, walk

TODAY = date(2026, 1, 15)
LEADER = Principal("ld_town", "leader")
CW, TL, COUNTY = Principal("cw_t", "admin"), Principal("tl_t", "admin"), Principal("county_t", "admin")


@pytest.fixture(scope="module")
def county(small_demo, tmp_path_factory):
    """A copy of the small demo with orders (some overdue) and cases at several steps in two townships."""
    engine, spec = small_demo
    eng = store.make_engine(copy_sqlite(engine, tmp_path_factory.mktemp("township") / "t.db"))
    period = spec.periods[-1]
    y, m = divmod(period, 100)
    h = S.households.c
    with eng.connect() as conn:
        towns = [r[0] for r in conn.execute(select(h.township_code).distinct().order_by(h.township_code).limit(2))]
        hids = {t: [r[0] for r in conn.execute(select(h.household_id).where(h.township_code == t).order_by(h.household_id).limit(8))] for t in towns}
    for k, t in enumerate(towns):
        start = datetime(y, m, 1, 9)
        for i, hid in enumerate(hids[t][: 6 - 2 * k]):
            oid = create_order(eng, assignee_kind="township", assignee=t, household_id=hid, principal=SYSTEM, now=start + timedelta(days=i))
            if i == 0:  # approved through the chain: into monitoring this month
                case = decide(eng, oid, CW, at=start + timedelta(days=1), included=True, period=period, category="marginal", risk_types=["illness"])
                walk(eng, case, local=CW, checker=TL, county=COUNTY, start=start + timedelta(days=2))
            elif i == 1:  # waits for the village review since the 3rd: overdue by the month's end
                decide(eng, oid, CW, at=start + timedelta(days=2), included=True, period=period, category="marginal", risk_types=["illness"])
            elif i == 2 and k == 0:  # on notice
                case = decide(eng, oid, CW, at=start + timedelta(days=20), included=True, period=period, category="marginal", risk_types=["illness"])
                walk(eng, case, local=CW, checker=TL, county=COUNTY, start=start + timedelta(days=21), until="notice")
    yield eng, spec, towns[0], towns[1]
    eng.dispose()


@pytest.fixture(scope="module")
def made(county):
    eng, spec, town, _other = county
    return produce(eng, spec.periods[-1], "zh", principal=LEADER, today=TODAY, township=town, model=None, use_saved_model=False)


def _panel(engine, period: int):
    return score_panel(store.load_snapshots(engine, store.periods(engine)), baseline_policy(engine, period), stored_lines(engine))


def test_the_figures_are_the_townships(county, made) -> None:
    eng, spec, town, other = county
    period = spec.periods[-1]
    b = made.brief
    assert b.township == town and b.scope == frozenset({town}) and b.level == "village"
    ps = _panel(eng, period)
    s = month_summary(ps, period, town)
    assert b.summary == s and s.households < month_summary(ps, period).households
    assert b.prev_summary == month_summary(ps, spec.periods[-2], town)
    # newly red: the township's, highest score first
    mine = household_list(ps, period, ps.newly_red(period) & (ps.township == town))
    assert b.newly_red["household_id"].tolist() == mine["household_id"].head(20).tolist() and set(b.newly_red["township_code"]) <= {town}
    # clues, orders, monitoring movements, findings: the domain functions restricted to the township
    assert int(b.clues["clues"].sum()) == int(B.clue_counts(eng, period, frozenset({town}))["clues"].sum())
    as_of = as_of_date(period, TODAY)
    orders = list_orders(eng, principal=SYSTEM, today=as_of)
    orders = orders[orders["township_code"] == town]
    assert (b.loop.orders, b.loop.overdue, b.loop.decided) == (len(orders), int(orders["overdue"].sum()), int(orders["days_to_decision"].notna().sum())) == (6, 4, 3)
    assert b.loop.by_township["township_code"].tolist() == [town]
    county_loop = closed_loop(eng, as_of, principal=SYSTEM).by_township.set_index("township_code")
    assert county_loop.loc[town, "orders"] == b.loop.orders and county_loop.loc[other, "orders"] == 4
    hist = monitoring_history(eng, principal=SYSTEM)
    hist = hist[(hist["household_id"].map(dict(zip(ps.household_ids, ps.township))) == town) & (hist["period"].astype(int) == period)]
    assert b.monitoring.entered == hist[(hist["status"] == "monitored") & hist["proposal_id"].isna()]["household_id"].nunique() >= 1
    f = rules.find(eng, period, principal=SYSTEM)
    assert b.findings_total == int((f["township_code"] == town).sum())
    # the cases of the official procedure: the township's, by state, and the overdue ones
    cases = procedure.cases(eng, principal=SYSTEM)
    cases = cases[(cases["township_code"] == town) & (pd.to_datetime(cases["opened_at"]).dt.date <= as_of)]
    assert {k: int(v) for k, v in cases.groupby("state").size().items()} == {s: int(n) for s, n in b.cases.by_state.sum(axis=1).items() if n}
    assert b.cases.state("village_review") == 1 and b.cases.state("township_check") == 1 and b.cases.state("approved") >= 1
    waited = cases[cases["state"].isin(procedure.OPEN_STATES)]
    assert b.cases.overdue_cases["case_id"].tolist() == [int(c) for c, s, u in zip(waited["case_id"], waited["state"], waited["updated_at"])
                                                         if s == "village_review" and (as_of - pd.Timestamp(u).date()).days > STEP_WAIT_DAYS]
    assert b.cases.overdue == 1


def test_its_villages_are_ranked_as_the_county_ranks_townships(county, made) -> None:
    eng, spec, town, _other = county
    period = spec.periods[-1]
    ps = _panel(eng, period)
    j = ps.col(period)
    with eng.connect() as conn:
        village = dict(conn.execute(select(S.households.c.household_id, S.households.c.village_code).where(S.households.c.township_code == town)).fetchall())
    rows = np.flatnonzero(ps.township == town)
    f = pd.DataFrame({"village": [village[h] for h in ps.household_ids[rows]], "tier": ps.tier[rows, j]})
    f = f[f["tier"] >= 0]
    g = f.groupby("village")
    expected = pd.DataFrame({"households": g.size(), "red": g["tier"].apply(lambda x: int((x == 2).sum()))})
    expected["share"] = expected["red"] / expected["households"]
    expected = expected.reset_index().sort_values(["share", "village"], ascending=[False, True])
    got = made.brief.townships
    assert got["township_code"].tolist() == expected["village"].tolist() and len(got) >= 2
    assert got["red"].tolist() == expected["red"].tolist() and got["households"].tolist() == expected["households"].tolist()
    sheet = list(load_workbook(io.BytesIO(made.xlsx))["行政村排名"].iter_rows(values_only=True))
    assert sheet[0][1] == "行政村" and [r[2] for r in sheet[1:]] == expected["village"].tolist()


def test_no_other_township_or_its_villages_in_the_document(county, made) -> None:
    eng, spec, town, _other = county
    text = document_text(made.docx)
    with eng.connect() as conn:
        r = pd.DataFrame(conn.execute(select(S.regions.c.region_code, S.regions.c.level, S.regions.c.name, S.regions.c.parent_code)).fetchall(),
                         columns=["code", "level", "name", "parent"])
    name = dict(zip(r["code"], r["name"]))
    assert f"{name[town]}" in text.splitlines()[0] and "防返贫监测研判报告" in text.splitlines()[0]
    others = r[((r["level"] == "township") & (r["code"] != town)) | ((r["level"] == "village") & (r["parent"] != town))]
    assert len(others) > 10
    leaked = [n for n in others["name"] if n in text]
    assert not leaked, leaked
    own = r[(r["level"] == "village") & (r["parent"] == town)]["name"]
    assert any(n in text for n in own)  # its villages are named
    s = made.brief.summary
    assert f"红色 {fmt.count(s.counts['red'])} 户" in text and "行政村研判" in text and "纳入监测与风险消除程序进展" in text
    assert f"本报告为{name[town]}的乡镇报告" in text


def test_who_may_make_it(county) -> None:
    eng, spec, town, other = county
    period = spec.periods[-1]
    led = B.compute_brief(eng, period, principal=Principal("tl", "township_leader", frozenset({town})), today=TODAY, model=None)
    assert led.township == town  # a township leader's own by default
    full = B.compute_brief(eng, period, principal=LEADER, today=TODAY, model=None, township=town)
    assert led.summary == full.summary and led.loop.orders == full.loop.orders and led.cases.by_state.equals(full.cases.by_state)
    with pytest.raises(AccessDenied):
        B.compute_brief(eng, period, principal=Principal("cw", "case_worker", frozenset({other})), today=TODAY, model=None, township=town)
    county_brief = B.compute_brief(eng, period, principal=LEADER, today=TODAY, model=None)
    assert county_brief.township is None and county_brief.level == "township"
    assert county_brief.cases.total > full.cases.total  # the county's cases include the other township's


def test_the_command_makes_a_townships_brief(county, tmp_path, capsys) -> None:
    from fanpin.cli.main import main

    eng, spec, town, _other = county
    url = str(eng.url)
    out = tmp_path / "t.docx"
    assert main(["brief", "--db", url, "--period", str(spec.periods[-1]), "--out", str(out), "--township", town]) == 0
    text = document_text(out.read_bytes())
    with eng.connect() as conn:
        name = conn.execute(select(S.regions.c.name).where(S.regions.c.region_code == town)).scalar()
    assert name in text.splitlines()[0] and "行政村研判" in text
    assert main(["brief", "--db", url, "--period", str(spec.periods[-1]), "--out", str(out), "--township", "990101999000"]) == 2
    assert "no township '990101999000'" in capsys.readouterr().err
