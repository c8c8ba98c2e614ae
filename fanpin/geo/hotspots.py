"""Hot and cold spots: local Getis-Ord Gi* over township contiguity (see ``fanpin.geo.townships`` for the documented choices)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely

from fanpin.geo.geojson import _geometries

DIVERGING: frozenset[str] = frozenset({"red_share_change", "mean_score_change"})
HOTSPOT_CLASSES: tuple[str, ...] = ("hot", "cold", "not_significant", "no_data")
ALPHA = 0.05
#: Gi* is worked out over at least this many townships with a value (fewer: every one ``no_data``).
MIN_UNITS = 3
SEED = 20_240_101


def weights_from_geojson(fc: Mapping, contiguity: str = "queen"):  # noqa: ANN201 -- libpysal W
    """Binary contiguity weights between the features of a township FeatureCollection.

    ``contiguity`` is ``"queen"`` (a shared point is enough) or ``"rook"`` (a shared edge).
    Ids are ``properties.region_code`` in feature order.  Islands are joined to the
    nearest other township (by boundary distance) and listed in ``w.attached_islands``.
    """
    from libpysal.weights import Queen, Rook, W

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
    if len(keep) < MIN_UNITS:
        return out
    sub = _subset(w, keep)
    keep = [i for i in keep if sub.cardinalities[i] > 0]  # lost every neighbour to missing values
    if len(keep) < MIN_UNITS:
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


def _subset(w, keep: list[str]):  # noqa: ANN001, ANN202 - a libpysal weights object in and out
    from libpysal.weights import W

    s = set(keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W({i: [j for j in w.neighbors[i] if j in s] for i in keep}, id_order=keep, silence_warnings=True)
