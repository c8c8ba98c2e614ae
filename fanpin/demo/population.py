"""The demo county's households and members: names, ID numbers with a valid check character in the 99 (no real province) range."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fanpin.core.ids import id_check_char
from fanpin.demo.geography import Geography
from fanpin.demo.spec import DemoSpec

# --------------------------------------------------------------------------- names
_SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱覃武"))
_SURNAME_P = np.linspace(3.0, 0.3, len(_SURNAMES))
_GIVEN_M = np.array(list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆国建文志海永林峰春"))
_GIVEN_F = np.array(list("芳娜敏静丽艳娟霞秀英华玲燕红梅兰琴云莲凤洁婷雪慧琳月萍桂珍翠"))


def _names(rng: np.random.Generator, surnames: np.ndarray, female: np.ndarray) -> np.ndarray:
    n = len(surnames)
    pool_m = rng.choice(_GIVEN_M, size=(n, 2))
    pool_f = rng.choice(_GIVEN_F, size=(n, 2))
    g1 = np.where(female, pool_f[:, 0], pool_m[:, 0])
    g2 = np.where(female, pool_f[:, 1], pool_m[:, 1])
    two = rng.random(n) < 0.7
    given = np.where(two, np.char.add(g1.astype(str), g2.astype(str)), g1.astype(str))
    return np.char.add(surnames.astype(str), given)


# --------------------------------------------------------------------------- population
@dataclass
class Population:
    """Households and members as column arrays (members indexed by ``hh``)."""

    hh_village: np.ndarray  # index into geography.villages
    hh_township: np.ndarray  # index into geography.townships
    former_poor: np.ndarray
    size: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    relocated: np.ndarray
    farmland: np.ndarray
    livestock: np.ndarray
    cash_crop: np.ndarray
    house_grade: np.ndarray
    water_safe: np.ndarray
    # members
    hh: np.ndarray
    age: np.ndarray  # age in years at the end of the panel
    female: np.ndarray
    relation: np.ndarray
    health: np.ndarray  # 0 healthy, 1 chronic, 2 serious
    disability: np.ndarray  # 0 none, 1..4
    labour: np.ndarray  # 0 normal, 1 weak, 2 lost, 3 none
    work_loc: np.ndarray  # 0 home, 1 in county, 2 in province, 3 out of province
    wage_rate: np.ndarray  # yuan per month when working
    insured: np.ndarray
    pension_insured: np.ndarray
    welfare_job: np.ndarray
    extra: dict = field(default_factory=dict)


LABOUR_CODES = np.array(["normal", "weak", "lost", "none"])
HEALTH_CODES = np.array(["healthy", "chronic", "serious"])
WORK_CODES = np.array([None, "in_county", "in_province", "out_province"], dtype=object)
RELATION_CODES = np.array(["head", "spouse", "child", "parent", "grandchild"])


def _households(rng: np.random.Generator, n: int, geo: Geography) -> dict[str, np.ndarray]:
    """Households: village (remote villages are poorer), type, size, place, land, house, water."""
    nv = len(geo.villages)
    t_index = {t.code: i for i, t in enumerate(geo.townships)}
    v_town = np.array([t_index[v.township_code] for v in geo.villages])
    # Remote villages are poorer: a latent remoteness per township and village.
    town_remote = rng.uniform(0, 1, len(geo.townships))
    v_remote = np.clip(town_remote[v_town] + rng.normal(0, 0.2, nv), 0, 1)
    v_weight = rng.gamma(4.0, 1.0, nv)
    hh_village = np.sort(rng.choice(nv, size=n, p=v_weight / v_weight.sum()))
    hh_township = v_town[hh_village]
    remote = v_remote[hh_village]
    former_poor = rng.random(n) < (0.10 + 0.30 * remote)

    size = rng.choice(np.arange(1, 8), size=n, p=[0.13, 0.22, 0.2, 0.2, 0.13, 0.08, 0.04])
    # Household points scattered around their village, kept inside the township.
    v_lon = np.array([v.lon for v in geo.villages])
    v_lat = np.array([v.lat for v in geo.villages])
    lon = v_lon[hh_village] + rng.normal(0, 0.004, n)
    lat = v_lat[hh_village] + rng.normal(0, 0.004, n)

    relocated = former_poor & (rng.random(n) < 0.12)
    farmland = np.round(rng.gamma(2.0, 1.6 + 1.0 * (1 - remote)), 1)
    livestock = rng.random(n) < 0.35
    cash_crop_village = rng.random(nv) < 0.18
    cash_crop = cash_crop_village[hh_village] & (rng.random(n) < 0.7)
    house_grade = np.where(rng.random(n) < 0.02 + 0.03 * remote, rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]), 0)
    water_safe = rng.random(n) > 0.006 + 0.02 * remote

    return {"hh_village": hh_village, "hh_township": hh_township, "former_poor": former_poor, "size": size, "lon": lon, "lat": lat,
            "relocated": relocated, "farmland": farmland, "livestock": livestock, "cash_crop": cash_crop, "house_grade": house_grade,
            "water_safe": water_safe, "remote": remote, "v_remote": v_remote}


def _roster(rng: np.random.Generator, size: np.ndarray) -> dict[str, np.ndarray]:
    """Members: household index, relation to the head, age at the end of the panel, sex."""
    n = len(size)
    total = int(size.sum())
    hh = np.repeat(np.arange(n), size)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    pos = np.arange(total) - np.repeat(start, size)
    head_age = np.where(size == 1, rng.normal(67, 11, n), rng.normal(52, 12, n)).clip(24, 92).round()
    ha = head_age[hh]
    u = rng.random(total)
    relation = np.full(total, 2)  # child
    relation[pos == 0] = 0
    relation[(pos == 1) & (u < 0.85)] = 1
    rest = pos >= 2
    relation[rest & (ha < 52) & (u < 0.25)] = 3  # parent
    relation[rest & (ha >= 52) & (u < 0.45)] = 4  # grandchild
    age = np.empty(total)
    age[relation == 0] = ha[relation == 0]
    sel = relation == 1
    age[sel] = ha[sel] + rng.normal(-2, 3, sel.sum())
    sel = relation == 2
    age[sel] = ha[sel] - rng.uniform(20, 36, sel.sum())
    sel = relation == 3
    age[sel] = ha[sel] + rng.uniform(22, 32, sel.sum())
    sel = relation == 4
    age[sel] = ha[sel] - rng.uniform(42, 60, sel.sum())
    age = np.clip(np.round(age), 0, 99)
    female = rng.random(total) < 0.5
    female[relation == 0] = rng.random((relation == 0).sum()) < 0.15
    spouse = relation == 1
    female[spouse] = ~female[start[hh[spouse]]]

    return {"hh": hh, "age": age, "female": female, "relation": relation}


def _abilities(rng: np.random.Generator, age: np.ndarray, fp: np.ndarray) -> dict[str, np.ndarray]:
    """Members' health, disability, schooling, labour capacity, work and insurance (``fp``: in a former-poor household)."""
    total = len(age)
    a35 = np.maximum(age - 35, 0)
    p_chronic = np.minimum(0.03 + 0.006 * a35, 0.5) * np.where(fp, 1.3, 1.0)
    p_serious = (0.008 + 0.0006 * np.maximum(age - 40, 0)) * np.where(fp, 1.5, 1.0)
    r = rng.random(total)
    health = np.where(r < p_serious, 2, np.where(r < p_serious + p_chronic, 1, 0))
    p_dis = (0.025 + 0.0005 * age) * np.where(fp, 1.8, 1.0)
    disability = np.where(rng.random(total) < p_dis, rng.choice([1, 2, 3, 4], size=total, p=[0.1, 0.2, 0.35, 0.35]), 0)

    student = (
        ((age >= 6) & (age <= 14) & (rng.random(total) < 0.99))
        | ((age >= 15) & (age <= 17) & (rng.random(total) < 0.85))
        | ((age >= 18) & (age <= 21) & (rng.random(total) < 0.4))
    )
    labour = np.full(total, 0)
    labour[(age >= 60) | (health == 1) | (disability >= 3)] = 1
    labour[(health == 2) | ((disability >= 1) & (disability <= 2))] = 2
    labour[(age < 16) | (age >= 75) | (student & (age >= 16))] = 3
    work_loc = np.where(labour == 0, rng.choice([0, 1, 2, 3], size=total, p=[0.08, 0.27, 0.2, 0.45]), 0)
    work_loc = np.where((labour == 1) & (rng.random(total) < 0.35), 1, work_loc)
    base = np.array([900.0, 2900.0, 3700.0, 4500.0])[work_loc]  # at home: casual local work
    wage_rate = base * rng.lognormal(0, 0.28, total) * np.where(fp, 0.56, 1.0) * np.where(labour == 1, 0.55, 1.0)
    welfare_job = fp & (labour == 1) & (rng.random(total) < 0.25) & (work_loc == 0)
    wage_rate = np.where(welfare_job, 650.0, wage_rate)
    insured = rng.random(total) > 0.015
    pension_insured = (age >= 16) & (rng.random(total) > 0.04)
    return {"health": health, "disability": disability, "student": student, "labour": labour, "work_loc": work_loc, "wage_rate": wage_rate,
            "insured": insured, "pension_insured": pension_insured, "welfare_job": welfare_job}


def _population(rng: np.random.Generator, spec: DemoSpec, geo: Geography) -> Population:
    """The county's people, drawn in a fixed order: households, then the members' roster, then their abilities."""
    h = _households(rng, spec.households, geo)
    m = _roster(rng, h["size"])
    a = _abilities(rng, m["age"], h["former_poor"][m["hh"]])
    extra = {"student": a.pop("student"), "remote": h.pop("remote"), "v_remote": h.pop("v_remote")}
    return Population(**h, **m, **a, extra=extra)


# --------------------------------------------------------------------------- ids
def make_id_numbers(county_code: str, birth: np.ndarray, female: np.ndarray) -> np.ndarray:
    """18-digit ID numbers: address code, birth date, sequence (odd male / even female), check character.

    Sequence numbers are ranks within (birth date, sex) so every number is unique;
    past 500 people on one birth date and sex the address code moves on (990102...)
    inside the fictional 99 province.
    """
    n = len(birth)
    bdays = birth.astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((female, bdays))
    key = bdays[order] * 2 + female[order]
    first = np.r_[True, key[1:] != key[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank_sorted = np.arange(n) - grp_start
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    seq = (rank % 500) * 2 + np.where(female, 2, 1)
    seq = np.where(seq > 999, seq - 1000, seq)
    addr = int(county_code) + rank // 500
    ymd = pd.DatetimeIndex(birth).strftime("%Y%m%d").to_numpy().astype(str)
    body = np.char.add(np.char.add(np.char.zfill(addr.astype(str), 6), ymd), np.char.zfill(seq.astype(str), 3))
    return np.char.add(body, id_check_char(body))
