"""A tiny, hand-made county for the import tests: every value known, so expectations are exact.

county 990101 (测试县): townships 990101001000 (一镇) and 990101002000 (二镇);
villages 990101001001, 990101001002 (一镇), 990101002001 (二镇).
Households H1, H2 (village 990101001001) and H3 (990101002001); members with known ID numbers;
panel rows for 202401 and 202402.
"""

from __future__ import annotations

from datetime import date, datetime

from fanpin.core.ids import id_check_char

#: "today" for validation in the tests (months after 202506 are in the future).
TODAY = date(2025, 6, 30)

COUNTY, T1, T2 = "990101000000", "990101001000", "990101002000"
V1, V2, V3 = "990101001001", "990101001002", "990101002001"
H1, H2, H3 = "99010100100100001", "99010100100100002", "99010100200100001"


def idn(birth: str, seq: str, addr: str = "990101") -> str:
    body = addr + birth + seq
    return body + str(id_check_char(body))


ID_H1_HEAD = idn("19700505", "001")  # man
ID_H1_SPOUSE = idn("19720303", "002")  # woman
ID_H2_HEAD = idn("19500101", "004")  # woman, 75 at the reference date
ID_H3_HEAD = idn("19900707", "003")  # man
ID_NEW_CHILD = idn("20150601", "011")  # a boy, for H1
ID_OFFICIAL = idn("19751111", "021")


def build(engine) -> None:
    """Create the schema and the county's rows in a fresh database."""
    from fanpin import store
    from fanpin.store import schema as S

    store.upgrade(engine)
    regions = [
        (COUNTY, "county", None, "测试县"), (T1, "township", COUNTY, "一镇"), (T2, "township", COUNTY, "二镇"),
        (V1, "village", T1, "一村"), (V2, "village", T1, "二村"), (V3, "village", T2, "三村"),
    ]
    hh = dict(relocated=False, no_labour_guarantee=False, in_cooperative=False, n_weak_labour=0, n_chronic=0, n_serious=0, n_disabled=0, n_students=0, n_uninsured=0, created_period=202401)
    households = [
        dict(household_id=H1, village_code=V1, township_code=T1, household_type="ordinary", size=2, n_labour=2, n_elderly=0, n_children=0, phone="13800000001", farmland_mu=2.5, **hh),
        dict(household_id=H2, village_code=V1, township_code=T1, household_type="former_poor", size=1, n_labour=0, n_elderly=1, n_children=0, phone=None, farmland_mu=1.0, **hh),
        dict(household_id=H3, village_code=V3, township_code=T2, household_type="ordinary", size=1, n_labour=1, n_elderly=0, n_children=0, phone=None, farmland_mu=None, **hh),
    ]
    m = dict(schooling="none", health="healthy", disability=0, medical_insurance=True, serious_illness_insurance=True, pension_insurance=True, dibao=False, tekun=False, public_welfare_job=False)
    members = [
        dict(household_id=H1, name="张伟", id_number=ID_H1_HEAD, sex="M", birth_date=date(1970, 5, 5), relation="head", labour_capacity="normal", **m),
        dict(household_id=H1, name="李芳", id_number=ID_H1_SPOUSE, sex="F", birth_date=date(1972, 3, 3), relation="spouse", labour_capacity="normal", **m),
        dict(household_id=H2, name="王秀英", id_number=ID_H2_HEAD, sex="F", birth_date=date(1950, 1, 1), relation="head", labour_capacity="none", **m),
        dict(household_id=H3, name="赵强", id_number=ID_H3_HEAD, sex="M", birth_date=date(1990, 7, 7), relation="head", labour_capacity="normal", **m),
    ]
    p = dict(income_wage=0.0, income_business=0.0, income_property=0.0, income_transfer=0.0, business_cost=0.0, medical_oop=0.0, schooling_cost=0.0, debt=0.0, housing_grade=0, water_safe=True, disaster_loss=0.0, months_worked=0.0, benefits=0.0, dibao=False, tekun=False, job_lost=False)
    panel = []
    for period in (202401, 202402):
        panel += [
            {**p, "period": period, "household_id": H1, "income_wage": 30000.0, "income_net": 30000.0, "income_pc": 15000.0},
            {**p, "period": period, "household_id": H2, "income_transfer": 6000.0, "income_net": 6000.0, "income_pc": 6000.0},
            {**p, "period": period, "household_id": H3, "income_wage": 20000.0, "income_net": 20000.0, "income_pc": 20000.0},
        ]
    with engine.begin() as conn:
        conn.execute(S.regions.insert(), [dict(region_code=c, level=lv, parent_code=pa, name=n) for c, lv, pa, n in regions])
        conn.execute(S.households.insert(), households)
        conn.execute(S.members.insert(), members)
        conn.execute(S.panel.insert(), panel)
        conn.execute(S.clues.insert(), [dict(household_id=H1, period=202402, channel="department", source="medical_insurance", risk_type="illness", detail="医保结算", amount=12000.0, received_at=datetime(2024, 2, 20, 9, 0), status="new")])
        store.set_meta(conn, "data_version", "fixture")
