"""Where risk concentrates: township figures, hot and cold spots, map layers, township GeoJSON.

Everything here is plain numpy/pandas/shapely plus PySAL (``libpysal`` for contiguity
weights, ``esda`` for the local Getis-Ord statistic), so the map page stays a thin view
and the numbers it shows can be checked by hand in tests.  No streamlit, no network:
libpysal's example-data module is imported by libpysal itself but never asked for
anything (its remote catalogue is fetched only when ``libpysal.examples`` data are used).

Hot-spot statistic (documented choice)
--------------------------------------
Getis-Ord Gi* (``esda.G_Local(star=True)``) over township contiguity:

* weights are *binary* contiguity with the township itself included (``transform="B"``);
  its z-score is then exactly Ord & Getis (1995)'s
  ``z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))``,
  the number GeoDa and ArcGIS "Hot Spot Analysis" report;
* significance is esda's pseudo p-value from ``permutations`` conditional
  permutations (``p_sim``: one-sided, in the direction the observed value lies), with a
  fixed seed so the same data always give the same map;
* a township is a **hot spot** when ``p < 0.05`` and ``z > 0``, a **cold spot** when
  ``p < 0.05`` and ``z < 0``, otherwise not significant.  No correction for testing
  every township (the esda/GeoDa default); with a county's dozen or so townships a
  hot spot is a prompt to look closer, not a finding.
* Gi is a ratio to the total, so esda needs positive values; Gi*'s z-score and the
  permutation ranks do not change when a constant is added, so values (e.g. month-on-
  month changes, which can be negative) are shifted to be positive first.
* Townships without a value (no households that month, or no previous month) are left
  out of the test and classed ``no_data``.

Contiguity: queen by default (polygons sharing at least one boundary point, PySAL's and
GeoDa's default), rook (sharing an edge) on request.  A township touching no other
("island": an enclave or a file with gaps) is joined to its nearest township, so every
unit has a neighbourhood; the joined islands are listed on the returned ``W`` as
``w.attached_islands``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.i18n import translate
from fanpin.scoring import TIERS, ScoreResult
from fanpin.store.schema import households

#: Metrics a township can be coloured by; the change metrics compare with last month.
METRICS: tuple[str, ...] = ("red_share", "red", "mean_score", "red_share_change", "mean_score_change")
DIVERGING: frozenset[str] = frozenset({"red_share_change", "mean_score_change"})
HOTSPOT_CLASSES: tuple[str, ...] = ("hot", "cold", "not_significant", "no_data")
ALPHA = 0.05
SEED = 20_240_101

#: Property names read as the township code, in order of preference.  ``region_code``
#: is fanpin's own; ``code`` and ``township_code`` are what GIS exports and other
#: systems commonly use; 区划代码 / 行政区划代码 are the column names in bureaus' own
#: spreadsheets and in the national division-code tables.
CODE_PROPERTIES: tuple[str, ...] = ("region_code", "code", "township_code", "区划代码", "行政区划代码")


# --------------------------------------------------------------------------- township figures
def township_metrics(result: ScoreResult, prev: ScoreResult | None, township_codes: Sequence[str]) -> pd.DataFrame:
    """One row per township in ``township_codes`` (in that order): counts, red share, mean score, change.

    Counts come from the scorer's per-township ``bincount`` (``result.township_counts``),
    so this is O(townships) after scoring.  Changes compare with ``prev`` (last month's
    result, townships matched by code); they are NaN without a previous month.  A township
    with no households this month has zero counts and NaN shares and means.
    """
    codes = np.asarray(list(township_codes), dtype=object)
    cur = _per_township(result, codes)
    out = pd.DataFrame({"township_code": codes, **cur})
    if prev is not None:
        old = _per_township(prev, codes)
        out["red_share_change"] = cur["red_share"] - old["red_share"]
        out["mean_score_change"] = cur["mean_score"] - old["mean_score"]
        out["red_change"] = np.where(old["households"] > 0, cur["red"] - old["red"], np.nan)
    else:
        out["red_share_change"] = np.nan
        out["mean_score_change"] = np.nan
        out["red_change"] = np.nan
    return out


def _per_township(result: ScoreResult, codes: np.ndarray) -> dict[str, np.ndarray]:
    own = np.asarray(result.scorer.township_codes, dtype=object)
    pos = pd.Index(own).get_indexer(codes)  # -1 where the month has no such township
    found = pos >= 0
    counts = np.zeros((len(codes), 3), dtype=np.int64)
    counts[found] = result.township_counts[pos[found]]
    mean = np.full(len(codes), np.nan)
    mean[found] = result.township_mean[pos[found]]
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        red_share = np.where(n > 0, counts[:, 2] / np.maximum(n, 1), np.nan)
    mean[n == 0] = np.nan
    return {
        "households": n,
        "red": counts[:, TIERS.index("red")],
        "yellow": counts[:, TIERS.index("yellow")],
        "green": counts[:, TIERS.index("green")],
        "red_share": red_share,
        "mean_score": mean,
    }


# --------------------------------------------------------------------------- contiguity and Gi*
def _geometries(fc: Mapping) -> tuple[list[str], list]:
    ids, geoms = [], []
    for f in fc["features"]:
        ids.append(str(f["properties"]["region_code"]))
        geoms.append(shape(f["geometry"]))
    return ids, geoms


def weights_from_geojson(fc: Mapping, contiguity: str = "queen"):  # noqa: ANN201 -- libpysal W
    """Binary contiguity weights between the features of a township FeatureCollection.

    ``contiguity`` is ``"queen"`` (a shared point is enough) or ``"rook"`` (a shared edge).
    Ids are ``properties.region_code`` in feature order.  Islands are joined to the
    nearest other township (by boundary distance) and listed in ``w.attached_islands``.
    """
    from libpysal.weights import W, Queen, Rook

    if contiguity not in ("queen", "rook"):
        raise ValueError(f"contiguity must be 'queen' or 'rook', got {contiguity!r}")
    ids, geoms = _geometries(fc)
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate region codes in the FeatureCollection")
    builder = Queen if contiguity == "queen" else Rook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands; they are handled below
        raw = builder.from_iterable(geoms, ids=ids) if len(ids) > 1 else None
    neighbours = {i: sorted(str(j) for j in raw.neighbors[i]) if raw is not None else [] for i in ids}
    islands = [i for i in ids if not neighbours[i]]
    if len(ids) > 1:
        arr = np.array(geoms, dtype=object)
        for i in islands:
            k = ids.index(i)
            dist = shapely.distance(arr[k], arr)
            dist[k] = np.inf
            j = ids[int(np.argmin(dist))]
            neighbours[i] = sorted({*neighbours[i], j})
            neighbours[j] = sorted({*neighbours[j], i})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(neighbours, id_order=ids, silence_warnings=True)
    w.attached_islands = islands
    return w


def hotspots(
    values: pd.Series | Sequence[float] | np.ndarray,
    w,  # noqa: ANN001 -- libpysal W
    permutations: int = 999,
    seed: int = SEED,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Getis-Ord Gi* per township: z-score, pseudo p-value and hot / cold / not significant.

    ``values`` is a Series indexed by region code (aligned to ``w.id_order``) or an array
    in ``w.id_order``.  Returns a frame indexed by region code with ``value``, ``z``,
    ``p`` (permutation pseudo p-value), ``p_norm`` (normal approximation, one-sided),
    ``neighbours`` and ``cls``.  A township neighbouring every other one has an undefined
    z (its neighbourhood sum cannot vary) and is not significant.  Deterministic for a
    given ``seed``; numpy's global random state is restored afterwards (esda seeds it).
    """
    ids = list(w.id_order)
    if isinstance(values, pd.Series):
        y = values.reindex(ids).to_numpy(dtype=np.float64)
    else:
        y = np.asarray(values, dtype=np.float64)
        if len(y) != len(ids):
            raise ValueError(f"{len(y)} values for {len(ids)} weights ids")
    out = pd.DataFrame(
        {"value": y, "z": np.nan, "p": np.nan, "p_norm": np.nan, "neighbours": 0, "cls": "no_data"},
        index=pd.Index(ids, name="region_code"),
    )
    ok = np.isfinite(y)
    keep = [i for i, good in zip(ids, ok) if good]
    if len(keep) < 3:
        return out
    sub = _subset(w, keep)
    keep = [i for i in keep if sub.cardinalities[i] > 0]  # lost every neighbour to missing values
    if len(keep) < 3:
        return out
    sub = _subset(w, keep)
    yk = out.loc[keep, "value"].to_numpy()
    out.loc[keep, "neighbours"] = [sub.cardinalities[i] for i in keep]
    if np.ptp(yk) == 0:  # no variation: nothing can stand out
        out.loc[keep, ["z", "p", "p_norm", "cls"]] = [0.0, 1.0, 0.5, "not_significant"]
        return out
    shifted = yk - yk.min() + max(1.0, float(np.abs(yk).max()))  # positive; see the module notes
    from esda.getisord import G_Local

    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = G_Local(shifted, sub, transform="B", permutations=permutations, star=True, seed=seed, n_jobs=1, keep_simulations=False)
    finally:
        np.random.set_state(state)
    z = np.asarray(g.Zs, dtype=np.float64)
    p = np.asarray(g.p_sim, dtype=np.float64) if permutations else np.asarray(g.p_norm, dtype=np.float64)
    # a township whose neighbourhood is every township has no variance under the null: no test
    p = np.where(np.isfinite(z), p, np.nan)
    cls = np.where(p < alpha, np.where(z > 0, "hot", np.where(z < 0, "cold", "not_significant")), "not_significant")
    out.loc[keep, "z"] = z
    out.loc[keep, "p"] = p
    out.loc[keep, "p_norm"] = np.asarray(g.p_norm, dtype=np.float64)
    out.loc[keep, "cls"] = cls
    return out


def _subset(w, keep: list[str]):  # noqa: ANN001, ANN202
    from libpysal.weights import W

    s = set(keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W({i: [j for j in w.neighbors[i] if j in s] for i in keep}, id_order=keep, silence_warnings=True)


# --------------------------------------------------------------------------- colours and legend
SEQUENTIAL = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # ColorBrewer YlOrRd 5
DIVERGING_COLOURS = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")  # RdBu 5, red = worse
NO_DATA = "#d9d9d9"


@dataclass(frozen=True)
class ColourScale:
    """Equal-interval classes; ``edges`` has one more entry than ``colours``."""

    edges: tuple[float, ...]
    colours: tuple[str, ...]

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index per value (-1 for NaN)."""
        v = np.asarray(values, dtype=np.float64)
        k = np.clip(np.searchsorted(np.asarray(self.edges[1:-1]), v, side="right"), 0, len(self.colours) - 1)
        return np.where(np.isfinite(v), k, -1)

    def rgba(self, values: np.ndarray, alpha: int = 200) -> list[list[int]]:
        palette = [rgba(c, alpha) for c in self.colours]
        grey = rgba(NO_DATA, alpha)
        return [palette[k] if k >= 0 else grey for k in self.classify(values)]


def colour_scale(values: np.ndarray, diverging: bool = False, classes: int = 5) -> ColourScale:
    """Equal-interval classes over the values (symmetric about 0 for a diverging metric).

    Equal intervals read more easily than quantiles with a county's dozen townships.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    palette = DIVERGING_COLOURS if diverging else SEQUENTIAL
    if diverging:
        m = float(np.abs(v).max()) if len(v) else 0.0
        m = m or 1.0
        lo, hi = -m, m
    else:
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        if hi == lo:
            hi = lo + 1.0
    return ColourScale(tuple(np.linspace(lo, hi, classes + 1).tolist()), tuple(palette[:classes]))


def rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    """'#d62728' -> [214, 39, 40, alpha], the form deck.gl colour accessors take."""
    h = hex_colour.lstrip("#")
    return [int(h[i : i + 2], 16) for i in (0, 2, 4)] + [int(alpha)]


# --------------------------------------------------------------------------- map layers
def household_coords(engine: Engine) -> pd.DataFrame:
    """Every household's location (``households.lon/lat``): the snapshot does not carry it.

    Read here with SQLAlchemy Core because no store function serves it; the map needs it
    only for the household layer, so it stays out of the monthly snapshot.
    """
    cols = [households.c.household_id, households.c.lon, households.c.lat]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols)).all()
    frame = pd.DataFrame(rows, columns=["household_id", "lon", "lat"])
    frame["lon"] = frame["lon"].astype(np.float64)
    frame["lat"] = frame["lat"].astype(np.float64)
    return frame


def village_points(snapshot: pd.DataFrame, result: ScoreResult, regions: pd.DataFrame) -> pd.DataFrame:
    """One row per village with households: centroid, counts by tier, red share and mean score."""
    idx, uniques = pd.factorize(snapshot["village_code"], sort=True)  # hashing: faster than np.unique on strings
    codes = np.asarray(uniques, dtype=object)
    k = len(codes)
    tier = np.asarray(result.tier)
    counts = np.bincount(idx * 3 + tier, minlength=3 * k).reshape(k, 3)
    n = counts.sum(axis=1)
    mean = np.bincount(idx, weights=np.asarray(result.score, dtype=np.float64), minlength=k) / np.maximum(n, 1)
    village = regions[regions["level"] == "village"].set_index("region_code")
    out = pd.DataFrame(
        {
            "village_code": codes,
            "township_code": village["parent_code"].reindex(codes).to_numpy(),
            "lon": village["lon"].reindex(codes).to_numpy(dtype=np.float64),
            "lat": village["lat"].reindex(codes).to_numpy(dtype=np.float64),
            "households": n,
            "red": counts[:, 2],
            "yellow": counts[:, 1],
            "green": counts[:, 0],
            "red_share": counts[:, 2] / np.maximum(n, 1),
            "mean_score": mean,
        }
    )
    missing = out["township_code"].isna()
    if missing.any():  # a village the regions table does not know: take the township from the snapshot
        first = pd.Series(snapshot["township_code"].to_numpy(), index=idx).groupby(level=0).first()
        out.loc[missing, "township_code"] = first.reindex(np.flatnonzero(missing)).to_numpy()
    return out


def household_points(
    snapshot: pd.DataFrame,
    result: ScoreResult,
    township: str | None,
    coords: pd.DataFrame,
    top: int = 3,
) -> pd.DataFrame:
    """Households of ``township`` (all when None) with location, score, tier and top reasons.

    ``coords`` is :func:`household_coords`.  Reasons are indicator keys ordered as
    ``ScoreResult.reasons`` orders them (warning lines hit first, then by contribution),
    computed for the selected rows at once.  Sorted by score, highest first.
    """
    rows = np.flatnonzero(snapshot["township_code"].to_numpy() == township) if township else np.arange(len(snapshot))
    ids = snapshot["household_id"].to_numpy()[rows]
    loc = coords.set_index("household_id").reindex(ids)
    out = pd.DataFrame(
        {
            "household_id": ids,
            "village_code": snapshot["village_code"].to_numpy()[rows],
            "township_code": snapshot["township_code"].to_numpy()[rows],
            "lon": loc["lon"].to_numpy(dtype=np.float64),
            "lat": loc["lat"].to_numpy(dtype=np.float64),
            "score": np.round(np.asarray(result.score)[rows].astype(np.float64), 1),
            "tier": np.array(TIERS, dtype=object)[np.asarray(result.tier)[rows]],
        }
    )
    if top:
        reasons = top_reasons(result, rows, top)
        for r in range(top):
            out[f"reason_{r + 1}"] = reasons[:, r]
    return out.sort_values(["score", "household_id"], ascending=[False, True], ignore_index=True)


def top_reasons(result: ScoreResult, rows: np.ndarray, top: int = 3) -> np.ndarray:
    """rows x top indicator keys (None where fewer apply), in ``ScoreResult.reasons`` order."""
    scorer, policy = result.scorer, result.policy
    out = np.full((len(rows), top), None, dtype=object)
    if not len(rows):
        return out
    contrib = scorer.contributions(policy, rows)
    hits = scorer.warnings_hit(policy, rows)
    miss = scorer.missing_mask(rows)
    relevant = (contrib > 0) | hits | miss
    # hits first, then contribution (descending); irrelevant indicators last
    key = np.where(relevant, np.where(hits, 1e9, 0.0) + contrib, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")[:, :top]
    keys = np.array(scorer.keys, dtype=object)
    picked = keys[order]
    ok = np.take_along_axis(relevant, order, axis=1)
    out[:, : order.shape[1]] = np.where(ok, picked, None)
    return out


def map_view(fc: Mapping, codes: Iterable[str] | None = None, width_px: int = 900, height_px: int = 560) -> dict[str, float]:
    """Centre and zoom that fit the chosen features (all when None) in a ``width_px`` x ``height_px`` map.

    deck.gl's web-mercator world is 512 pixels wide at zoom 0 (not 256 as for raster tiles).
    """
    wanted = set(codes) if codes is not None else None
    geoms = [shape(f["geometry"]) for f in fc["features"] if wanted is None or f["properties"]["region_code"] in wanted]
    if not geoms:
        return {"longitude": 0.0, "latitude": 0.0, "zoom": 1.0}
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    span_x = max(maxx - minx, 1e-4)
    span_y = max(maxy - miny, 1e-4) / max(math.cos(math.radians(lat)), 0.1)
    zoom = min(math.log2(width_px * 360 / (512 * span_x)), math.log2(height_px * 360 / (512 * span_y)))
    return {"longitude": float(lon), "latitude": float(lat), "zoom": float(max(1.0, zoom - 0.15))}


def label_points(fc: Mapping) -> list[tuple[str, float, float]]:
    """(code, lon, lat) inside each feature, for name labels (a point on the surface, not the centroid)."""
    out = []
    for f in fc["features"]:
        p = shapely.point_on_surface(shape(f["geometry"]))
        out.append((f["properties"]["region_code"], float(p.x), float(p.y)))
    return out


# --------------------------------------------------------------------------- user GeoJSON
@dataclass(frozen=True)
class GeoProblem:
    """One reason a township file cannot be used.

    ``kind``: not_json, not_collection, no_features, no_code, bad_geometry,
    invalid_geometry, not_lonlat, duplicate_code, unknown_code (in the file, not in the
    database) or missing_code (a database township the file lacks).
    """

    kind: str
    code: str | None = None
    feature: int | None = None  # 0-based feature index
    detail: str = ""


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):  # Chinese GIS exports are often GBK
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8", raw, 0, 1, "neither UTF-8 nor GB18030")


def _code_of(props: Mapping) -> str | None:
    for name in CODE_PROPERTIES:
        value = props.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        code = str(value).strip()
        if len(code) == 9 and code.isdigit():  # 乡级 9-digit code: county (6) + township (3)
            code += "000"
        return code
    return None


def validate_geojson(fc_or_bytes: Mapping | bytes | str, known_codes: Iterable[str]) -> tuple[dict | None, list[GeoProblem]]:
    """Check a township FeatureCollection against the database's township codes.

    The code is read from the first present of :data:`CODE_PROPERTIES` (a 9-digit
    township code is padded with ``000`` to the 12-digit form).  Each geometry must be a
    valid Polygon or MultiPolygon in longitude/latitude degrees (RFC 7946).  The codes
    must match the database exactly: every file code known, every township present,
    none twice.  Returns ``(fc, [])`` with ``properties.region_code`` set on every
    feature when the file is accepted, ``(None, problems)`` when refused.
    """
    known = {str(c) for c in known_codes}
    fc: object = fc_or_bytes
    if isinstance(fc, (bytes, bytearray)):
        try:
            fc = _decode(bytes(fc))
        except UnicodeDecodeError as exc:
            return None, [GeoProblem("not_json", detail=str(exc))]
    if isinstance(fc, str):
        try:
            fc = json.loads(fc)
        except json.JSONDecodeError as exc:
            return None, [GeoProblem("not_json", detail=f"line {exc.lineno}, column {exc.colno}: {exc.msg}")]
    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        return None, [GeoProblem("not_collection")]
    if not fc["features"]:
        return None, [GeoProblem("no_features")]

    problems: list[GeoProblem] = []
    features: list[dict] = []
    seen: dict[str, int] = {}
    for i, feat in enumerate(fc["features"]):
        if not isinstance(feat, Mapping):
            problems.append(GeoProblem("bad_geometry", feature=i, detail="not a Feature"))
            continue
        props = feat.get("properties") or {}
        code = _code_of(props) if isinstance(props, Mapping) else None
        if code is None:
            problems.append(GeoProblem("no_code", feature=i))
            continue
        if code in seen:
            problems.append(GeoProblem("duplicate_code", code=code, feature=i))
            continue
        seen[code] = i
        geom = feat.get("geometry")
        if not isinstance(geom, Mapping) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            kind = geom.get("type") if isinstance(geom, Mapping) else None
            problems.append(GeoProblem("bad_geometry", code=code, feature=i, detail=str(kind)))
            continue
        try:
            g = shape(geom)
        except Exception as exc:  # noqa: BLE001 -- shapely raises several types for malformed rings
            problems.append(GeoProblem("invalid_geometry", code=code, feature=i, detail=str(exc)))
            continue
        if g.is_empty or not g.is_valid:
            problems.append(GeoProblem("invalid_geometry", code=code, feature=i, detail="empty" if g.is_empty else shapely.is_valid_reason(g)))
            continue
        minx, miny, maxx, maxy = g.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            problems.append(GeoProblem("not_lonlat", code=code, feature=i, detail=f"{minx:.0f}, {miny:.0f}"))
            continue
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {**dict(props), "region_code": code},
                "geometry": dict(geom),
            }
        )
    problems += [GeoProblem("unknown_code", code=c, feature=seen[c]) for c in sorted(set(seen) - known)]
    problems += [GeoProblem("missing_code", code=c) for c in sorted(known - set(seen))]
    if problems:
        return None, problems
    return {"type": "FeatureCollection", "features": features}, []


def describe_problems(problems: Sequence[GeoProblem], lang: str = "zh", names: Mapping[str, str] | None = None, limit: int = 20) -> list[str]:
    """One readable line per problem (at most ``limit``, then a count of the rest) for the page."""
    names = names or {}
    lines = []
    for p in problems[:limit]:
        place = p.code or ""
        if p.code in names:
            place += f"（{names[p.code]}）" if lang == "zh" else f" ({names[p.code]})"
        lines.append(translate(f"map.problem.{p.kind}", lang, code=place, feature=(p.feature + 1) if p.feature is not None else "", detail=p.detail))
    if len(problems) > limit:
        lines.append(translate("map.problem.more", lang, n=len(problems) - limit))
    return lines
