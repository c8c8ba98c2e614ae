"""The synthetic demo county: households, members, a monthly panel, events and clues.

Everything is drawn from one seed, vectorised over households, month by month,
so the default county (20k households x 36 months) builds in seconds and the
1M-household county fits in a few GB.  The shocks are what make the panel worth
analysing: heavy-tailed illness costs, floods and droughts that hit neighbouring
townships together (so real spatial hotspots exist), a factory closure that cuts
the wages of one labour-export network, a cash-crop price crash in some
villages, accidents and school entries.  Department feeds turn some of those
events into warning clues, as the real feeds do.  The shock parameters stay
inside this module: only their observable consequences are written.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.demo.geography import Geography, make_geography
from fanpin.demo.panel import PanelEnd, simulate
from fanpin.demo.population import (
    _SURNAME_P,
    _SURNAMES,
    HEALTH_CODES,
    LABOUR_CODES,
    RELATION_CODES,
    WORK_CODES,
    Population,
    _names,
    _population,
    make_id_numbers,
)
from fanpin.demo.spec import DemoSpec, Progress
from fanpin.store import demo as dstore
from fanpin.store import io as sio

_SURNAME_P /= _SURNAME_P.sum()


# --------------------------------------------------------------------------- assistance
_MEASURE_FOR_RISK = {
    "illness": ("health", 3_000.0),
    "disability": ("comprehensive", 2_400.0),
    "schooling": ("education", 2_500.0),
    "disaster": ("housing", 6_000.0),
    "housing": ("housing", 15_000.0),
    "unstable_work": ("employment", 1_500.0),
    "industry_failure": ("industry", 3_000.0),
    "accident": ("social", 2_000.0),
    "other": ("comprehensive", 1_800.0),
}
_CADRES = np.array(["县乡村振兴局", "县人社局", "县医保局", "县住建局", "县教育局", "镇政府", "驻村工作队"])


def _assistance(rng: np.random.Generator, spec: DemoSpec, pop: Population, hids: np.ndarray, clues: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Assistance that follows clues (1-2 months later, about half of them) and routine support of former-poor households.

    It is what the household profile's 幸福清单 lists; amounts are yuan.
    """
    periods = spec.periods
    parts: list[dict[str, np.ndarray]] = []
    if clues:
        take = rng.random(len(clues["period"])) < 0.5
        risk = clues["risk_type"][take]
        lag = rng.integers(1, 3, take.sum())
        when = np.array([sio.shift_period(int(p), int(k)) for p, k in zip(clues["period"][take], lag)])
        keep = when <= periods[-1]
        measure = np.array([_MEASURE_FOR_RISK.get(r, _MEASURE_FOR_RISK["other"])[0] for r in risk], dtype=object)
        base = np.array([_MEASURE_FOR_RISK.get(r, _MEASURE_FOR_RISK["other"])[1] for r in risk])
        parts.append(
            {
                "household_id": clues["household_id"][take][keep],
                "period": when[keep],
                "measure": measure[keep],
                "amount": np.round(base[keep] * rng.lognormal(0, 0.35, keep.sum()), -1),
            }
        )
    fp = np.flatnonzero(pop.former_poor)
    for p in periods:
        if p % 100 != 3:
            continue
        got = fp[rng.random(len(fp)) < 0.55]
        parts.append(
            {
                "household_id": hids[got],
                "period": np.full(len(got), p),
                "measure": rng.choice(np.array(["industry", "finance", "employment", "public_welfare_job"], dtype=object), size=len(got), p=[0.5, 0.15, 0.2, 0.15]),
                "amount": np.round(rng.uniform(800, 5_000, len(got)), -1),
            }
        )
    if not parts:
        return {}
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["cadre"] = rng.choice(_CADRES, size=len(out["period"])).astype(object)
    out["description"] = np.full(len(out["period"]), None, dtype=object)
    return out


# --------------------------------------------------------------------------- writing
def _write_regions(conn: Connection, spec: DemoSpec, geo: Geography) -> None:
    county = spec.county_code + "000000"
    cg = geo.county_geojson()
    c_geom = cg["features"][0]["geometry"] if cg.get("type") == "FeatureCollection" else cg.get("geometry", cg)
    rows = {
        "region_code": [county],
        "level": ["county"],
        "parent_code": [None],
        "name": [geo.county_name],
        "name_en": [geo.county_name_en],
        "lon": [geo.outline.centroid.x],
        "lat": [geo.outline.centroid.y],
        "geometry": [json.dumps(c_geom)],
    }
    tj = {f["properties"]["region_code"]: f["geometry"] for f in geo.township_geojson()["features"]}
    for t in geo.townships:
        rows["region_code"].append(t.code)
        rows["level"].append("township")
        rows["parent_code"].append(county)
        rows["name"].append(t.name)
        rows["name_en"].append(t.name_en)
        rows["lon"].append(t.lon)
        rows["lat"].append(t.lat)
        rows["geometry"].append(json.dumps(tj[t.code]))
    for v in geo.villages:
        rows["region_code"].append(v.code)
        rows["level"].append("village")
        rows["parent_code"].append(v.township_code)
        rows["name"].append(v.name)
        rows["name_en"].append(v.name_en)
        rows["lon"].append(v.lon)
        rows["lat"].append(v.lat)
        rows["geometry"].append(None)
    dstore.write_columns(conn, "regions", rows)


def _household_ids(geo: Geography, pop: Population) -> np.ndarray:
    """Village code + a five-digit number within the village (villages are sorted)."""
    v_codes = np.array([v.code for v in geo.villages], dtype=object)
    seq = np.arange(len(pop.hh_village)) - np.searchsorted(pop.hh_village, pop.hh_village)  # hh_village is sorted
    return np.char.add(v_codes[pop.hh_village].astype(str), np.char.zfill((seq + 1).astype(str), 5)).astype(object)


def _schooling(pop: Population) -> np.ndarray:
    schooling = np.full(len(pop.hh), "none", dtype=object)
    st = pop.extra["student"]
    schooling[st & (pop.age <= 11)] = "primary"
    schooling[st & (pop.age >= 12) & (pop.age <= 14)] = "junior"
    schooling[st & (pop.age >= 15) & (pop.age <= 17)] = "senior"
    schooling[st & (pop.age >= 18)] = "college"
    schooling[(pop.age >= 3) & (pop.age <= 5)] = "preschool"
    return schooling


def _member_columns(rng: np.random.Generator, spec: DemoSpec, pop: Population, hids: np.ndarray) -> dict[str, np.ndarray]:
    """Members with names, valid ID numbers and the end-of-panel state (benefit flags set later from the panel)."""
    hh, n = pop.hh, spec.households
    end = spec.periods[-1]
    end_date = np.datetime64(f"{end // 100:04d}-{end % 100:02d}-15")
    birth = end_date - (pop.age * 365.25 + rng.uniform(0, 364, len(hh))).astype("timedelta64[D]")
    surname_hh = rng.choice(_SURNAMES, size=n, p=_SURNAME_P)
    surname = surname_hh[hh].astype("<U1")
    other_surname = rng.choice(_SURNAMES, size=len(hh), p=_SURNAME_P)
    marry_in = (pop.relation == 1) | ((pop.relation == 3) & pop.female)
    surname = np.where(marry_in, other_surname, surname)
    names = _names(rng, surname, pop.female)
    id_numbers = make_id_numbers(spec.county_code, birth, pop.female)
    schooling = _schooling(pop)
    education = np.where(pop.age < 6, None, rng.choice(["illiterate", "primary", "junior", "senior", "college"], size=len(hh), p=[0.08, 0.32, 0.42, 0.12, 0.06])).astype(object)
    return {
        "household_id": hids[hh],
        "name": names.astype(object),
        "id_number": id_numbers.astype(object),
        "sex": np.where(pop.female, "F", "M").astype(object),
        "birth_date": pd.DatetimeIndex(birth).strftime("%Y-%m-%d").to_numpy().astype(object),
        "relation": RELATION_CODES[pop.relation].astype(object),
        "ethnicity": np.where(rng.random(len(hh)) < 0.82, "汉族", rng.choice(["苗族", "布依族", "土家族", "侗族"], size=len(hh))).astype(object),
        "education": education,
        "schooling": schooling,
        "health": HEALTH_CODES[pop.health].astype(object),
        "disability": pop.disability,
        "labour_capacity": LABOUR_CODES[pop.labour].astype(object),
        "work_location": WORK_CODES[pop.work_loc],
        "medical_insurance": pop.insured,
        "serious_illness_insurance": pop.insured,
        "pension_insurance": pop.pension_insured,
        "dibao": np.zeros(len(hh), dtype=bool),  # set from the panel's last month below
        "tekun": np.zeros(len(hh), dtype=bool),
        "public_welfare_job": pop.welfare_job,
    }


def _household_columns(rng: np.random.Generator, spec: DemoSpec, geo: Geography, pop: Population, hids: np.ndarray) -> dict[str, np.ndarray]:
    """The roster: place, type, size, dwelling, and the member counts the snapshot carries."""
    hh, n = pop.hh, spec.households
    v_codes = np.array([v.code for v in geo.villages], dtype=object)
    t_codes = np.array([t.code for t in geo.townships], dtype=object)
    count = lambda w: np.bincount(hh, weights=w, minlength=n).astype(int)
    labour_hh = count(pop.labour == 0)
    return {
        "household_id": hids,
        "village_code": v_codes[pop.hh_village],
        "township_code": t_codes[pop.hh_township],
        "household_type": np.where(pop.former_poor, "former_poor", "ordinary").astype(object),
        "size": pop.size,
        "lon": np.round(pop.lon, 5),
        "lat": np.round(pop.lat, 5),
        "phone": np.char.add("1", rng.integers(3_000_000_000, 9_999_999_999, n).astype(str)).astype(object),
        "relocated": pop.relocated,
        "no_labour_guarantee": (labour_hh == 0) & (count(pop.labour == 1) == 0),
        "farmland_mu": pop.farmland,
        "house_area": np.round(rng.uniform(25, 45, n) * np.sqrt(pop.size), 1),
        "road_distance_km": np.round(rng.gamma(1.5, 1.2, n) * (0.5 + pop.extra["remote"]), 2),
        "in_cooperative": rng.random(n) < 0.3,
        "n_labour": labour_hh,
        "n_weak_labour": count(pop.labour == 1),
        "n_elderly": count(pop.age >= 65),
        "n_children": count(pop.age < 16),
        "n_chronic": count(pop.health == 1),
        "n_serious": count(pop.health == 2),
        "n_disabled": count(pop.disability > 0),
        "n_students": count(pop.extra["student"]),
        "n_uninsured": count(~pop.insured),
        "created_period": np.full(n, spec.start),
    }


def _finish(engine: Engine, spec: DemoSpec, hids: np.ndarray, end: PanelEnd) -> None:
    """The roster's benefit flags from the last month, and the county's meta (one data version)."""
    with engine.begin() as conn:
        dstore.mark_heads(conn, "dibao", hids[end.dibao].tolist())
        dstore.mark_heads(conn, "tekun", hids[end.tekun].tolist())
        sio.set_meta(conn, "county_code", spec.county_code)
        sio.set_meta(conn, "demo_seed", str(spec.seed))
        sio.set_meta(conn, "income_lines", json.dumps({str(k): v for k, v in spec.lines().items()}))
        sio.set_meta(conn, "demo", "1")
        sio.bump_data_version(conn)


def build_demo(engine: Engine, spec: DemoSpec | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Generate the demo county into an empty, migrated database (the default ``DemoSpec`` when none is given). Returns row counts."""
    from fanpin.access.roles import SYSTEM
    from fanpin.demo.national_sample import fill_national_tables
    from fanpin.demo.plant import plant_findings
    from fanpin.demo.replay import seed_workflow
    from fanpin.workflow.clues import merge_duplicates

    spec = spec or DemoSpec()
    rng = np.random.default_rng(spec.seed)
    say = progress or (lambda _msg, _frac: None)
    say("geography", 0.0)
    geo = make_geography(rng, spec.townships, spec.villages, spec.county_code)
    pop = _population(rng, spec, geo)
    hids = _household_ids(geo, pop)
    say("households", 0.02)
    members = _member_columns(rng, spec, pop, hids)
    households = _household_columns(rng, spec, geo, pop, hids)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        _write_regions(conn, spec, geo)
        counts["households"] = dstore.write_columns(conn, "households", households)
        counts["members"] = dstore.write_columns(conn, "members", members)
    say("panel", 0.05)
    end = simulate(engine, spec, geo, pop, hids, rng, lambda m, f: say(m, 0.05 + 0.9 * f))
    counts.update(end.counts)
    with engine.begin() as conn:
        counts["assistance"] = dstore.write_columns(conn, "assistance", _assistance(rng, spec, pop, hids, end.clues))
    # Feeds report the same cause twice in a month, as real ones do; merge them where clues
    # enter (as add_clue does for single clues), not when someone opens the inbox.
    counts["clues_merged"] = merge_duplicates(engine)
    _finish(engine, spec, hids, end)
    counts["regions"] = 1 + len(geo.townships) + len(geo.villages)
    if spec.workflow:  # monitoring work under way (own random stream; before planting, which counts what exists)
        say("workflow", 0.975)
        counts.update({f"workflow_{k}": v for k, v in seed_workflow(engine, spec, np.random.default_rng([spec.seed, 0x0DE5])).items()})
        say("supervision cases", 0.999)
    # The national system's tables (the monitoring record of every case, yearly income by source),
    # so the demo county looks like a bureau's export and the county checks read what they would.
    counts.update(fill_national_tables(engine, principal=SYSTEM))
    # Supervision-rule cases in known numbers (own random stream; bumps the data version).
    counts.update({f"planted_{k}": v for k, v in plant_findings(engine, spec, np.random.default_rng([spec.seed, 0x5E1F])).items()})
    say("done", 1.0)
    return counts
