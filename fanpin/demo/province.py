"""The demo province: many demo counties written straight to the analytic store.

Each county is the county demo's population and ``PanelSimulation`` (vectorised over
households, one ``step`` per month) with its own code ``99CCKK`` (city CC, county KK
of the fictional province 99) and its own random streams (``default_rng([seed, i])`` for
its people and months, ``[seed, i, 0x1D]`` for its members' ID numbers), so a county is the same whatever the province's size or the order counties are
built in, and the work is linear in households: no planting pass scans the county
(the county demo's supervision and workflow replays are left out; a province's
cases come from its own data).  Each county-month goes to
``month=YYYYMM/county=99CCKK/`` as the snapshot frame the app scores (the household
columns, the panel values, the income of a year before), as float64 like the SQL path.

People registered in two counties (the cross-county rule's cases) are planted in a
known number: ``duplicates`` ID numbers from a province-wide stream, each given to one
member in each of two counties.  Members go in as keyed hashes only.

Each county-month's baseline aggregates (township sums under the shipped default, the policy a
demo province is read with) are written beside its file as it is written (``fanpin.engine.baseline``),
so the province's overview opens without scoring.  The province's boundaries (cities, counties,
townships: ``fanpin.demo.province_geography``) are written with the manifest, for the province map.

Memory is one county's arrays (about 0.4 GB at 100k households); with a Dask client,
counties are built as tasks (``client.map``), one per worker at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.demo.build import _household_columns, _household_ids
from fanpin.demo.geography import make_geography
from fanpin.demo.panel import PanelSimulation
from fanpin.demo.population import Population, _population, make_id_numbers
from fanpin.demo.spec import DemoSpec, default_income_lines
from fanpin.engine.baseline import inputs_key, policy_key, to_doc
from fanpin.engine.distributed import month_policy, panel_task, score_task
from fanpin.engine.partials import RISING_MONTHS, Scored
from fanpin.engine.scoring import RiskPolicy
from fanpin.store import io as sio
from fanpin.store.snapshot import Manifest, PartitionInfo, SnapshotStore

_TEXT = ("household_id", "village_code", "township_code", "household_type")
_BOOL = ("no_labour_guarantee", "relocated", "water_safe", "dibao", "tekun", "job_lost")


@dataclass(frozen=True)
class ProvinceSpec:
    """A synthetic province: ``counties`` demo counties of ``households_per_county`` households each."""

    counties: int = 10
    households_per_county: int = 100_000
    months: int = 36
    start: int = 202301
    seed: int = 20231
    townships: int = 14
    villages: int = 200
    counties_per_city: int = 8
    duplicates: int = 40

    @property
    def households(self) -> int:
        return self.counties * self.households_per_county

    def county_code(self, i: int) -> str:
        city, k = divmod(i, self.counties_per_city)
        if city + 1 > 99 or k + 1 > 99:
            raise ValueError("at most 99 cities of 99 counties")
        return f"99{city + 1:02d}{k + 1:02d}"

    def county_spec(self, i: int) -> DemoSpec:
        return DemoSpec(households=self.households_per_county, months=self.months, start=self.start, townships=self.townships,
                        villages=self.villages, seed=self.seed, county_code=self.county_code(i), workflow=False,
                        income_lines=self.lines())

    @property
    def version(self) -> str:
        """The store's data version for this build."""
        return f"demo-{self.seed}-{self.counties}x{self.households_per_county}x{self.months}"

    def lines(self) -> dict[int, float]:
        years = sorted({sio.shift_period(self.start, k) // 100 for k in range(self.months)})
        return default_income_lines(years[0], years[-1])


@dataclass
class ProvinceResult:
    """What a build wrote: partitions, household-months, and the planted cross-county people."""

    partitions: int
    household_months: int
    members: int
    planted: pd.DataFrame  # id_number, county_a, county_b
    manifest: Manifest


def planted_people(spec: ProvinceSpec) -> pd.DataFrame:
    """The ``duplicates`` people registered in two counties: ID number and the two counties (by index)."""
    if spec.counties < 2 or spec.duplicates <= 0:
        return pd.DataFrame({"id_number": [], "county_a": [], "county_b": []})
    rng = np.random.default_rng([spec.seed, 0xD0B1])
    n = spec.duplicates
    birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n).astype("timedelta64[D]")
    female = rng.random(n) < 0.5
    ids = make_id_numbers("999900", birth, female)  # an address no county of the province uses
    a = rng.integers(0, spec.counties, n)
    b = (a + rng.integers(1, spec.counties, n)) % spec.counties
    return pd.DataFrame({"id_number": ids.astype(object), "county_a": a, "county_b": b})


def _member_ids(rng: np.random.Generator, spec: DemoSpec, pop: Population, planted: np.ndarray) -> np.ndarray:
    """Members' ID numbers (birth from the age at the panel's end); ``planted`` replace the first members."""
    end = spec.periods[-1]
    end_date = np.datetime64(f"{end // 100:04d}-{end % 100:02d}-15")
    birth = end_date - (pop.age * 365.25 + rng.uniform(0, 364, len(pop.hh))).astype("timedelta64[D]")
    ids = make_id_numbers(spec.county_code, birth, pop.female).astype(object)
    if len(planted):
        pick = rng.choice(len(ids), size=min(len(planted), len(ids)), replace=False)
        ids[np.sort(pick)] = planted[: len(pick)]
    return ids


def _snapshot(hh: dict[str, np.ndarray], cols: dict[str, np.ndarray], before: np.ndarray) -> pd.DataFrame:
    """The month's frame in the SQL path's columns and types (text as objects, numbers as float64)."""
    data: dict[str, np.ndarray] = {}
    for k in (*sio.HOUSEHOLD_COLUMNS, *sio.PANEL_VALUE_COLUMNS):
        v = hh[k] if k in hh else cols[k]
        data[k] = np.asarray(v, dtype=object) if k in _TEXT else np.asarray(v, dtype=bool) if k in _BOOL else np.asarray(v, dtype=np.float64)
    data["income_pc_12m_ago"] = before
    return pd.DataFrame(data)


def build_county(root: str, spec: ProvinceSpec, i: int) -> list[PartitionInfo]:
    """One county's members and months into the store at ``root``; a task of its own (no shared state)."""
    store = SnapshotStore(root)
    cspec = spec.county_spec(i)
    rng = np.random.default_rng([spec.seed, i])
    geo = make_geography(rng, cspec.townships, cspec.villages, cspec.county_code)
    pop = _population(rng, cspec, geo)
    hids = _household_ids(geo, pop)
    hh = _household_columns(rng, cspec, geo, pop, hids)
    plant = planted_people(spec)
    mine = plant["id_number"].to_numpy()[(plant["county_a"].to_numpy() == i) | (plant["county_b"].to_numpy() == i)]
    # members from a stream of their own: the planted people (which depend on the province) move no panel draw
    ids = _member_ids(np.random.default_rng([spec.seed, i, 0x1D]), cspec, pop, mine)
    infos = [store.write_members(cspec.county_code, hids[pop.hh], ids)]
    sim = PanelSimulation(cspec, geo, pop, hids, rng)
    history: deque[np.ndarray] = deque(maxlen=12)
    baseline = _BaselineWriter(store, spec, cspec.county_code)
    for period in cspec.periods:
        cols = sim.step(period)
        before = history[0] if len(history) == 12 else np.full(cspec.households, np.nan)
        info = store.write_month(period, cspec.county_code, _snapshot(hh, cols, before))
        infos.append(info)
        baseline.add(info)
        history.append(np.asarray(cols["income_pc"], dtype=np.float64))
    return infos


class _BaselineWriter:
    """The county's baseline aggregates written month by month as the months are (``fanpin.engine.baseline``):
    each month scored from its file by the engine's own task, with the three months before kept for
    newly red and rising, so the province's overview reads them instead of scoring."""

    def __init__(self, store: SnapshotStore, spec: ProvinceSpec, county: str) -> None:
        self.store, self.spec, self.county = store, spec, county
        self.policy = RiskPolicy.default()  # the baseline a demo province is read with (no database: regional.province_policy)
        self.lines = spec.lines()
        self.digests: dict[tuple[int, str], str] = {}
        self.scored: dict[int, Scored] = {}

    def add(self, info: PartitionInfo) -> None:
        p, c = info.period, self.county
        self.digests[(p, c)] = info.digest
        mp = month_policy(self.policy, self.lines, p)
        now = score_task(str(self.store.root), p, c, info.digest, mp)
        hist = [self.scored.get(sio.shift_period(p, -k)) for k in range(1, RISING_MONTHS + 1)]
        fig = panel_task(now, mp.income_line, *hist)
        self.store.write_baseline(p, c, to_doc(fig, policy_key(mp), inputs_key(self.digests, p, c), self.spec.version))
        self.scored[p] = now
        self.scored.pop(sio.shift_period(p, -RISING_MONTHS), None)


def build_province(
    store: SnapshotStore,
    spec: ProvinceSpec,
    *,
    client: object | None = None,
    written_by: str = "system",
    progress: Callable[[str, float], None] | None = None,
) -> ProvinceResult:
    """Build every county (as Dask tasks when ``client`` is given, else one after another), then the manifest."""
    say = progress or (lambda _m, _f: None)
    infos: list[PartitionInfo] = []
    root = str(store.root)
    if client is not None:
        from distributed import as_completed

        futures = client.map(build_county, [root] * spec.counties, [spec] * spec.counties, range(spec.counties), pure=False)  # type: ignore[attr-defined]
        for k, fut in enumerate(as_completed(futures), start=1):
            infos += fut.result()
            say(f"county {k}/{spec.counties}", k / spec.counties)
    else:
        for i in range(spec.counties):
            infos += build_county(root, spec, i)
            say(f"county {i + 1}/{spec.counties}", (i + 1) / spec.counties)
    man = store.commit(infos, data_version=spec.version, source=f"demo-province:{spec.seed}", written_by=written_by, income_lines=spec.lines())
    from fanpin.demo.province_geography import province_boundaries  # it imports this module's ProvinceSpec

    for level, fc in province_boundaries(spec).items():
        store.write_boundaries(level, fc)
    months = [x for x in infos if x.period]
    return ProvinceResult(len(months), sum(x.rows for x in months), sum(x.rows for x in infos if not x.period), planted_people(spec), man)
