"""Supervision rules on a hand-built county (both backends) and on the small demo (planted counts)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core.ids import id_check_char
from fanpin.demo.plant import planted_counts
from fanpin.quality import rules as R
from fanpin.store import schema as S
from fanpin.store.io import shift_period
from fanpin.workflow import clues, common
from tests.conftest import copy_sqlite

P = 202506
#: The county's stored income lines (the year rule: a month takes its year's line).
LINES = {2024: 7_800.0, 2025: 8_100.0}
T1, T2 = "990101001000", "990101002000"
V1, V2, V3 = "990101001001", "990101001002", "990101002001"
ANALYST = Principal("analyst1", "analyst")
STEWARD = Principal("steward", "data_steward")


class County:
    """Builds rows by hand; every household gets a head and a panel row for P-1 and P."""

    def __init__(self) -> None:
        self.hh: list[dict] = []
        self.mem: list[dict] = []
        self.panel: list[dict] = []
        self.dept: list[dict] = []
        self.rel: list[dict] = []
        self.clues: list[dict] = []
        self.mon: list[dict] = []
        self.rec: list[dict] = []  # monitoring_records
        self.measures: list[dict] = []  # assistance
        self.yearly: list[dict] = []  # yearly_incomes
        self.seq = 0

    def id_number(self, birth: date, sex: str = "M", addr: str = "990101", seq: int | None = None) -> str:
        if seq is None:
            self.seq += 1
            seq = self.seq * 2 + (1 if sex == "M" else 0)
        body = f"{addr}{birth:%Y%m%d}{seq:03d}"
        return body + str(id_check_char(body))

    def household(self, hid: str, village: str = V1, *, secured: bool | None = True, members: tuple[dict, ...] = (), **panel) -> str:
        h = {"household_id": hid, "village_code": village, "township_code": village[:9] + "000", "household_type": "ordinary", "size": 1 + len(members),
             "relocated": False, "no_labour_guarantee": False, "in_cooperative": False, "n_labour": 1, "n_weak_labour": 0, "housing_secured": secured}
        for k in ("no_labour_guarantee", "n_labour", "n_weak_labour"):
            if k in panel:
                h[k] = panel.pop(k)
        self.hh.append(h)
        head = {"relation": "head", **(panel.pop("head", {}))}
        for m in (head, *members):
            self.member(hid, **m)
        n = len(self.hh)
        for per in (P - 1, P):
            row = {"period": per, "household_id": hid, "income_wage": 10_000.0, "income_net": 20_000.0 + 7 * n, "income_pc": 10_000.0 + n,
                   "income_business": 3_000.0, "medical_oop": 0.0, "housing_grade": 0, "dibao": False, "tekun": False}
            row.update(panel if per == P else {k: v for k, v in panel.items() if k == "housing_grade"})
            self.panel.append(row)
        return hid

    def member(self, hid: str, **kw) -> dict:
        birth = kw.pop("birth", date(1970, 1, 1))
        sex = kw.pop("sex", "M")
        m = {"household_id": hid, "name": kw.pop("name", f"成员{len(self.mem)}"), "sex": sex, "birth_date": birth, "relation": "child",
             "schooling": "none", "labour_capacity": "normal", "dibao": False, "tekun": False, "public_welfare_job": False, "deceased_period": None}
        m["id_number"] = kw.pop("id_number", None) or self.id_number(birth, sex)
        m.update(kw)
        self.mem.append(m)
        return m

    def record(self, hid: str, ident: int | None, risks: tuple[str, ...] = (), elim: int | None = None, method: str | None = None,
               dev: str | None = None, eliminated: bool | None = None) -> None:
        """The household's monitoring record (eliminated when ``elim`` or ``eliminated`` says so)."""
        row = {"household_id": hid, "monitoring_category": "marginal", "identified_period": ident, "eliminated": bool(elim) if eliminated is None else eliminated,
               "elimination_method": method, "eliminated_period": elim, "development_measures": dev}
        row.update({f"risk_{i}": (risks[i - 1] if i <= len(risks) else None) for i in range(1, 6)})
        self.rec.append(row)

    def measure(self, hid: str, measure: str, start: int, end: int | None = None) -> None:
        self.measures.append({"household_id": hid, "measure": measure, "period": start, "end_period": end})

    def write(self, engine) -> None:
        regions = [{"region_code": "990101000000", "level": "county", "parent_code": None, "name": "县"},
                   {"region_code": T1, "level": "township", "parent_code": "990101000000", "name": "甲镇"},
                   {"region_code": T2, "level": "township", "parent_code": "990101000000", "name": "乙镇"},
                   {"region_code": V1, "level": "village", "parent_code": T1, "name": "一村"},
                   {"region_code": V2, "level": "village", "parent_code": T1, "name": "二村"},
                   {"region_code": V3, "level": "village", "parent_code": T2, "name": "三村"}]
        with engine.begin() as conn:
            conn.execute(insert(S.regions), regions)
            conn.execute(insert(S.households), self.hh)
            conn.execute(insert(S.members), self.mem)
            conn.execute(insert(S.panel), self.panel)
            for table, rows in ((S.dept_records, self.dept), (S.official_relations, self.rel), (S.clues, self.clues), (S.monitoring_records, self.rec),
                                (S.assistance, self.measures), (S.yearly_incomes, self.yearly)):
                if rows:  # executemany takes its columns from the first row: give every row every key
                    keys = sorted({k for r in rows for k in r})
                    conn.execute(insert(table), [{k: r.get(k) for k in keys} for r in rows])
            for row in self.mon:  # the history, in order
                conn.execute(insert(S.monitoring).values(**row))
            store.set_meta(conn, "income_lines", json.dumps({str(k): v for k, v in LINES.items()}))


def clue(hid: str, period: int, risk: str = "illness") -> dict:
    return {"household_id": hid, "period": period, "channel": "department", "source": "medical_insurance", "risk_type": risk,
            "received_at": datetime(period // 100, period % 100, 5), "status": "new"}


def mon(hid: str, period: int, status: str) -> dict:
    return {"household_id": hid, "period": period, "status": status, "recorded_at": datetime(period // 100, period % 100, 10)}


def build() -> tuple[County, dict[str, set[str]]]:
    c = County()
    exp: dict[str, set[str]] = {r.code: set() for r in R.RULES}
    # deceased_benefit / death_not_recorded
    c.household("DB1", head={"deceased_period": 202504, "dibao": True})
    c.household("DB2", head={"deceased_period": P, "dibao": True})  # died this month: paid for it
    c.household("DB3", head={"deceased_period": 202503})  # deceased, no benefit
    c.household("DB4", head={"tekun": True})  # alive in the roster, police registered the death
    c.household("DB5", head={"tekun": True})  # death registered this month
    c.household("DB6", head={"tekun": True})  # death registered next month
    ids = {m["household_id"]: m["id_number"] for m in c.mem}
    for hid, per in (("DB1", 202504), ("DB4", 202505), ("DB5", P), ("DB6", 202507)):
        c.dept.append({"id_number": ids[hid], "household_id": None, "source": "public_security", "record_type": "death", "period": per})
    exp["deceased_benefit"] = {"DB1", "DB4"}
    exp["death_not_recorded"] = {"DB4", "DB5"}
    # income_vs_dept
    c.household("IV1", income_net=30_000.0)
    c.household("IV2", income_net=30_000.0)
    c.household("IV3", income_business=0.0)
    c.household("IV4", income_business=5_000.0)
    c.household("IV5", dibao=True)
    c.household("IV6")
    c.household("IV7", income_net=10_000.0)
    ids = {m["household_id"]: m["id_number"] for m in c.mem}
    for hid, kind, value, per in (("IV1", "car", 90_000.0, 202503), ("IV2", "car", 89_000.0, 202503), ("IV2", "car", 1e6, 202507),
                                  ("IV3", "business", None, 202401), ("IV4", "business", None, 202401),
                                  ("IV5", "commercial_house", None, None), ("IV6", "commercial_house", None, None), ("IV6", "death_certificate", 1e6, None)):
        c.dept.append({"id_number": ids[hid], "household_id": None, "source": "x", "record_type": kind, "period": per, "value": value})
    c.dept.append({"id_number": None, "household_id": "IV7", "source": "transport", "record_type": "car", "period": 202505, "value": 200_000.0})
    exp["income_vs_dept"] = {"IV1", "IV3", "IV5", "IV7"}
    # official_relative_dibao
    c.household("OR1", dibao=True, members=({"name": "亲属甲"},))
    c.household("OR2", members=({"name": "亲属乙"},))
    c.household("OR3", dibao=True, members=({"name": "亲属丙", "deceased_period": 202501},))
    c.household("OF1")  # the official
    by_name = {m["name"]: m["id_number"] for m in c.mem}
    official = next(m["id_number"] for m in c.mem if m["household_id"] == "OF1")
    for name in ("亲属甲", "亲属乙", "亲属丙"):
        c.rel.append({"official_id_number": official, "official_post": "village_secretary", "region_code": V1, "relative_id_number": by_name[name], "relation": "sibling"})
    exp["official_relative_dibao"] = {"OR1"}
    # duplicate_person: same name, sex, birth date; ID numbers differ in the sequence only
    b = date(1980, 1, 1)
    c.household("DP1", head={"name": "张三", "birth": b, "id_number": c.id_number(b, seq=11)})
    c.household("DP2", head={"name": "张三", "birth": b, "id_number": c.id_number(b, seq=33)})
    c.household("DP3", head={"name": "张三", "birth": b, "id_number": c.id_number(b, addr="990102", seq=55)})  # other address code
    c.household("DP4", head={"name": "张三", "birth": date(1980, 1, 2), "id_number": c.id_number(date(1980, 1, 2), seq=11)})  # other birth date
    c.household("DP5", head={"name": "张三", "birth": b, "sex": "F", "id_number": c.id_number(b, seq=12)})  # other sex
    exp["duplicate_person"] = {"DP1", "DP2"}
    # no_labour_wage
    c.household("NL1", no_labour_guarantee=True, n_labour=0, income_wage=1_200.0)
    c.household("NL2", no_labour_guarantee=True, n_labour=0, income_wage=0.0)
    c.household("NL3", n_labour=1, income_wage=5_000.0)
    c.household("NL4", n_labour=0, n_weak_labour=0, income_wage=100.0)  # flag missing, members say no labour
    c.household("NL5", n_labour=0, n_weak_labour=1, income_wage=3_000.0)  # weak labour may work
    exp["no_labour_wage"] = {"NL1", "NL4"}
    # identical_income: five in one village, four in another
    for i in range(5):
        c.household(f"II{i}", village=V2, income_net=12_345.0)
    for i in range(4):
        c.household(f"IJ{i}", village=V3, income_net=23_456.0)
    c.household("IK0", village=V3, income_net=12_345.0)  # same figure, other village
    exp["identical_income"] = {f"II{i}" for i in range(5)}
    # medical_no_clue
    c.household("MC1", medical_oop=10_000.0)
    c.household("MC2", medical_oop=9_999.0)
    c.household("MC3", medical_oop=50_000.0)
    c.clues.append(clue("MC3", 202407))  # 11 months back: inside the 12-month window
    c.household("MC4", medical_oop=20_000.0)
    c.clues.append(clue("MC4", 202406))  # 12 months back: outside
    c.household("MC5", medical_oop=20_000.0)
    c.clues.append(clue("MC5", P, "other"))  # a clue, but not about illness
    exp["medical_no_clue"] = {"MC1", "MC4", "MC5"}
    # eliminated_too_fast: the record's months, eliminated at most 2 months after identification
    for hid in ("EF1", "EF2", "EF3", "EF4", "EF5", "EF6", "EF7", "EF8", "EF9"):
        c.household(hid)
    c.record("EF1", 202501, elim=202502, method="natural")  # 1 month
    c.record("EF2", 202501, elim=202503, method="natural")  # 2 months: still too fast
    c.record("EF3", 202501, elim=202504, method="natural")  # 3 months: clean
    c.record("EF4", 202506, elim=202507, method="natural")  # eliminated after the month: not yet
    c.record("EF5", 202505)  # monitored, not eliminated
    c.record("EF6", 202412, elim=202502, method="natural")  # 2 months across the new year
    c.record("EF7", 202411, elim=202502, method="natural")  # 3 months across the new year: clean
    c.record("EF8", 202501, eliminated=True, method="natural")  # eliminated, month not recorded: cannot tell
    c.record("EF9", P, elim=P, method="natural")  # the same month
    c.mon += [mon("EF3", 202401, "monitored"), mon("EF3", 202401, "eliminated")]  # the history alone is not read
    exp["eliminated_too_fast"] = {"EF1", "EF2", "EF6", "EF9"}
    # risk_no_measure: each checked risk type against the measures in effect from identification to elimination (or the month)
    for i in range(1, 14):
        c.household(f"RM{i}")
    c.record("RM1", 202503, ("illness",))  # no measure at all
    c.record("RM2", 202503, ("illness",))
    c.measure("RM2", "health", 202503)
    c.record("RM3", 202503, ("illness",))
    c.measure("RM3", "comprehensive", 202401, 202502)  # ended the month before the identification
    c.record("RM4", 202503, ("illness",))
    c.measure("RM4", "social", 202401, 202503)  # ended in the identification month: in effect
    c.record("RM5", 202503, ("illness",))
    c.measure("RM5", "health", 202507)  # starts after the month
    c.record("RM6", 202503, ("disaster", "schooling", "unstable_work"))
    c.measure("RM6", "other_education", 202409)
    c.measure("RM6", "public_welfare_job", 202504, 202512)
    c.record("RM7", 202503, ("unstable_work", "housing"))
    c.measure("RM7", "employment", 202503)  # work answered, housing not
    c.record("RM8", 202503, ("unstable_work",), dev="industry,employment")  # named in 实施开发式帮扶措施情况
    c.record("RM9", 202503, ("disability",))
    c.measure("RM9", "education", 202503)  # a measure, but not one that answers disability
    c.record("RM10", 202503, ("accident", "lack_of_labour"))  # risk types the check does not read
    c.record("RM11", 202503, ("water",))
    c.measure("RM11", "relocation", 202504)
    c.record("RM12", 202401, ("illness",), elim=202406, method="natural")
    c.measure("RM12", "health", 202407)  # after the elimination: not during the monitoring
    c.record("RM13", 202507, ("illness",))  # identified after the month
    exp["risk_no_measure"] = {"RM1", "RM3", "RM5", "RM7", "RM9", "RM12"}
    # assistance_no_development: 帮扶消除 with no development-type measure in effect from identification to elimination
    for i in range(1, 10):
        c.household(f"AD{i}")
    c.record("AD1", 202409, elim=202502, method="by_assistance")
    c.record("AD2", 202409, elim=202502, method="by_assistance")
    c.measure("AD2", "industry", 202410)
    c.record("AD3", 202409, elim=202502, method="by_assistance", dev="finance")
    c.record("AD4", 202409, elim=202502, method="by_assistance")
    c.measure("AD4", "employment", 202401, 202408)  # ended before the identification
    c.record("AD5", 202409, elim=202502, method="by_assistance")
    c.measure("AD5", "public_welfare_job", 202502)  # started in the month of elimination
    c.record("AD6", 202409, elim=202502, method="by_assistance")
    c.measure("AD6", "industry", 202503)  # after the elimination
    c.record("AD7", 202409, elim=202502, method="natural")
    c.record("AD8", 202409, elim=202502, method="by_assistance", dev="health")
    c.measure("AD8", "health", 202409)  # not development-type
    c.record("AD9", 202409, elim=202507, method="by_assistance")  # eliminated after the month
    exp["assistance_no_development"] = {"AD1", "AD4", "AD6", "AD8"}
    # eliminated_below_line: the elimination year's income per head (yearly, else the panel) against that year's line
    c.household("EB1")
    c.household("EB2")
    c.household("EB3", income_pc=8_099.0)
    c.household("EB4", income_pc=8_100.0)
    c.household("EB5")
    c.household("EB6", income_pc=3_000.0)
    c.household("EB7", income_pc=20_000.0)
    c.household("EB8")
    for hid, elim in (("EB1", 202412), ("EB2", 202412), ("EB3", 202503), ("EB4", 202503), ("EB5", 202412), ("EB7", 202503), ("EB8", 202412)):
        c.record(hid, shift_period(elim, -6), elim=elim, method="natural")
    c.record("EB6", 202501)  # monitored, not eliminated
    c.yearly += [{"household_id": "EB1", "year": 2024, "income_pc": 7_799.0}, {"household_id": "EB2", "year": 2024, "income_pc": 7_800.0},
                 {"household_id": "EB5", "year": 2024, "income_pc": 9_000.0}, {"household_id": "EB5", "year": 2025, "income_pc": 5_000.0},
                 {"household_id": "EB7", "year": 2025, "income_pc": 8_000.0}, {"household_id": "EB3", "year": 2024, "income_pc": 1_000.0},
                 {"household_id": "EB8", "year": 2024, "income_pc": 7_499.0}]
    exp["eliminated_below_line"] = {"EB1", "EB3", "EB7", "EB8"}
    # school_not_enrolled (age at the end of June 2025)
    c.household("SC1", members=({"birth": date(2015, 3, 1), "schooling": "none"},))
    c.household("SC2", members=({"birth": date(2018, 7, 1), "schooling": "none"},))  # 6
    c.household("SC3", members=({"birth": date(2018, 6, 30), "schooling": "preschool"},))  # 7
    c.household("SC4", members=({"birth": date(2010, 6, 1), "schooling": "none"},))  # 15
    c.household("SC5", members=({"birth": date(2012, 1, 1), "schooling": "primary"},))
    c.household("SC6", members=({"birth": date(2012, 1, 1), "schooling": "none", "deceased_period": 202401},))
    exp["school_not_enrolled"] = {"SC1", "SC3"}
    # unsafe_house_secured
    c.household("UH1", housing_grade=3)
    c.household("UH2", housing_grade=4)
    c.household("UH3", housing_grade=2)
    c.household("UH4", secured=False, housing_grade=4)
    c.household("UH5", secured=None, housing_grade=3)
    exp["unsafe_house_secured"] = {"UH1", "UH2"}
    # welfare_job_no_labour
    c.household("WJ1", members=({"public_welfare_job": True, "labour_capacity": "lost"},))
    c.household("WJ2", members=({"public_welfare_job": True, "labour_capacity": "weak"},))
    c.household("WJ3", members=({"labour_capacity": "none"},))
    c.household("WJ4", members=({"public_welfare_job": True, "labour_capacity": "none", "deceased_period": 202401},))
    c.household("WJ5", head={"public_welfare_job": True, "labour_capacity": "none"}, village=V3)
    exp["welfare_job_no_labour"] = {"WJ1", "WJ5"}
    return c, exp


@pytest.fixture
def tiny(db_url):
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    county, expected = build()
    county.write(engine)
    yield engine, expected
    engine.dispose()


def test_rules_have_codes_descriptions_severity_and_fields() -> None:
    assert len(R.RULES) >= 12
    assert len({r.code for r in R.RULES}) == len(R.RULES)
    for r in R.RULES:
        assert r.zh and r.en and r.name_zh and r.name_en and r.fields and r.check is not None
        assert r.severity in R.SEVERITIES
        assert r.risk_type in common.RISK_TYPES


def test_each_rule_finds_exactly_the_expected_households(tiny) -> None:
    engine, expected = tiny
    f = R.find(engine, principal=SYSTEM)
    assert list(f.columns) == R.FINDING_COLUMNS
    assert (f["period"] == P).all()
    got = {r.code: set(f.loc[f["rule"] == r.code, "household_id"]) for r in R.RULES}
    assert got == expected
    # one row per (rule, household), townships and villages from the roster
    assert not f.duplicated(["rule", "household_id"]).any()
    assert set(f.loc[f["household_id"] == "WJ5", "township_code"]) == {T2}
    assert set(f.loc[f["rule"] == "identical_income", "village_code"]) == {V2}
    assert (f["severity"] == f["rule"].map({r.code: r.severity for r in R.RULES})).all()
    assert f["detail"].str.contains(" / ").all()
    # codes selects rules
    only = R.find(engine, codes=["unsafe_house_secured"], principal=SYSTEM)
    assert set(only["rule"]) == {"unsafe_house_secured"} and set(only["household_id"]) == {"UH1", "UH2"}


def test_an_earlier_month_reads_that_month(tiny) -> None:
    engine, _ = tiny
    f = R.find(engine, P - 1, principal=SYSTEM)
    assert (f["period"] == P - 1).all()
    # panel values set for P only: incomes, medical costs and dibao flags of P-1 are the defaults
    assert set(f.loc[f["rule"] == "medical_no_clue", "household_id"]) == set()
    assert set(f.loc[f["rule"] == "identical_income", "household_id"]) == set()
    assert set(f.loc[f["rule"] == "unsafe_house_secured", "household_id"]) == {"UH1", "UH2"}  # grades set in both months
    # EF9 is identified (and eliminated) only in P
    assert set(f.loc[f["rule"] == "eliminated_too_fast", "household_id"]) == {"EF1", "EF2", "EF6"}
    # EB3's income in P-1 is the default (above the line); EB7 reads its yearly income whatever the month
    assert set(f.loc[f["rule"] == "eliminated_below_line", "household_id"]) == {"EB1", "EB7", "EB8"}
    # RM5's measure still starts after the month; RM12 and the others as in P
    assert set(f.loc[f["rule"] == "risk_no_measure", "household_id"]) == {"RM1", "RM3", "RM5", "RM7", "RM9", "RM12"}
    # DB5's death registration (P) is not yet known in P-1
    assert set(f.loc[f["rule"] == "death_not_recorded", "household_id"]) == {"DB4"}


COUNTY_CHECKS = ["risk_no_measure", "assistance_no_development", "eliminated_too_fast", "eliminated_below_line"]


def test_county_checks_say_what_contradicts(tiny) -> None:
    engine, _ = tiny
    f = R.find(engine, codes=COUNTY_CHECKS, principal=SYSTEM).set_index(["rule", "household_id"])["detail"]
    assert f["eliminated_too_fast", "EF2"] == "2025-01识别为监测对象，2025-03即消除风险（相隔2个月） / identified 2025-01, risk eliminated 2025-03 (2 month(s) later)"
    assert f["eliminated_too_fast", "EF9"].endswith("(0 month(s) later)")
    assert f["eliminated_below_line", "EB1"] == ("已消除风险，2024年人均纯收入7,799元（年度收支）低于当年监测线7,800元 / risk eliminated but income per head in 2024 "
                                                "of 7,799 yuan (yearly income) is below that year's line of 7,800")
    assert "2025年人均纯收入8,099元（月度滚动）低于当年监测线8,100元" in f["eliminated_below_line", "EB3"]  # no yearly income for 2025: the panel
    assert "8,000元（年度收支）" in f["eliminated_below_line", "EB7"]  # the yearly income before the panel's 20,000
    assert f["risk_no_measure", "RM7"] == ("风险类型因住房安全，监测期间无对应帮扶措施（住房安全保障、搬迁） / risk type housing safety with no matching measure "
                                            "during monitoring (housing safety, relocation)")
    assert "因残" in f["risk_no_measure", "RM9"] and "因病" in f["risk_no_measure", "RM1"]
    assert f["assistance_no_development", "AD1"].startswith("2025-02帮扶消除，监测期间无产业、就业、金融、公益岗位等开发式帮扶措施 / eliminated by assistance (2025-02)")
    # the findings carry the rule's severity and become clues like the others
    assert {R.BY_CODE[c].severity for c in COUNTY_CHECKS} == {"medium", "high"}


def test_with_no_line_stored_the_baseline_policys_line_holds(tiny) -> None:
    """A county whose lines are not stored: every year is checked against the baseline policy's own line (7,500 by default)."""
    from fanpin.engine.policies import baseline

    engine, _ = tiny
    with engine.begin() as conn:
        conn.execute(S.meta.delete().where(S.meta.c.key == "income_lines"))
    assert baseline(engine).income_line == 7_500
    f = R.find(engine, codes=["eliminated_below_line"], principal=SYSTEM)
    assert set(f["household_id"]) == {"EB8"}  # 7,499 < 7,500; EB1's 7,799 and EB3's 8,099 are above it
    assert f["detail"].iloc[0].endswith("below that year's line of 7,500")


def test_principal_scoping_and_summaries(tiny) -> None:
    engine, expected = tiny
    allf = R.find(engine, principal=SYSTEM)
    cw = Principal("cw", "case_worker", frozenset({T2}))
    f = R.find(engine, principal=cw)
    assert len(f) > 0 and set(f["township_code"]) == {T2}
    assert set(f["household_id"]) == set(allf.loc[allf["township_code"] == T2, "household_id"])
    assert len(R.find(engine, principal=Principal("a", "analyst"))) == len(allf)
    br = R.by_rule(allf)
    assert br["rule"].tolist() == [r.code for r in R.RULES]
    assert dict(zip(br["rule"], br["findings"])) == {k: len(v) for k, v in expected.items()}
    assert br["findings"].sum() == len(allf)
    bt = R.by_township(allf)
    assert bt["findings"].sum() == len(allf)
    assert dict(zip(bt["township_code"], bt["findings"])) == allf["township_code"].value_counts().to_dict()
    row = bt.set_index("township_code").loc[T2]
    assert row["welfare_job_no_labour"] == 1 and row["identical_income"] == 0
    assert row["high"] == int(((allf["township_code"] == T2) & (allf["severity"] == "high")).sum())
    assert R.by_township(allf.iloc[0:0]).empty and R.by_rule(allf.iloc[0:0])["findings"].sum() == 0


def test_findings_to_clues_once_and_merged(tiny) -> None:
    engine, _ = tiny
    f = R.find(engine, principal=SYSTEM)
    n = R.findings_to_clues(engine, f, P, principal=ANALYST)
    assert n == len(f)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(select(S.clues).where(S.clues.c.source == "supervision")).mappings().all())
        audit = conn.execute(select(S.audit_log).where(S.audit_log.c.action == "findings_to_clues")).mappings().all()
    assert len(rows) == n and (rows["period"] == P).all() and (rows["channel"] == "department").all()
    assert set(zip(rows["household_id"], rows["detail"].str.extract(r"^\[([a-z_]+)\]", expand=False))) == set(zip(f["household_id"], f["rule"]))
    assert rows.loc[rows["detail"].str.startswith("[school_not_enrolled]"), "risk_type"].eq("schooling").all()
    # DB4 is flagged by two rules with risk type "other": the second clue merges into the first
    db4 = rows[rows["household_id"] == "DB4"].sort_values("clue_id")
    assert db4["status"].tolist() == ["new", "merged"] and db4["merged_into"].iloc[1] == db4["clue_id"].iloc[0]
    assert len(audit) == 1 and audit[0]["actor"] == "analyst1" and json.loads(audit[0]["detail"])["created"] == n
    # twice: nothing new, no second audit entry
    assert R.findings_to_clues(engine, f, P, principal=ANALYST) == 0
    # a subset again, then a new finding: only the new one
    assert R.findings_to_clues(engine, f[f["rule"] == "medical_no_clue"], P, principal=ANALYST) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.source == "supervision")).scalar() == n
    # the same finding for another month is a new clue
    assert R.findings_to_clues(engine, f.iloc[:1], P - 1, principal=ANALYST) == 1
    assert R.findings_to_clues(engine, f.iloc[0:0], P, principal=ANALYST) == 0


def test_findings_to_clues_is_refused_or_scoped_by_role(tiny) -> None:
    """In the app (a principal): a leader may not create clues; a case worker's findings outside their
    townships are dropped even if the caller passes them."""
    from fanpin.access.roles import AccessDenied

    engine, _ = tiny
    f = R.find(engine, principal=SYSTEM)
    with pytest.raises(AccessDenied):
        R.findings_to_clues(engine, f, P, principal=Principal("boss", "leader"))
    town = sorted(f["township_code"].unique())[0]
    mine = f[f["township_code"] == town].drop_duplicates(["rule", "household_id"])
    n = R.findings_to_clues(engine, f, P, principal=Principal("cw", "case_worker", frozenset({town})))
    assert n == len(mine) < len(f.drop_duplicates(["rule", "household_id"]))
    with engine.connect() as conn:
        hids = {r[0] for r in conn.execute(select(S.clues.c.household_id).where(S.clues.c.source == "supervision"))}
    assert hids == set(mine["household_id"])


# --------------------------------------------------------------------------- the small demo
def test_small_demo_finds_exactly_the_planted_counts(small_demo) -> None:
    engine, spec = small_demo
    expected = planted_counts(engine)
    assert set(expected) == {r.code for r in R.RULES}
    f = R.find(engine, principal=SYSTEM)
    assert (f["period"] == spec.periods[-1]).all()
    got = f["rule"].value_counts().to_dict()
    assert {k: got.get(k, 0) for k in expected} == expected
    planted = store.load_json_meta(engine, "planted_households")
    for code, hids in planted.items():
        assert hids, code  # every rule has planted cases
        assert set(hids) <= set(f.loc[f["rule"] == code, "household_id"]), code


def test_small_demo_scoped_by_principal(small_demo) -> None:
    engine, _ = small_demo
    f = R.find(engine, principal=SYSTEM)
    towns = sorted(f["township_code"].unique())[:2]
    g = R.find(engine, principal=Principal("cw", "case_worker", frozenset(towns)))
    pd.testing.assert_frame_equal(g.reset_index(drop=True), f[f["township_code"].isin(towns)].reset_index(drop=True))


def test_small_demo_findings_to_clues_idempotent(small_demo, tmp_path) -> None:
    engine, spec = small_demo
    path = tmp_path / "copy.db"
    eng = store.make_engine(copy_sqlite(engine, path))
    try:
        f = R.find(eng, principal=SYSTEM)
        with eng.connect() as conn:
            before = conn.execute(select(func.count()).select_from(S.clues)).scalar()
        n = R.findings_to_clues(eng, f, spec.periods[-1], principal=STEWARD)
        assert n == len(f)
        assert R.findings_to_clues(eng, f, spec.periods[-1], principal=STEWARD) == 0
        with eng.connect() as conn:
            assert conn.execute(select(func.count()).select_from(S.clues)).scalar() == before + n
        assert clues.merge_duplicates(eng) == 0
        # the medical findings are answered by their (illness) clues; the others stay until the data change
        after = R.find(eng, principal=SYSTEM)
        assert (after["rule"] == "medical_no_clue").sum() == 0
        assert len(after) == len(f) - (f["rule"] == "medical_no_clue").sum()
    finally:
        eng.dispose()


def test_detail_text_picks_the_language() -> None:
    d = "甲 / a; 乙 / b"
    assert R.detail_text(d, "zh") == "甲; 乙" and R.detail_text(d, "en") == "a; b"
    assert R.detail_text(None, "en") == "" and R.detail_text("只有中文", "en") == "只有中文"


def test_state_token_moves_with_clues_and_monitoring(tiny) -> None:
    engine, _ = tiny
    before = R.state_token(engine)
    assert R.state_token(engine) == before
    clues.add_clue(engine, "MC1", P, "cadre_visit", "cadre", "illness", "走访", principal=SYSTEM)
    after = R.state_token(engine)
    assert after != before
    # the new illness clue answers the medical finding
    assert "MC1" not in set(R.find(engine, codes=["medical_no_clue"], principal=SYSTEM)["household_id"])
    # the workflow records a measure and writes a record (the data version unchanged): the token moves each time
    from fanpin.store import monitoring_records as mr

    with engine.begin() as conn:
        conn.execute(insert(S.assistance).values(household_id="RM1", measure="health", period=P))
    assert R.state_token(engine) != after
    assert "RM1" not in set(R.find(engine, codes=["risk_no_measure"], principal=SYSTEM)["household_id"])
    again = R.state_token(engine)
    with engine.begin() as conn:
        mr.update_record(conn, "EF3", identified_period=202503, now=datetime(2030, 1, 1))
    assert R.state_token(engine) != again
    assert "EF3" in set(R.find(engine, codes=["eliminated_too_fast"], principal=SYSTEM)["household_id"])


def test_find_needs_a_principal_who_reads_findings(tiny) -> None:
    from fanpin.access.roles import AccessDenied

    engine, _ = tiny
    with pytest.raises(TypeError):
        R.find(engine)  # no principal: no default that means "everything"
    for nobody in (None, Principal("t", "trainer")):
        with pytest.raises(AccessDenied):
            R.find(engine, principal=nobody)
    with pytest.raises(AccessDenied):
        R.findings_to_clues(engine, R.find(engine, principal=SYSTEM), P, principal=None)


def test_findings_to_clues_looks_up_the_township_itself(tiny) -> None:
    """A case worker cannot smuggle another township's household in by relabelling its township."""
    engine, _ = tiny
    f = R.find(engine, principal=SYSTEM)
    cw = Principal("cw", "case_worker", frozenset({T1}))
    forged = f[f["township_code"] == T2].assign(township_code=T1)
    assert len(forged) > 0
    assert R.findings_to_clues(engine, forged, P, principal=cw) == 0
    assert R.findings_to_clues(engine, forged.assign(township_code=None), P, principal=ANALYST) == len(forged.drop_duplicates(["rule", "household_id"]))
    unknown = f.iloc[:1].assign(household_id="NO_SUCH_HOUSEHOLD")
    assert R.findings_to_clues(engine, unknown, P, principal=SYSTEM) == 0


def test_household_heads_masked_and_scoped(tiny) -> None:
    engine, _ = tiny
    f = R.find(engine, principal=SYSTEM)
    hids = sorted(f["household_id"].unique())
    heads = R.household_heads(engine, hids, principal=SYSTEM)
    assert set(heads["household_id"]) == set(hids) and heads["household_id"].is_unique
    assert heads["name"].str.contains(r"\*").all() and heads["id_number"].str.contains(r"\*").all()
    mine = R.household_heads(engine, hids, principal=Principal("cw", "case_worker", frozenset({T2})))
    assert set(mine["household_id"]) == set(f.loc[f["township_code"] == T2, "household_id"])
    assert R.household_heads(engine, [], principal=SYSTEM).empty
