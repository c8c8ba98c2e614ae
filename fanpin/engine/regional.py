"""Regions above the county for the app: what a principal may pick, and the engine's answers for it.

A province's figures come from the analytic store through ``ProvinceEngine`` (in this process, or
on Dask when ``FANPIN_DASK_SCHEDULER`` names a scheduler): township x month sums that add up, rolled
up here to the region the user picked, its children side by side.  Every question takes the
logged-in ``Principal`` and is refused (``AccessDenied``) for a region it does not cover
(``Principal.covers``: a province or city leader inside their region, an administrator anywhere,
nobody else).  The engine is asked only for the counties inside the principal's scope, so a city
leader's figures are never computed from another city's files.  Household rows (the engine's
drill-down) need ``household_view``, which neither leader above the county has: they read
aggregates only.

The province's baseline is the database's adopted policy when the store is a copy of this
database (``fanpin snapshot sync``), else the shipped default (a demo province, another source),
each month with the store's yearly income lines, as ``fanpin trends`` scores it.  Its township x
month sums are read from the baseline aggregates written with the data (``fanpin.engine.baseline``),
so the first view does not score the panel; only county-months without them (or with stale ones:
another policy, a line announced later, rewritten data) are scored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.access.roles import AccessDenied, Principal, require
from fanpin.core.regions import LEVELS, WIDTH, level_index, parent
from fanpin.engine.baseline import same_policy, stored_scenario, stored_trends
from fanpin.engine.distributed import SCHEDULER_ENV, ProvinceEngine
from fanpin.engine.partials import Aggregates, ScenarioAggregates
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.store.snapshot import Manifest, SnapshotStore


def level_of(code: str) -> str:
    """The level of one 12-digit region code ("province", "city", "county", ...)."""
    return LEVELS[int(level_index(code)[0])]


def short(code: str) -> str:
    """A region's own digits (``99`` a province, ``9901`` a city, ``990101`` a county)."""
    return str(code)[: WIDTH[level_of(code)]]


def store_configured(store: SnapshotStore | None = None) -> Manifest | None:
    """The analytic store's manifest when one with county-months is configured (``FANPIN_STORE_DIR``
    or ``data/store``), else None (a county's app with no province)."""
    store = store or SnapshotStore()
    try:
        man = store.manifest()
    except (OSError, ValueError):
        return None
    return man if man.partitions else None


def scheduler_address() -> str | None:
    """The Dask scheduler the app sends its tasks to, or None: the engine runs in this process."""
    return os.environ.get(SCHEDULER_ENV) or None


def covered_counties(principal: Principal | None, counties: Sequence[str]) -> list[str]:
    """The store's counties (6-digit codes) the principal may read figures of."""
    if principal is None:
        return []
    return [c for c in counties if principal.covers(c)]


@dataclass(frozen=True)
class RegionTree:
    """What a region picker offers: provinces, cities and counties (12-digit codes), each covered."""

    provinces: list[str]
    cities: list[str]
    counties: list[str]

    def children(self, region: str) -> list[str]:
        """The regions one level below ``region`` (its cities, a city's counties)."""
        lv = level_of(region)
        below = {"province": self.cities, "city": self.counties}.get(lv, [])
        w = WIDTH[lv]
        return [c for c in below if c[:w] == region[:w]]

    @property
    def top(self) -> str | None:
        """The widest region offered: the first province, city or county, in that order."""
        return next(iter(self.provinces or self.cities or self.counties), None)

    def offers(self, region: str | None) -> bool:
        return region is not None and (region in self.provinces or region in self.cities or region in self.counties)


def region_tree(principal: Principal | None, counties: Sequence[str]) -> RegionTree:
    """The picker's options: the covered counties and every province and city whose whole is
    covered (a city leader gets their city and its counties, never the province above it)."""
    mine = covered_counties(principal, counties)
    codes = np.array([c.ljust(12, "0") for c in mine], dtype=str)
    if not len(codes):
        return RegionTree([], [], [])
    up = lambda lv: [str(c) for c in np.unique(parent(codes, lv)) if principal is not None and principal.covers(str(c))]
    return RegionTree(up("province"), up("city"), sorted(str(c) for c in codes))


def check_region(principal: Principal | None, region: str) -> None:
    """Refuse a region the principal does not cover (and everyone who may not open the overview)."""
    require(principal, "page:overview")
    if principal is None or not principal.covers(region):
        who = "nobody" if principal is None else principal.username
        raise AccessDenied("region", f"{who} may not read region {region}")


def counties_in(region: str, counties: Sequence[str]) -> list[str]:
    """The store's counties inside ``region``."""
    w = WIDTH[level_of(region)]
    return [c for c in counties if c.ljust(12, "0")[:w] == region[:w]]


def province_policy(manifest: Manifest, database_id: str | None, adopted: RiskPolicy | None) -> RiskPolicy:
    """The province's baseline: the database's adopted policy for a store synced from it, else the default."""
    if adopted is not None and database_id is not None and manifest.source == database_id:
        return adopted
    return RiskPolicy.default()


# --------------------------------------------------------------------------- the questions
def region_trends(engine: ProvinceEngine, principal: Principal, region: str, policy: RiskPolicy,
                  periods: Sequence[int] | None = None) -> Aggregates:
    """Township x month sums of the region's counties (only those: nothing else is read): the baseline
    aggregates stored with the data where they hold for ``policy``, the engine for the rest."""
    check_region(principal, region)
    counties = counties_in(region, engine.counties)
    if not counties:
        return Aggregates.of([])
    return stored_trends(engine, policy, periods, counties=counties).aggregates


def region_scenario(engine: ProvinceEngine, principal: Principal, region: str, period: int, base: RiskPolicy,
                    scen: RiskPolicy) -> ScenarioAggregates:
    """A scenario against the baseline for the region's counties in one month (one month only, never the
    panel).  A scenario left at the baseline is read from the stored month (no file is scored)."""
    check_region(principal, region)
    counties = counties_in(region, engine.counties)
    if same_policy(engine, base, scen, period):
        got = stored_scenario(engine, period, base, counties=counties)
        if got is not None:
            return got
    return engine.scenario(period, base, scen, counties=counties)


def warm_region(engine: ProvinceEngine, principal: Principal, region: str, period: int, base: RiskPolicy) -> object:
    """Make the region's county-months of ``period`` resident in the background (in this process, or on
    the workers), so that the first scenario change costs a product per county, not a read."""
    check_region(principal, region)
    return engine.warm(period, base, counties=counties_in(region, engine.counties))


def region_rows(engine: ProvinceEngine, principal: Principal, period: int, county: str, township: str | None = None,
                policy: RiskPolicy | None = None) -> pd.DataFrame:
    """Drill-down: one county's (or township's) household rows under ``policy`` (default the shipped
    one), for a principal who may view households and covers the county; a province or city leader
    never gets here (aggregates only)."""
    require(principal, "household_view")
    check_region(principal, county.ljust(12, "0"))
    if township is not None and township[:6] != county[:6]:
        raise AccessDenied("region", f"township {township} is not in county {county[:6]}")
    return engine.rows(policy or RiskPolicy.default(), period, county[:6], township)


def region_duplicates(engine: ProvinceEngine, principal: Principal, region: str) -> pd.DataFrame:
    """People registered in more than one household with at least one of them inside ``region``
    (``person_key``, ``household_id``, ``county_code``; every household of such a person, the other
    may lie outside the region): the engine's join across every county's members (a shuffle by key,
    never a province's members in one process).  Keyed hashes only: no ID number is read."""
    check_region(principal, region)
    found = engine.duplicates()
    w = WIDTH[level_of(region)]
    inside = found["county_code"].astype(str).str.ljust(12, "0").str[:w] == region[:w]
    keys = found.loc[inside, "person_key"].unique()
    return found[found["person_key"].isin(keys)].reset_index(drop=True)


def duplicates_by_county(found: pd.DataFrame, region: str) -> pd.DataFrame:
    """Per county of ``region`` holding such a person: the people (distinct keys), how many of them are
    registered in another county too, and the county's households involved; most people first."""
    cols = ["region_code", "people", "across_counties", "households"]
    if found.empty:
        return pd.DataFrame(columns=cols)
    f = found.assign(region_code=found["county_code"].astype(str).str.ljust(12, "0"))
    spread = f.groupby("person_key")["county_code"].nunique()
    f = f.assign(across=f["person_key"].map(spread).to_numpy() > 1)
    w = WIDTH[level_of(region)]
    f = f[f["region_code"].str[:w] == region[:w]]
    people = f.groupby("region_code")["person_key"].nunique()
    across = f[f["across"]].groupby("region_code")["person_key"].nunique()
    households = f.groupby("region_code")["household_id"].nunique()
    out = pd.DataFrame({"people": people, "across_counties": across.reindex(people.index, fill_value=0), "households": households})
    return out.rename_axis("region_code").reset_index().sort_values(["people", "region_code"], ascending=[False, True], ignore_index=True)[cols]


# --------------------------------------------------------------------------- shaping for the pages
def children_level(region: str, by: str | None = None) -> str:
    """The level shown side by side under ``region`` (``by`` overrides it at province level: counties)."""
    lv = level_of(region)
    if lv == "province":
        return by if by in ("city", "county") else "county"
    return {"city": "county", "county": "township"}[lv]


def side_by_side(agg: Aggregates, region: str, period: int, level: str) -> pd.DataFrame:
    """One row per region at ``level`` inside ``region`` for the month: households, tier counts,
    the red count's change from the month before, newly red, rising, shares and the mean score,
    and the red share month by month (a list, oldest first)."""
    at = agg.at(level, region)
    cols = ["region_code", "households", *TIERS, "red_change", "newly_red", "rising", "red_share", "red_share_change", "mean_score", "trend"]
    if at.empty:
        return pd.DataFrame(columns=cols)
    at = at.sort_values(["region_code", "period"])
    prev = at.groupby("region_code")[["red", "red_share"]].shift(1)
    at = at.assign(red_change=at["red"] - prev["red"], red_share_change=at["red_share"] - prev["red_share"])
    trend = at.groupby("region_code")["red_share"].apply(lambda s: [round(100 * float(v), 2) for v in s.fillna(0)])
    now = at[at["period"] == int(period)].set_index("region_code")
    now = now.assign(trend=trend.reindex(now.index))
    out = now.reset_index()[cols[:-1] + ["trend"]]
    return out.sort_values("red_share", ascending=False, ignore_index=True)


def month_totals(agg: Aggregates, region: str) -> pd.DataFrame:
    """Month x sums over the whole region (its headline and trend lines)."""
    at = agg.at(level_of(region), region)
    return at.drop(columns="region_code").sort_values("period", ignore_index=True)


def month_by_region(agg: Aggregates, region: str, level: str, what: str = "red") -> pd.DataFrame:
    """Months x regions at ``level`` of one figure (``red``, ``newly_red``, ``rising``, ``red_share`` ...)."""
    at = agg.at(level, region)
    if at.empty:
        return pd.DataFrame()
    return at.pivot(index="period", columns="region_code", values=what).sort_index()


def tile_grid(table: pd.DataFrame) -> pd.DataFrame:
    """Where each county's tile sits on a schematic map: one row per city, counties in code order.
    The store holds no county boundaries, so the tiles say where a county is in the hierarchy,
    not on the ground."""
    codes = table["region_code"].astype(str)
    city = codes.str[:4]
    rows = {c: i for i, c in enumerate(sorted(city.unique()))}
    col = codes.groupby(city).rank(method="first").astype(int) - 1
    return table.assign(city_code=city.str.ljust(12, "0"), row=city.map(rows), col=col)


def scenario_side_by_side(sc: ScenarioAggregates, region: str, level: str) -> pd.DataFrame:
    """Region x (baseline, scenario, change) per tier for the regions at ``level`` inside ``region``."""
    if sc.frame.empty:
        return pd.DataFrame(columns=["region_code"])
    out = sc.at(level)
    w = WIDTH[level_of(region)]
    return out[out["region_code"].str[:w] == region[:w]].reset_index(drop=True)
