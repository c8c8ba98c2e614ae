"""The sidebar's region picker and the province engine's cached answers.

When an analytic store with county-months is configured (``FANPIN_STORE_DIR``, else ``data/store``,
as the ``fanpin`` commands find it), the sidebar offers the regions the user covers
(``fanpin.engine.regional.region_tree``: a province leader their province, its cities and
counties; a city leader their city and its counties; an administrator every region, after the
database's own county), indented province → city → county.  Picking the database's own county
keeps today's pages; any other region is answered from the store by ``ProvinceEngine``
(in this process, or on the Dask scheduler named by ``FANPIN_DASK_SCHEDULER``).

What is cached is small: the engine object per store version (``st.cache_resource``: it holds the
manifest, and in-process the workers' scorer cache) and, per region, policy and store version,
the township x month sums and the scenario's counts (``st.cache_data``: a few thousand rows).
The sums come from the baseline aggregates stored with the data (``fanpin.engine.baseline``), so the
first view reads a few KB per county-month; the simulator's first view likewise, and it then makes
the month's county files resident in the background for the scenario changes that follow.
A province's rows are never asked for.  Every answer is checked against the principal first
(``check_region``), also when it comes from the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from fanpin.access.roles import Principal, in_region
from fanpin.engine import regional
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.partials import Aggregates
from fanpin.engine.scoring import RiskPolicy
from fanpin.store.snapshot import Manifest, SnapshotStore
from fanpin.ui.i18n import kept_selectbox, lang, t

REGION_KEY = "region"


@dataclass(frozen=True)
class Province:
    """The configured analytic store as the app sees it."""

    root: str
    manifest: Manifest

    @property
    def version(self) -> str:
        """Changes with every sync or rebuild (the cache keys' part)."""
        return f"{self.manifest.data_version}|{self.manifest.updated_at}"


def configured() -> Province | None:
    """The analytic store when one holding county-months is configured, else None."""
    store = SnapshotStore()
    man = regional.store_configured(store)
    return None if man is None else Province(str(store.root), man)


@st.cache_resource(show_spinner=False, max_entries=2)
def _engine(root: str, version: str, address: str | None) -> ProvinceEngine:
    """The engine for one store version: in-process, or on the scheduler at ``address``."""
    client = None
    if address:
        from distributed import Client

        client = Client(address, timeout="30s")
    return ProvinceEngine(SnapshotStore(root), client)


def engine(prov: Province) -> ProvinceEngine:
    return _engine(prov.root, prov.version, regional.scheduler_address())


def where_it_runs() -> str:
    address = regional.scheduler_address()
    return t("province.engine_dask", address=address) if address else t("province.engine_local")


# --------------------------------------------------------------------------- boundaries and names
@st.cache_resource(show_spinner=False, max_entries=8)
def _boundaries(root: str, level: str, mtime_ns: int) -> dict | None:
    """Shared, not copied (a province's townships run to MBs): the pages only read it."""
    return SnapshotStore(root).read_boundaries(level)


def _mtime(prov: Province, level: str) -> int | None:
    try:
        return SnapshotStore(prov.root).boundaries_path(level).stat().st_mtime_ns
    except OSError:
        return None


def boundaries(prov: Province, level: str) -> dict | None:
    """The store's boundaries of ``level`` (``fanpin snapshot boundaries``, or the demo province's), or
    None: geography, not personal data, cached per file version; read-only."""
    mtime = _mtime(prov, level)
    return None if mtime is None else _boundaries(prov.root, level, mtime)


@st.cache_data(show_spinner=False, max_entries=8)
def _names(root: str, lang: str, mtimes: tuple[int | None, ...]) -> dict[str, str]:
    from fanpin.geo.boundaries import LEVELS, region_names

    store = SnapshotStore(root)
    return region_names([store.read_boundaries(lv) if m is not None else None for lv, m in zip(LEVELS, mtimes)], lang)


def store_names(prov: Province | None, lang: str) -> dict[str, str]:
    """Region names from the store's boundary files (province, cities, counties, townships), where they
    carry them; cached per language and file versions."""
    if prov is None:
        return {}
    from fanpin.geo.boundaries import LEVELS

    return _names(prov.root, lang, tuple(_mtime(prov, lv) for lv in LEVELS))


# --------------------------------------------------------------------------- labels
_DEPTH = {"province": 0, "city": 1, "county": 2, "township": 3}


def region_label(code: str, names: dict[str, str] | None = None, *, indent_from: str | None = None) -> str:
    """``省 99`` / ``市 9901`` / a name the database knows, else ``县 990101``; indented (ideographic
    spaces) by its depth below the level ``indent_from``, for the picker's tree."""
    level = regional.level_of(code)
    name = (names or {}).get(code)
    text = name or t(f"province.level_{level}", code=regional.short(code))
    if indent_from is not None:
        text = "\u3000" * max(0, _DEPTH.get(level, 0) - _DEPTH[indent_from]) + text
    return text


# --------------------------------------------------------------------------- the picker
def pick_region(principal: Principal, db_county: str | None, names: dict[str, str]) -> str | None:
    """Draw the picker (when there is a store and the principal covers some of it) and return the
    region to answer from the store, or None for the database's own county (today's pages)."""
    prov = configured()
    if prov is None:
        return None
    tree = regional.region_tree(principal, prov.manifest.counties)
    if tree.top is None:
        return None
    options: list[str] = []
    for p in tree.provinces or [None]:
        if p is not None:
            options.append(p)
        for c in [c for c in tree.cities if p is None or in_region(c, p)]:
            options.append(c)
            options += [k for k in tree.counties if in_region(k, c)]
    options += [k for k in tree.counties if k not in options]  # a county whose city is not wholly covered
    own = db_county if db_county and (principal.role == "admin" or (principal.region and in_region(db_county, principal.region))) else None
    if own is not None and own in options:
        options.remove(own)
    if own is not None:
        options.insert(0, own)
    default = own if own is not None and principal.role == "admin" else tree.top
    top = regional.level_of(tree.top)
    known = {**store_names(prov, lang()), **names}
    labels = {c: t("province.own_county", name=names.get(c, c)) if c == own else region_label(c, known, indent_from=top) for c in options}
    chosen = kept_selectbox(st.sidebar, t("province.region"), options, REGION_KEY, labels.get, default, prefix="sb")
    return None if chosen == own else chosen


# --------------------------------------------------------------------------- cached answers
@st.cache_data(show_spinner=False, max_entries=16)
def _trends_frame(root: str, version: str, policy_json: str, region: str, _engine: ProvinceEngine, _principal: Principal) -> pd.DataFrame:
    return regional.region_trends(_engine, _principal, region, RiskPolicy.from_json(policy_json)).frame


def aggregates(prov: Province, principal: Principal, region: str, policy: RiskPolicy) -> Aggregates:
    """The region's township x month sums (checked for this principal on every call)."""
    regional.check_region(principal, region)
    return Aggregates(_trends_frame(prov.root, prov.version, policy.to_json(), region, engine(prov), principal))


@st.cache_data(show_spinner=False, max_entries=32)
def _scenario(root: str, version: str, region: str, level: str, period: int, base_json: str, scen_json: str,
              _engine: ProvinceEngine, _principal: Principal) -> tuple[list[list[int]], pd.DataFrame]:
    sc = regional.region_scenario(_engine, _principal, region, period, RiskPolicy.from_json(base_json), RiskPolicy.from_json(scen_json))
    return sc.transition.tolist(), regional.scenario_side_by_side(sc, region, level)


def scenario(prov: Province, principal: Principal, region: str, level: str, period: int, base: RiskPolicy,
             scen: RiskPolicy) -> tuple[list[list[int]], pd.DataFrame]:
    """The transition (baseline tier x scenario tier) and the counts by region at ``level``.  The first
    view (the scenario at its baseline) is read from the stored month; the month's county files are
    then made resident in the background, so that a change costs a product per county."""
    regional.check_region(principal, region)
    got = _scenario(prov.root, prov.version, region, level, int(period), base.to_json(), scen.to_json(), engine(prov), principal)
    warm(prov, principal, region, period, base)
    return got


def warm(prov: Province, principal: Principal, region: str, period: int, base: RiskPolicy) -> None:
    """Make the region's county files of the month resident in the background, once per store version,
    region, month and baseline (``base`` as the month scores it): after the overview's first view too,
    so that by the time the simulator is opened its changes cost a product per county."""
    regional.check_region(principal, region)
    _warming(prov.root, prov.version, region, int(period), base.to_json(), engine(prov), principal)


@st.cache_resource(show_spinner=False, max_entries=8)
def _warming(root: str, version: str, region: str, period: int, base_json: str, _engine: ProvinceEngine, _principal: Principal) -> object:
    """Started once per store version, region, month and baseline (the thread, or None on Dask)."""
    return regional.warm_region(_engine, _principal, region, period, RiskPolicy.from_json(base_json))


@st.cache_data(show_spinner=False, max_entries=8)
def _rows(root: str, version: str, period: int, township: str, policy_json: str, _engine: ProvinceEngine, _principal: Principal) -> pd.DataFrame:
    return regional.region_rows(_engine, _principal, period, township[:6], township, RiskPolicy.from_json(policy_json))


def township_rows(prov: Province, principal: Principal, period: int, township: str, policy: RiskPolicy) -> pd.DataFrame:
    """One township's households from the store (the engine's drill-down; checked on every call)."""
    from fanpin.access.roles import require

    require(principal, "household_view")
    regional.check_region(principal, township[:6].ljust(12, "0"))
    return _rows(prov.root, prov.version, int(period), township, policy.to_json(), engine(prov), principal)


def store_caption(prov: Province, region: str, period: int) -> str:
    """The sidebar's line under the month: the region's counties and households in the store."""
    counties = regional.counties_in(region, prov.manifest.counties)
    rows = sum(i.rows for (p, c), i in prov.manifest.partitions.items() if p == period and c in set(counties))
    return t("province.store_caption", counties=len(counties), households=f"{rows:,}", where=where_it_runs())


@st.cache_data(show_spinner=False, max_entries=8, ttl=60)
def _database_id(_engine, url: str) -> str:  # noqa: ANN001 - an Engine, not hashed
    from fanpin.store.io import database_id

    return database_id(_engine)


def baseline(prov: Province, data) -> RiskPolicy:  # noqa: ANN001 - fanpin.ui.data.Data
    """The province's baseline: the database's adopted policy for a store synced from this database,
    else the shipped default (as ``fanpin trends`` scores a demo province)."""
    return regional.province_policy(prov.manifest, _database_id(data.engine, data.url), data.baseline_saved())
