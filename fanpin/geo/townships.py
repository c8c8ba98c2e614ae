"""Where risk concentrates: township figures, village and household points for the map.

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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fanpin.engine.scoring import TIERS, ScoreResult

#: Metrics a township can be coloured by; the change metrics compare with last month.
METRICS: tuple[str, ...] = ("red_share", "red", "mean_score", "red_share_change", "mean_score_change")
#: Each metric's colour scale (``colours.colour_scale``): the smallest span the scale covers (so near-equal
#: townships share a colour) and the finest step its legend prints (the map's number formats: shares to
#: 0.1 %, counts whole, scores to 0.1, changes to 0.01 point).
SCALES: dict[str, tuple[float, float]] = {
    "red_share": (0.05, 0.001), "red": (5.0, 1.0), "mean_score": (5.0, 0.1), "red_share_change": (0.006, 0.0001), "mean_score_change": (0.6, 0.01),
}


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


# --------------------------------------------------------------------------- village and household points
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

    ``coords`` is ``fanpin.store.regions.household_coords``.  Reasons are indicator keys ordered as
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
