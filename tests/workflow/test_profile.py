"""The household profile's store layer and figures: search, detail, masks, audit, reasons, 幸福清单.

A tiny hand-made county on both backends (SQLite file and the PostgreSQL
server), plus the small demo county for the scorer cross-checks.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from fanpin import store
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.core import fmt
from fanpin.core.i18n import translate
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import TIERS, Scorer
from fanpin.engine.trends import score_panel
from fanpin.store import schema as S
from fanpin.workflow import profile as P
from fanpin.workflow import standing as SD
from fanpin.workflow import timeline as TL

COUNTY, TOWN_A, TOWN_B = "990101000000", "990101001000", "990101002000"
VIL_A1, VIL_A2, VIL_B1 = "990101001001", "990101001002", "990101002001"
H1, H2, H3, H4 = "99010100100100001", "99010100100100002", "99010100100200001", "99010100200100001"
ID_HEAD, ID_SPOUSE = "990101197710280012", "99010119800315002X"


def _household(hid: str, village: str, town: str, **kw: object) -> dict:
    row = {"household_id": hid, "village_code": village, "township_code": town, "household_type": "ordinary", "size": 2, "phone": None}
    row.update(kw)
    return row


def _insert(conn, table, rows: list[dict]) -> None:
    """Row by row: the rows leave out different optional columns."""
    for row in rows:
        conn.execute(table.insert().values(**row))


@pytest.fixture()
def tiny(db_url: str):
    """Two townships, three villages, four households; one of them with a full history."""
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        _insert(
            conn,
            S.regions,
            [
                {"region_code": COUNTY, "level": "county", "parent_code": None, "name": "清溪县"},
                {"region_code": TOWN_A, "level": "township", "parent_code": COUNTY, "name": "凤岩乡"},
                {"region_code": TOWN_B, "level": "township", "parent_code": COUNTY, "name": "长坝镇"},
                {"region_code": VIL_A1, "level": "village", "parent_code": TOWN_A, "name": "兴水村"},
                {"region_code": VIL_A2, "level": "village", "parent_code": TOWN_A, "name": "石门村"},
                {"region_code": VIL_B1, "level": "village", "parent_code": TOWN_B, "name": "河口村"},
            ],
        )
        _insert(
            conn,
            S.households,
            [
                _household(H1, VIL_A1, TOWN_A, household_type="former_poor", phone="13912345678"),
                _household(H2, VIL_A1, TOWN_A),
                _household(H3, VIL_A2, TOWN_A),
                _household(H4, VIL_B1, TOWN_B),
            ],
        )
        _insert(
            conn,
            S.members,
            [
                {"household_id": H1, "name": "张三丰", "id_number": ID_HEAD, "sex": "M", "birth_date": date(1977, 10, 28), "relation": "head", "labour_capacity": "normal"},
                {"household_id": H1, "name": "李梅", "id_number": ID_SPOUSE, "sex": "F", "birth_date": date(1980, 3, 15), "relation": "spouse", "labour_capacity": "weak"},
                {"household_id": H2, "name": "王五", "id_number": "990101196001010011", "sex": "M", "birth_date": date(1960, 1, 1), "relation": "head", "labour_capacity": "lost"},
            ],
        )
        _insert(
            conn,
            S.events,
            [
                {"period": 202401, "event_type": "illness", "household_id": H1, "region_code": TOWN_A, "amount": 29640.0, "description": "重大疾病住院 / serious illness"},
                {"period": 202402, "event_type": "flood", "household_id": None, "region_code": TOWN_A, "severity": 0.6, "description": "洪涝灾害"},
                {"period": 202402, "event_type": "drought", "household_id": None, "region_code": TOWN_B, "severity": 0.4, "description": "干旱"},
                {"period": 202403, "event_type": "illness", "household_id": H2, "region_code": TOWN_A, "amount": 5000.0},
            ],
        )
        received = datetime(2024, 1, 14, 9)
        _insert(
            conn,
            S.clues,
            [
                {"household_id": H1, "period": 202401, "channel": "department", "source": "medical_insurance", "risk_type": "illness", "amount": 12390.0, "received_at": received, "status": "ordered"},
                {"household_id": H1, "period": 202402, "channel": "cadre_visit", "source": "cadre", "risk_type": "other", "received_at": datetime(2024, 2, 3, 10), "status": "ordered"},
                {"household_id": H2, "period": 202402, "channel": "self_report", "source": "household", "risk_type": "illness", "received_at": datetime(2024, 2, 5, 10), "status": "new"},
            ],
        )
        clue_ids = [r[0] for r in conn.execute(select(S.clues.c.clue_id).where(S.clues.c.household_id == H1).order_by(S.clues.c.clue_id))]
        _insert(
            conn,
            S.orders,
            [{"household_id": H1, "assignee_kind": "township", "assignee": TOWN_A, "created_at": datetime(2024, 2, 10, 9), "due_date": date(2024, 2, 25), "state": "decided", "decision": "included", "category": "sudden_hardship", "risk_types": "illness"}],
        )
        order_id = conn.execute(select(S.orders.c.order_id)).scalar_one()
        _insert(conn, S.order_clues, [{"order_id": order_id, "clue_id": c} for c in clue_ids])
        _insert(
            conn,
            S.monitoring,
            [
                {"household_id": H1, "period": 202402, "status": "monitored", "category": "sudden_hardship", "risk_types": "illness", "recorded_at": datetime(2024, 2, 20), "order_id": order_id},
                {"household_id": H1, "period": 202409, "status": "eliminated", "category": "sudden_hardship", "method": "by_assistance", "recorded_at": datetime(2024, 9, 30)},
            ],
        )
        _insert(
            conn,
            S.assistance,
            [
                {"household_id": H1, "period": 202402, "measure": "health", "amount": 4920.0, "cadre": "县医保局"},
                {"household_id": H1, "period": 202405, "measure": "health", "amount": 1000.0},
                {"household_id": H1, "period": 202403, "measure": "industry", "amount": 2500.0},
                {"household_id": H1, "period": 202404, "measure": "employment", "amount": None, "description": "推荐务工 / job referral"},
                {"household_id": H2, "period": 202403, "measure": "health", "amount": 800.0},
            ],
        )
    yield engine, clue_ids, order_id
    engine.dispose()


# --------------------------------------------------------------------------- search
def test_find_by_prefix_exact_and_area(tiny) -> None:
    engine, _, _ = tiny
    assert P.find_households(engine, "9901010010010", principal=SYSTEM)["household_id"].tolist() == [H1, H2]
    assert P.find_households(engine, f"  {H1} ", principal=SYSTEM)["household_id"].tolist() == [H1]
    assert P.find_households(engine, "99010100100", township=TOWN_A, principal=SYSTEM)["household_id"].tolist() == [H1, H2, H3]
    assert P.find_households(engine, "", township=TOWN_A, principal=SYSTEM)["household_id"].tolist() == [H1, H2, H3]
    assert P.find_households(engine, "", village=VIL_A2, principal=SYSTEM)["household_id"].tolist() == [H3]
    assert P.find_households(engine, "", township=TOWN_A, village=VIL_B1, principal=SYSTEM).empty  # village outside the township
    assert P.find_households(engine, "", township=TOWN_A, limit=2, principal=SYSTEM)["household_id"].tolist() == [H1, H2]
    found = P.find_households(engine, H4, principal=SYSTEM)
    assert found.iloc[0].to_dict() == {"household_id": H4, "village_code": VIL_B1, "township_code": TOWN_B, "household_type": "ordinary", "size": 2}


def test_search_areas_and_search_keep_a_case_workers_townships(tiny) -> None:
    engine, _, _ = tiny
    from fanpin.store.regions import load_regions

    cw = Principal("cw_b", "case_worker", frozenset({TOWN_B}))
    areas = P.search_areas(load_regions(engine), principal=cw)
    assert areas.townships == [TOWN_B] and areas.villages_in(None) == [VIL_B1] and areas.villages_in(TOWN_A) == []
    assert areas.parent_of == {VIL_B1: TOWN_B}
    everyone = P.search_areas(load_regions(engine), principal=SYSTEM)
    assert everyone.townships == [TOWN_A, TOWN_B] and everyone.villages_in(TOWN_A) == [VIL_A1, VIL_A2]
    assert P.find_households(engine, "990101", principal=cw)["household_id"].tolist() == [H4]
    assert P.find_households(engine, "", township=TOWN_A, principal=cw).empty
    with pytest.raises(AccessDenied):
        P.find_households(engine, "990101", principal=None)
    with pytest.raises(AccessDenied):
        P.household_detail(engine, H1, principal=cw)


def test_no_criteria_lists_nothing(tiny) -> None:
    engine, _, _ = tiny
    assert P.find_households(engine, "", principal=SYSTEM).empty
    assert P.find_households(engine, None, principal=SYSTEM).empty
    assert list(P.find_households(engine, "   ", principal=SYSTEM).columns) == list(P.SEARCH_COLUMNS)


@pytest.mark.parametrize(
    "text",
    ["' OR 1=1 --", "<script>alert(1)</script>", "%", "_", "9901%", "99010100100100001' OR '1'='1", "1; DROP TABLE households; --", "\\", "x" * 300],
)
def test_search_text_is_data(tiny, text: str) -> None:
    engine, _, _ = tiny
    assert P.find_households(engine, text, principal=SYSTEM).empty
    assert P.find_households(engine, text, township=TOWN_A, principal=SYSTEM).empty
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.households)).scalar_one() == 4


# --------------------------------------------------------------------------- detail
def test_detail_gathers_everything_about_one_household(tiny) -> None:
    engine, clue_ids, order_id = tiny
    d = P.household_detail(engine, H1, principal=SYSTEM)
    assert d is not None and d.household_id == H1
    assert d.household["household_type"] == "former_poor" and d.household["phone"] == "13912345678"
    assert d.members["name"].tolist() == ["张三丰", "李梅"]
    # own event + the flood of its township; not the other township's drought, not H2's illness
    assert list(zip(d.events["event_type"], d.events["scope"])) == [("illness", "household"), ("flood", "area")]
    assert d.clues["clue_id"].tolist() == clue_ids
    assert d.orders["order_id"].tolist() == [order_id]
    assert d.orders["clue_ids"].tolist() == [", ".join(str(c) for c in clue_ids)]
    assert d.monitoring["status"].tolist() == ["monitored", "eliminated"]
    status = d.monitoring_status()
    assert status["status"] == "eliminated" and status["method"] == "by_assistance"
    assert d.assistance["period"].tolist() == [202402, 202403, 202404, 202405]


def test_detail_of_a_quiet_and_an_unknown_household(tiny) -> None:
    engine, _, _ = tiny
    d = P.household_detail(engine, H4, principal=SYSTEM)
    assert d.members.empty and d.clues.empty and d.orders.empty and d.assistance.empty
    assert d.events["event_type"].tolist() == ["drought"]  # its township's area event
    assert d.monitoring_status() is None
    assert TL.timeline(d)["kind"].tolist() == ["area_event"]
    assert P.household_detail(engine, "' OR 1=1 --", principal=SYSTEM) is None
    assert P.household_detail(engine, "nope", principal=SYSTEM) is None


def test_timeline_is_ordered_by_month(tiny) -> None:
    engine, _, _ = tiny
    tl = TL.timeline(P.household_detail(engine, H1, principal=SYSTEM))
    assert tl["period"].is_monotonic_increasing
    assert tl[tl["period"] == 202402]["kind"].tolist() == ["area_event", "clue", "order", "monitoring", "assistance"]
    assert tl["kind"].value_counts().to_dict() == {"assistance": 4, "clue": 2, "event": 1, "area_event": 1, "order": 1, "monitoring": 2}
    assert tl.iloc[0].to_dict()["amount"] == 29640.0


# --------------------------------------------------------------------------- personal data
def test_members_are_masked_unless_asked(tiny) -> None:
    engine, _, _ = tiny
    d = P.household_detail(engine, H1, principal=SYSTEM)
    masked = P.members_masked(d.members, unmask=False, as_of=202410)
    assert masked["name"].tolist() == ["张*", "李*"]
    assert masked["id_number"].tolist() == ["990101********0012", "990101********002X"]
    assert "birth_date" not in masked.columns  # the birth date is what the ID mask hides
    assert masked["age"].tolist() == [47, 44]  # at the end of Oct 2024: born 1977-10 -> 47, 1980-03 -> 44
    text = masked.to_csv()
    assert ID_HEAD not in text and ID_SPOUSE not in text and "张三丰" not in text
    full = P.members_masked(d.members, unmask=True, as_of=202409)
    assert full["id_number"].tolist() == [ID_HEAD, ID_SPOUSE] and full["name"].tolist() == ["张三丰", "李梅"]
    assert full["age"].tolist() == [46, 44]  # Sept 2024: the October birthday not yet reached
    assert "birth_date" in full.columns
    assert P.members_masked(d.members, as_of=202309)["age"].tolist() == [45, 43]
    assert d.members["id_number"].tolist() == [ID_HEAD, ID_SPOUSE]  # the input is not changed
    assert P.phone_shown(d.household) == "139****5678"
    assert P.phone_shown(d.household, unmask=True) == "13912345678"
    assert P.phone_shown(P.household_detail(engine, H2, principal=SYSTEM).household) == ""


def test_who_may_unmask() -> None:
    assert {r for r in ("leader", "analyst", "case_worker", "trainer", "data_steward", "admin") if P.can_unmask(r)} == {"admin", "case_worker", "analyst"}


def test_every_view_and_unmask_is_audited(tiny) -> None:
    engine, _, _ = tiny
    cw, analyst = Principal("case_worker", "case_worker"), Principal("analyst", "analyst")
    P.log_view(engine, H1, principal=cw, detail={"period": 202412, "page": "profile"})
    P.log_view(engine, H1, principal=cw, detail={"period": 202412, "page": "profile"})
    P.log_view(engine, H2, principal=analyst)
    P.log_view(engine, H1, principal=cw, action="unmask", detail={"period": 202412})
    with pytest.raises(AccessDenied):  # the trail is the administrator's to read
        P.audit_entries(engine, principal=cw)
    views = P.audit_entries(engine, principal=SYSTEM, target=H1, action="household_view")
    assert len(views) == 2 and set(views["actor"]) == {"case_worker"}
    assert json.loads(views["detail"].iloc[0]) == {"page": "profile", "period": 202412}
    unmasks = P.audit_entries(engine, principal=SYSTEM, target=H1, action="unmask")
    assert unmasks[["actor", "target"]].values.tolist() == [["case_worker", H1]]
    assert len(P.audit_entries(engine, principal=SYSTEM)) == 4
    assert P.audit_entries(engine, principal=SYSTEM, target=H2)["actor"].tolist() == ["analyst"]
    newest = P.audit_entries(engine, principal=SYSTEM, limit=1)
    assert newest["action"].tolist() == ["unmask"]
    assert isinstance(newest["at"].iloc[0], (datetime, pd.Timestamp))


# --------------------------------------------------------------------------- 幸福清单
def test_assistance_summary_by_hand(tiny) -> None:
    engine, _, _ = tiny
    s = TL.assistance_summary(P.household_detail(engine, H1, principal=SYSTEM).assistance)
    assert s.to_dict("records") == [
        {"measure": "health", "count": 2, "amount": 5920.0, "first_period": 202402, "last_period": 202405},
        {"measure": "industry", "count": 1, "amount": 2500.0, "first_period": 202403, "last_period": 202403},
        {"measure": "employment", "count": 1, "amount": 0.0, "first_period": 202404, "last_period": 202404},
    ]
    assert TL.assistance_summary(P.household_detail(engine, H4, principal=SYSTEM).assistance).empty


# --------------------------------------------------------------------------- reasons and history (small demo)
@pytest.fixture(scope="module")
def month(small_demo):
    engine, spec = small_demo
    period = spec.periods[-1]
    frame = store.load_snapshot(engine, period)
    scorer = Scorer.from_frame(frame)
    policy = baseline_policy(engine, period)
    return engine, spec, period, frame, scorer, policy, scorer.run(policy).copy()


def test_indicator_table_adds_up_to_the_score(month) -> None:
    _, _, _, frame, scorer, policy, res = month
    rows = np.arange(0, scorer.n, 97)
    for row in rows:
        table = SD.indicator_table(scorer, res, int(row), policy)
        assert table["contribution"].sum() == pytest.approx(float(res.score[row]), abs=1e-3)
        assert table["hit"].tolist() == scorer.warnings_hit(res.policy, np.array([row]))[0].tolist()
        assert table["missing"].tolist() == scorer.missing_mask(np.array([row]))[0].tolist()
        assert table["weight"].sum() == pytest.approx(1.0)
    # the income indicator is in yuan per person, its warning line 1.5 x the line
    table = SD.indicator_table(scorer, res, 0)
    inc = table.set_index("key").loc["income_ratio"]
    assert inc["value"] == pytest.approx(frame["income_pc"].iloc[0], rel=1e-6)
    assert inc["warning_line"] == pytest.approx(1.5 * policy.income_line)


def test_standing_matches_the_scorer(month) -> None:
    _, _, _, frame, scorer, policy, res = month
    ids = frame["household_id"].to_numpy()
    line = policy.income_line
    forced_rows = np.flatnonzero((res.score < policy.cutoffs[0]) & (res.tier > 0))
    assert len(forced_rows), "the demo has households lifted by the income rule"
    for row in [0, 1, int(np.argmax(res.score)), *forced_rows[:3].tolist()]:
        sd = SD.standing(scorer, res, ids[row])
        assert sd.score == pytest.approx(float(res.score[row]))
        assert sd.tier == TIERS[res.tier[row]]
        if row in forced_rows:
            assert sd.forced and sd.score_tier == "green"
            top = [r for r in sd.rules_hit if r.tier == sd.tier]
            assert top, "a lifted tier names the rule that lifted it"
            values = sd.indicators.set_index("key")["value"]
            for rule in top:
                v = values[rule.indicator]
                assert v < rule.threshold * line if rule.indicator == "income_ratio" else v >= rule.threshold
        reasons = sd.reasons()
        assert reasons["contribution"].is_monotonic_decreasing
        assert set(reasons["key"]) >= set(sd.indicators.loc[sd.indicators["hit"], "key"])
        assert reasons["contribution"].sum() == pytest.approx(sd.score, abs=1e-3)  # nothing with points left out
        short = sd.reasons(top=2)
        flagged = sd.indicators["hit"] | sd.indicators["missing"]
        assert len(short) == max(2, int(flagged.sum()))
        assert set(short["key"]) >= set(sd.indicators.loc[flagged, "key"])
    assert SD.standing(scorer, res, "no-such-household") is None


def test_forced_reason_says_which_rule_raised_the_tier(month) -> None:
    _, _, _, frame, scorer, policy, res = month
    ids = frame["household_id"].to_numpy()
    forced_rows = np.flatnonzero((res.score < policy.cutoffs[0]) & (res.tier > 0))
    sd = SD.standing(scorer, res, ids[forced_rows[0]])
    assert sd.forced
    text_zh, text_en = SD.forced_reason(sd, policy.income_line, "zh"), SD.forced_reason(sd, policy.income_line, "en")
    causes = SD.forced_causes(sd, policy.income_line, "en")
    assert causes and all(c in text_en for c in causes)
    assert translate("tier." + sd.tier, "zh") in text_zh and translate("tier." + sd.tier, "en") in text_en
    if any(r.indicator == "income_ratio" for r in sd.rules_hit if r.tier == sd.tier):
        rule = next(r for r in sd.rules_hit if r.indicator == "income_ratio" and r.tier == sd.tier)
        assert fmt.yuan(rule.threshold * policy.income_line, "en") in text_en  # "income below ... (8,100 yuan)"
    calm = SD.standing(scorer, res, ids[int(np.argmin(res.score))])
    assert not calm.forced and SD.forced_reason(calm, policy.income_line, "zh") is None
    assert SD.line_text("serious_ill", 2.0, "zh") == "≥ 2 人" and SD.line_text("medical_oop", float("nan")) == "—"


def test_score_history_is_the_panel_row(month) -> None:
    engine, spec, period, *_ = month
    frames = store.load_snapshots(engine, spec.periods)
    ps = score_panel(frames, baseline_policy(engine, period), spec.lines())
    hid = ps.household_ids[5]
    h = SD.score_history(ps, hid)
    assert h["period"].tolist() == spec.periods
    np.testing.assert_allclose(h["score"].to_numpy(), ps.score[5].astype(float), equal_nan=True)
    assert h["tier"].tolist() == [TIERS[t] if t >= 0 else None for t in ps.tier[5]]
    assert h["income_line"].tolist() == [spec.lines()[p // 100] for p in spec.periods]
    assert SD.score_history(ps, "nobody").empty


def test_display_helpers() -> None:
    assert TL.pick_language("重大疾病住院 / serious illness", "zh") == "重大疾病住院"
    assert TL.pick_language("重大疾病住院 / serious illness", "en") == "serious illness"
    assert TL.pick_language("洪涝灾害", "en") == "洪涝灾害"
    assert TL.pick_language(None, "en") == "" and TL.pick_language(float("nan"), "zh") == ""
    assert SD.format_indicator("medical_oop", 12345.0, "zh") == "12,345元"
    assert SD.format_indicator("medical_oop", 12345.0, "en") == "¥12,345"
    assert SD.format_indicator("income_ratio", 9750.0, "zh", income_line=7500.0) == "9,750元（监测线的 1.30 倍）"
    assert SD.format_indicator("income_ratio", 9750.0, "en", income_line=7500.0) == "¥9,750 (1.30x the line)"
    assert SD.format_indicator("dependency_ratio", 0.75, "zh") == "75.0%"
    assert SD.format_indicator("job_lost", 1.0, "zh") == "是" and SD.format_indicator("job_lost", 0.0, "en") == "No"
    assert SD.format_indicator("serious_ill", 2.0, "zh") == "2 人"
    assert SD.format_indicator("months_worked", 6.0, "en") == "6.0 months"
    assert SD.format_indicator("housing_grade", 3.0, "zh") == "C 级危房"
    assert SD.format_indicator("medical_oop", float("nan"), "zh") == "—"
