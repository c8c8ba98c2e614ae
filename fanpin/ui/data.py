"""Cached loaders: engine, months, snapshots, scorers and panel scores.

Snapshots are cached by (url, data version, period) so a write anywhere makes
every page reload fresh data.  ``Data`` carries the logged-in principal: a case
worker's snapshots, panel scores and model scores hold only their townships'
households (the scoping is here, where data are loaded, not in the pages).  A ``Scorer`` reuses output buffers between runs,
so each browser session gets its own (kept in session state); the read-only
snapshot it is built from is shared.

What is kept across runs is small: the panel scores (three households x months arrays,
keyed by data version, policy and line), counts and aggregates.  Months are read one at a
time from the columnar copy (``fanpin.store.columnar``), which the app starts writing in the
background as soon as it sees a new data version (an import, a rebuilt demo), so a page
after an import reads no month through SQL.  The sidebar's household count is a COUNT.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.roles import Principal, scope_frame
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.panel_stream import kept_panel_scores, panel_policy, prepare_views
from fanpin.engine.policies import baseline, policy_in_force
from fanpin.engine.scoring import RiskPolicy, Scorer
from fanpin.engine.trends import PanelScores
from fanpin.store import columnar
from fanpin.store import meta as meta_store
from fanpin.store.engine import StoreError
from fanpin.store.regions import load_regions, township_geojson
from fanpin.ui.i18n import t


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return store.make_engine(url)


@st.cache_data(show_spinner=False, ttl=30)
def _schema_ok(_engine: Engine, url: str) -> bool:
    """The schema check, at most every 30 s per database (it asks Alembic for the head)."""
    store.check_schema(_engine)
    return True


def engine_or_stop(url: str | None = None) -> Engine:
    """The database engine, or a clear message in the user's language and a stop."""
    url = url or store.default_url()
    try:
        engine = _engine(url)
        _schema_ok(engine, url)
        return engine
    except StoreError as exc:
        _engine.clear()
        _schema_ok.clear()
        st.error(t(f"error.{exc.code}", **{k: str(v) for k, v in exc.params.items()}))
        st.caption(t("error.url", url=_safe_url(url)))
        st.stop()
        raise  # unreachable; st.stop raises


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def data_version(engine: Engine) -> str:
    return store.data_version(engine)


@st.cache_data(show_spinner=False, max_entries=64)
def periods(_engine: Engine, url: str, version: str) -> list[int]:
    return store.periods(_engine)


@st.cache_data(show_spinner=False, max_entries=48)
def snapshot(_engine: Engine, url: str, version: str, period: int) -> pd.DataFrame:
    return store.load_snapshot(_engine, period)


def _towns(key: str) -> Principal | None:
    """A stand-in principal for a townships cache key ("" = all)."""
    return None if not key else Principal("scope", "case_worker", frozenset(key.split(",")))


#: The stand-in principal of the county-wide cache entries (no township filter).
_COUNTY = Principal("scope", "leader")


@st.cache_data(show_spinner=False, max_entries=48)
def scoped_snapshot(_engine: Engine, url: str, version: str, period: int, towns: str) -> pd.DataFrame:
    frame = snapshot(_engine, url, version, period)
    return scope_frame(frame, _towns(towns)).reset_index(drop=True) if towns else frame


@st.cache_data(show_spinner=False, max_entries=64)
def household_count(_engine: Engine, url: str, version: str, period: int, towns: str = "") -> int:
    """Households in the month (the principal's townships): a COUNT, no snapshot loaded."""
    return columnar.month_household_count(_engine, period, _towns(towns).townships if towns else None)


@st.cache_data(show_spinner=False, max_entries=8)
def regions(_engine: Engine, url: str, version: str) -> pd.DataFrame:
    return load_regions(_engine)


@st.cache_data(show_spinner=False, max_entries=8)
def townships_geojson(_engine: Engine, url: str, version: str) -> dict:
    return township_geojson(_engine)


@st.cache_data(show_spinner=False, max_entries=8)
def income_lines(_engine: Engine, url: str, version: str) -> dict[int, float]:
    return meta_store.income_lines(_engine)


@st.cache_resource(show_spinner=False, max_entries=4)
def _panel_scores(_engine: Engine, url: str, version: str, policy_json: str, line: IncomeLine, towns: str = "") -> PanelScores:
    """The panel under a policy as saved; ``line`` (the policy's ``IncomeLine``) is part of the key.
    Streamed month by month with only the columns the score reads, or read back from the disk copy
    an import, the background writer or another process left (``kept_panel_scores``); only the
    result is kept."""
    who = _towns(towns) if towns else _COUNTY
    stored = IncomeLine(line.yearly)
    return kept_panel_scores(_engine, RiskPolicy.from_json(policy_json), stored, principal=who, version=version)


@st.cache_resource(show_spinner=False, max_entries=8)
def _copy_writer(_engine: Engine, url: str, version: str) -> threading.Thread | None:
    """A background thread per database and data version writing what an import did not (the
    months' columnar copies and the baseline's panel scores: ``prepare_views``), started only when
    copies are missing (an import writes them itself).  Pages reading a file the thread is writing
    wait for it (a lock per file) instead of reading SQL a second time.  A database that cannot be
    read here starts the thread, which logs the failure; the page says it where it guards its reads
    (after login, with a message)."""
    try:
        if not columnar.missing_copies(_engine, version):
            return None
    except Exception:  # noqa: BLE001 - reported by the page's own reads
        pass
    thread = threading.Thread(target=_write_copies, args=(_engine, version), name=f"fanpin-copies-{version}", daemon=True)
    thread.start()
    return thread


def _write_copies(engine: Engine, version: str) -> None:
    try:
        if store.data_version(engine) == version:  # (a newer write since: its own thread will do it)
            prepare_views(engine)
    except Exception:
        logging.getLogger(__name__).exception("writing the columnar copy failed")


def copies_pending(data: Data) -> bool:
    """Whether the background copy of a new data version is still being written."""
    thread = _copy_writer(data.engine, data.url, data.version)
    return thread is not None and thread.is_alive()


@st.cache_resource(show_spinner=False, max_entries=2)
def _saved_model(path: str, mtime: float, _engine: Engine, url: str, version: str):  # noqa: ANN202 - RiskModel | ModelError
    """The saved risk model (reloaded when its file changes), or the refusal (said per reader's language)."""
    from fanpin.model import features, persist

    try:
        return persist.load_model(_engine, directory=Path(path).parent)
    except features.ModelError as exc:
        return exc


@st.cache_data(show_spinner=False, max_entries=4)
def _model_scores(_model, _principal: Principal, _engine: Engine, url: str, version: str, period: int, mtime: float, towns: str) -> pd.DataFrame:  # noqa: ANN001 - a RiskModel (imported lazily: training libraries load only when a model exists)
    """Cached per model file, data version, month and township scope (``towns``: the principal's)."""
    from fanpin.model import suggest

    return suggest.score_period(_model, _engine, period, principal=_principal)


def _model_path() -> Path:
    from fanpin.model import persist

    return persist.model_dir() / persist.MODEL_FILE


@dataclass
class Data:
    """What a page needs to know about the database in use."""

    engine: Engine
    url: str
    version: str
    #: Who is looking: a case worker's loaders keep only their townships' households.
    principal: Principal | None = None

    @property
    def towns_key(self) -> str:
        """The principal's townships as a cache key ("" = every township)."""
        p = self.principal
        return "" if p is None or p.townships is None else ",".join(sorted(p.townships)) or "-"

    def periods(self) -> list[int]:
        return periods(self.engine, self.url, self.version)

    def snapshot(self, period: int) -> pd.DataFrame:
        """The month's households x indicators: only the case worker's townships for a case worker."""
        return scoped_snapshot(self.engine, self.url, self.version, int(period), self.towns_key)

    def household_count(self, period: int) -> int:
        return household_count(self.engine, self.url, self.version, int(period), self.towns_key)

    def regions(self) -> pd.DataFrame:
        return regions(self.engine, self.url, self.version)

    def township_names(self, lang: str = "zh") -> dict[str, str]:
        r = self.regions()
        r = r[r["level"] != "village"]
        col = "name" if lang == "zh" else "name_en"
        return dict(zip(r["region_code"], r[col].fillna(r["name"])))

    def village_names(self, lang: str = "zh") -> dict[str, str]:
        r = self.regions()
        r = r[r["level"] == "village"]
        col = "name" if lang == "zh" else "name_en"
        return dict(zip(r["region_code"], r[col].fillna(r["name"])))

    def townships_geojson(self) -> dict:
        return townships_geojson(self.engine, self.url, self.version)

    def income_lines(self) -> dict[int, float]:
        return income_lines(self.engine, self.url, self.version)

    def stored_lines(self) -> IncomeLine:
        """The yearly income lines stored with the data."""
        return IncomeLine.stored(self.income_lines())

    def income_line(self, period: int) -> float | None:
        """The stored provincial line of the month (the year rule), or None."""
        return self.stored_lines().stored_at(period)

    def baseline_saved(self) -> RiskPolicy:
        """The adopted policy as saved (its own line and ``line_year``), else the shipped default."""
        return baseline(self.engine)

    def policy_for(self, period: int) -> RiskPolicy:
        """The policy in force for the month: the baseline with the line that holds for it.
        Every page scores a month with this, so the overview, register, brief, map,
        simulator, profile and training agree (``fanpin.engine.income_line``)."""
        return self.for_month(self.baseline_saved(), period)

    def for_month(self, policy: RiskPolicy, period: int) -> RiskPolicy:
        """A saved policy as it scores the month (the line that holds for it under that policy)."""
        return policy_in_force(policy, self.stored_lines(), int(period))

    def baseline(self, period: int) -> RiskPolicy:
        """Same as ``policy_for`` (the older name)."""
        return self.policy_for(period)

    def set_line(self, policy: RiskPolicy, period: int, yuan: float) -> RiskPolicy:
        """``policy`` with the analyst's line for the month's year (a simulated scenario)."""
        return self.stored_lines().set_line(policy, int(period), yuan)

    def panel_scores(self, policy: RiskPolicy | None = None) -> PanelScores:
        """Every month scored under ``policy`` as saved (default: the baseline), each month with
        the line that holds for it; a month's column equals ``Scorer.run(policy_for(month))``."""
        policy = self.baseline_saved() if policy is None else policy
        policy, line = panel_policy(policy, self.stored_lines())  # one cache entry per policy as it scores
        return _panel_scores(self.engine, self.url, self.version, policy.to_json(), line, self.towns_key)

    def model(self):  # noqa: ANN201 - RiskModel | str | None
        """The saved risk model, a message saying why it was refused (in the reader's language), or
        None when none is trained."""
        path = _model_path()
        if not path.exists():
            return None
        from fanpin.core.i18n import translate
        from fanpin.model.features import ModelError
        from fanpin.ui.i18n import lang

        model = _saved_model(str(path), path.stat().st_mtime, self.engine, self.url, self.version)
        return model.text(translate, lang()) if isinstance(model, ModelError) else model

    def model_scores(self, model, period: int) -> pd.DataFrame:  # noqa: ANN001 - a RiskModel (imported lazily, as above)
        """The model's probabilities and main factors for a month (cached per model file and data version)."""
        return _model_scores(model, self.principal, self.engine, self.url, self.version, int(period), _model_path().stat().st_mtime, self.towns_key)

    def scorer(self, period: int) -> Scorer:
        """This session's scorer for a month (buffers are reused between runs)."""
        key = ("_scorer", self.url, self.version, int(period), self.towns_key)
        cache = st.session_state.setdefault("_scorers", {})
        if key not in cache:
            cache.clear()  # one month at a time per session keeps memory bounded
            cache[key] = Scorer.from_frame(self.snapshot(period))
        return cache[key]


_FROZEN = False
_WARMED = False
#: Third-party modules the pages import that take seconds to import: libpysal and esda for the
#: map's hot spots (2-3.6 s of a first map view on a loaded machine; libpysal pulls in
#: scikit-learn) and the chart libraries.  ``warm_imports`` imports them after the login form is
#: drawn, while the user types.
WARM_IMPORTS = ("libpysal.weights", "esda.getisord", "pydeck", "plotly.graph_objects")


def _freeze_once() -> None:
    """Move everything alive after start-up (modules, Streamlit, pandas) out of the garbage
    collector's sight: a full collection in a rerun then costs milliseconds, not 200 ms."""
    global _FROZEN
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN = True


def warm_imports() -> None:
    """Import ``WARM_IMPORTS`` once per process, then freeze them too.  Called by the login form
    after it is drawn: the browser shows the form at once and the imports run while the user types
    (a login submitted sooner waits for them, as the first view would have).  In the script's own
    thread: imports in a second thread can meet a page importing at the same time and fail on a
    partly imported module."""
    global _WARMED
    if _WARMED:
        return
    _WARMED = True
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:
            logging.getLogger(__name__).exception("warming the import of %s failed", name)
    gc.collect()
    gc.freeze()


def get_data(principal: Principal | None = None) -> Data:
    url = store.default_url()
    engine = engine_or_stop(url)
    data = Data(engine, url, data_version(engine), principal)
    _copy_writer(engine, url, data.version)
    _freeze_once()
    return data
