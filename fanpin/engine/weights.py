"""Indicator weights: subjective (AHP), objective (entropy, CV, CRITIC) and their combination.

Pure numpy functions, arrays in and arrays out; every function returns weights that are
non-negative and sum to 1, or raises :class:`WeightError` (a ``ValueError``) with a message an
analyst can act on.

Conventions for the objective methods (``X`` is households x indicators, float, NaN = missing):

* ``directions[j]`` is +1 when a higher value means more risk and -1 when a higher value means
  less risk. It only matters where a method standardises (entropy, CRITIC); CV ignores it.
* Missing values are ignored column by column: each column's statistics use that column's
  non-missing values only (its own ``n_j``). CRITIC correlations use pairwise-complete rows.
* A column that is constant, or has fewer than 2 non-missing values, carries no information and
  gets weight 0 (CV also gives 0 when the column mean is 0: the ratio is undefined). Such columns
  are left out of everything else, so adding one never changes the other columns' weights.
* If *no* column carries information the functions raise :class:`NoInformationError` instead of
  silently returning equal weights: the analyst must see that the data cannot set the weights.
  ``np.full(m, 1 / m)`` is the explicit fallback if a caller wants one.
* Rows are processed vectorised (no Python loop over households); the loops are over columns or
  over blocks of rows. 1,000,000 x 20 takes about 0.1 s per method on a column-major (Fortran
  order) matrix, 0.2-0.5 s on a row-major one (strided column access), without copying ``X``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "WeightError",
    "NoInformationError",
    "AHPResult",
    "RANDOM_INDEX",
    "saaty_scale",
    "ahp",
    "upper_to_matrix",
    "ahp_from_upper",
    "hierarchical",
    "entropy",
    "cv",
    "critic",
    "combine",
    "combine_multiplicative",
    "normalise",
]


class WeightError(ValueError):
    """Invalid input for a weighting method; the message names the offending value."""


class NoInformationError(WeightError):
    """No indicator column carries information (all constant or almost all missing)."""


# ---------------------------------------------------------------------------------------------
# normalisation


def normalise(weights: Sequence[float] | np.ndarray) -> tuple[np.ndarray, bool]:
    """Scale non-negative weights to sum 1: ``w / sum(w)``.

    Returns the scaled copy and whether scaling was needed (``abs(sum - 1) > 1e-9``), so a UI can
    tell the analyst "your weights summed to 0.9 and were rescaled". Rejects an empty or non-1-D
    input, NaN or infinite entries, negative entries and an all-zero vector.
    """
    return _normalise(weights, "weights")


def _normalise(weights: Sequence[float] | np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    try:
        w = np.array(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"{name} must be numbers: {exc}") from None
    if w.ndim != 1 or w.size == 0:
        raise WeightError(f"{name} must be a non-empty 1-D sequence, got shape {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        raise WeightError(f"{name}[{bad[0]}]={w[bad[0]]:g} is not a finite number")
    neg = np.flatnonzero(w < 0)
    if neg.size:
        raise WeightError(f"{name}[{neg[0]}]={w[neg[0]]:g} is negative; weights must be >= 0")
    total = float(w.sum())
    if total <= 0:
        raise WeightError(f"{name} are all zero; at least one weight must be positive")
    return w / total, abs(total - 1.0) > 1e-9


# ---------------------------------------------------------------------------------------------
# AHP

#: Saaty's random index RI(n) for n = 1..11 (RI(1) = RI(2) = 0: such matrices are always
#: consistent). For n > 11 :func:`ahp` uses 1.51, the n = 11 value; published tables keep rising
#: slowly beyond 11 (Tummala & Ling 1998: 1.5356 at 12, 1.5831 at 15), so using 1.51 slightly
#: overstates CR there, i.e. errs towards asking the analyst to revise.
RANDOM_INDEX: dict[int, float] = {
    1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49, 11: 1.51,
}
_RI_BEYOND_11 = 1.51

#: The Saaty 1-9 scale with reciprocals, ascending: 1/9, 1/8, ..., 1/2, 1, 2, ..., 9.
#: 1 = equal importance, 3 = moderate, 5 = strong, 7 = very strong, 9 = extreme; 2, 4, 6, 8 in between.
saaty_scale: tuple[float, ...] = tuple(1.0 / k for k in range(9, 1, -1)) + tuple(float(k) for k in range(1, 10))


@dataclass(frozen=True)
class AHPResult:
    """Outcome of :func:`ahp`: weights (sum 1), principal eigenvalue, CI, CR and CR < 0.1."""

    weights: np.ndarray
    lambda_max: float
    ci: float
    cr: float
    acceptable: bool


def _fmt_recip(x: float) -> str:
    return f"1/{x:g}" if x >= 1 else f"{1 / x:g}"


def _validate_pairwise(matrix: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    try:
        a = np.array(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"pairwise matrix must be numbers: {exc}") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise WeightError(f"pairwise matrix must be square (n x n, n >= 1), got shape {a.shape}")
    bad = np.argwhere(~np.isfinite(a) | (a <= 0))
    if bad.size:
        i, j = bad[0]
        raise WeightError(f"matrix[{i},{j}]={a[i, j]:g} must be a positive finite number")
    diag = np.flatnonzero(~np.isclose(np.diag(a), 1.0, rtol=1e-6, atol=0))
    if diag.size:
        i = diag[0]
        raise WeightError(f"matrix[{i},{i}]={a[i, i]:g} but a diagonal entry must be 1 "
                          "(a criterion compared with itself)")
    nonrec = np.argwhere(np.triu(~np.isclose(a.T, 1.0 / a, rtol=1e-6, atol=0), k=1))
    if nonrec.size:
        i, j = nonrec[0]
        raise WeightError(f"matrix[{i},{j}]={a[i, j]:g} but matrix[{j},{i}]={a[j, i]:g}, "
                          f"expected {_fmt_recip(a[i, j])}")
    return a


def ahp(matrix: Sequence[Sequence[float]] | np.ndarray) -> AHPResult:
    """Weights from a reciprocal pairwise comparison matrix (Saaty's eigenvector method).

    ``a_ij`` says how much more important criterion i is than j (``a_ji = 1/a_ij``, ``a_ii = 1``).
    The weights are the principal right eigenvector ``A w = lambda_max w`` scaled to sum 1: for a
    perfectly consistent matrix (``a_ij = w_i / w_j``) it recovers ``w`` exactly and
    ``lambda_max = n``; inconsistency pushes ``lambda_max`` above ``n``. Hence
    ``CI = (lambda_max - n) / (n - 1)`` and ``CR = CI / RI(n)`` (RI = mean CI of random
    matrices, see :data:`RANDOM_INDEX`); ``acceptable`` is ``CR < 0.1``. For n = 1 or 2 a
    reciprocal matrix is always consistent: CI = CR = 0.
    """
    a = _validate_pairwise(matrix)
    n = a.shape[0]
    if n == 1:
        return AHPResult(np.array([1.0]), 1.0, 0.0, 0.0, True)
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v = np.abs(vecs[:, k].real)  # the Perron vector has one sign; abs() removes eig's arbitrary sign
    w = v / v.sum()
    if n == 2:
        return AHPResult(w, float(n), 0.0, 0.0, True)
    ci = max(0.0, (lam - n) / (n - 1))  # lambda_max >= n in exact arithmetic; clip rounding noise
    ri = RANDOM_INDEX.get(n, _RI_BEYOND_11)
    cr = ci / ri
    return AHPResult(w, lam, ci, cr, cr < 0.1)


def upper_to_matrix(values: Sequence[float], n: int) -> np.ndarray:
    """Full reciprocal matrix from the n(n-1)/2 upper-triangle judgements, row by row.

    ``values`` is ``a_01, a_02, ..., a_0(n-1), a_12, ...``: the questions the UI asks the analyst
    ("how much more important is i than j?"); the lower triangle is filled with ``1/a_ij``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise WeightError(f"n must be a positive integer, got {n!r}")
    try:
        v = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"judgements must be numbers: {exc}") from None
    need = n * (n - 1) // 2
    if v.ndim != 1 or v.size != need:
        raise WeightError(f"expected {need} upper-triangle judgements for n={n}, got {v.size}")
    iu, ju = np.triu_indices(n, k=1)
    bad = np.flatnonzero(~np.isfinite(v) | (v <= 0))
    if bad.size:
        b = bad[0]
        raise WeightError(f"judgement {b} (matrix[{iu[b]},{ju[b]}])={v[b]:g} must be a positive finite number")
    a = np.ones((n, n))
    a[iu, ju] = v
    a[ju, iu] = 1.0 / v
    return a


def ahp_from_upper(values: Sequence[float], n: int) -> AHPResult:
    """:func:`ahp` of :func:`upper_to_matrix` ``(values, n)``."""
    return ahp(upper_to_matrix(values, n))


def hierarchical(dimension_weights: Mapping[str, float],
                 within: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Global indicator weights of a two-level hierarchy: ``W_dim * w_local``.

    Dimension weights and each dimension's local weights are normalised to sum 1 first, so the
    global weights sum to 1. Every dimension must appear in both mappings, and an indicator may
    belong to one dimension only. The result keeps the order of ``within``.
    """
    dims = list(dimension_weights)
    unknown = [d for d in within if d not in dimension_weights]
    if unknown:
        raise WeightError(f"unknown dimension {unknown[0]!r} in local weights; known: {dims}")
    missing = [d for d in dims if d not in within]
    if missing:
        raise WeightError(f"dimension {missing[0]!r} has a weight but no indicators")
    dw, _ = _normalise([dimension_weights[d] for d in dims], "dimension weights")
    dim_w = dict(zip(dims, dw))
    out: dict[str, float] = {}
    for d, local in within.items():
        if not local:
            raise WeightError(f"dimension {d!r} has no indicators")
        lw, _ = _normalise(list(local.values()), f"local weights of {d!r}")
        for ind, w in zip(local, lw):
            if ind in out:
                raise WeightError(f"indicator {ind!r} appears in more than one dimension")
            out[ind] = float(dim_w[d] * w)
    return out


# ---------------------------------------------------------------------------------------------
# objective weights: shared input handling

_BLOCK_ROWS = 1 << 15  # rows per block in CRITIC's correlation pass (~5 MB at 20 columns)


def _as_data(X: np.ndarray, directions: Sequence[float] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"data matrix must be numbers: {exc}") from None
    if x.ndim != 2 or x.shape[1] == 0:
        raise WeightError(f"data matrix must be 2-D (households x indicators), got shape {x.shape}")
    m = x.shape[1]
    if directions is None:
        return x, np.ones(m)
    try:
        d = np.asarray(directions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"directions must be +1 or -1: {exc}") from None
    if d.shape != (m,):
        raise WeightError(f"directions has shape {d.shape}, expected ({m},) for {m} indicators")
    bad = np.flatnonzero((d != 1) & (d != -1))
    if bad.size:
        raise WeightError(f"directions[{bad[0]}]={d[bad[0]]:g}; must be +1 (higher = riskier) "
                          "or -1 (higher = safer)")
    return x, d


@dataclass
class _Col:
    values: np.ndarray  # non-missing values of the column (a view when nothing is missing)
    lo: float
    hi: float
    has_nan: bool


def _column(x: np.ndarray, j: int) -> _Col:
    col = x[:, j]
    if col.size == 0:
        return _Col(col, math.nan, math.nan, False)
    lo, hi = float(col.min()), float(col.max())
    has_nan = math.isnan(lo)  # min propagates NaN: a free missing-value test
    if has_nan:
        col = col[~np.isnan(col)]
        lo, hi = (float(col.min()), float(col.max())) if col.size else (math.nan, math.nan)
    if math.isinf(lo) or math.isinf(hi):
        raise WeightError(f"column {j} contains an infinite value; use NaN for missing values")
    return _Col(col, lo, hi, has_nan)


def _informative(c: _Col) -> bool:
    return c.values.size >= 2 and c.hi > c.lo


def _no_information(reasons: list[str]) -> NoInformationError:
    return NoInformationError("no indicator column carries information (" + "; ".join(reasons) +
                              "); the data cannot set the weights - use subjective or equal weights")


def _why_not(j: int, c: _Col) -> str:
    k = c.values.size
    return f"column {j}: {k} non-missing value{'s' * (k != 1)}" if k < 2 else f"column {j}: constant"


def _finish(raw: np.ndarray) -> np.ndarray:
    return raw / raw.sum()


# ---------------------------------------------------------------------------------------------
# entropy


def entropy(X: np.ndarray, directions: Sequence[float] | np.ndarray) -> np.ndarray:
    """Entropy weights: indicators whose values are spread unevenly get more weight.

    Per column j (non-missing values only, ``n_j`` of them): min-max standardise by direction,
    ``x' = (x - min)/(max - min)`` for +1, ``(max - x)/(max - min)`` for -1; ``p_i = x'_i / sum x'``;
    ``e_j = -sum p_i ln p_i / ln n_j`` with ``0 ln 0 = 0``; ``d_j = 1 - e_j``; ``w_j = d_j / sum d``.
    ``e_j`` is 1 when every household has the same share (no discrimination) and falls as the
    mass concentrates. Invariant to positive scaling and shifting of a column.
    Constant columns and columns with < 2 values get 0; if all do, raises NoInformationError.
    """
    x, d = _as_data(X, directions)
    m = x.shape[1]
    div = np.zeros(m)
    reasons: list[str] = []
    for j in range(m):
        c = _column(x, j)
        if not _informative(c):
            reasons.append(_why_not(j, c))
            continue
        rng = c.hi - c.lo
        z = (c.values - c.lo) / rng if d[j] > 0 else (c.hi - c.values) / rng
        s = float(z.sum())
        logz = np.log(z, out=np.zeros_like(z), where=z > 0)
        # sum p ln p = sum (z/s)(ln z - ln s) = (sum z ln z)/s - ln s
        h = math.log(s) - float(np.dot(z, logz)) / s
        e = h / math.log(c.values.size)
        # the column minimum always has p = 0, so e_j <= ln(n_j - 1)/ln(n_j) < 1: d_j > 0
        div[j] = 1.0 - e
    if not div.any():
        raise _no_information(reasons)
    return _finish(div)


# ---------------------------------------------------------------------------------------------
# coefficient of variation


def cv(X: np.ndarray) -> np.ndarray:
    """Coefficient-of-variation weights: ``w_j ∝ std_j / |mean_j|``.

    Relative dispersion, so indicators in yuan and in persons are comparable without
    standardisation. ``std`` is the population standard deviation (ddof=0) of the non-missing
    values: we describe this month's households, not a sample of a larger population (the choice
    only rescales all columns alike when nothing is missing). CV is meaningful for ratio-scale,
    non-negative data; a column whose mean is 0 (|mean| <= 1e-12 * max|x|) gets weight 0 because
    the ratio is undefined, as do constant columns and columns with < 2 values. If all columns get
    0, raises NoInformationError.
    """
    x, _ = _as_data(X, None)
    m = x.shape[1]
    raw = np.zeros(m)
    reasons: list[str] = []
    for j in range(m):
        c = _column(x, j)
        if not _informative(c):
            reasons.append(_why_not(j, c))
            continue
        mean = float(c.values.mean())
        if abs(mean) <= 1e-12 * max(abs(c.lo), abs(c.hi)):
            reasons.append(f"column {j}: mean 0")
            continue
        raw[j] = float(c.values.std()) / abs(mean)
    if not raw.any():
        raise _no_information(reasons)
    return _finish(raw)


# ---------------------------------------------------------------------------------------------
# CRITIC


def critic(X: np.ndarray, directions: Sequence[float] | np.ndarray) -> np.ndarray:
    """CRITIC weights (Diakoulaki et al. 1995): contrast times conflict.

    Min-max standardise each column by direction (as in :func:`entropy`), then
    ``C_j = std_j * sum_k (1 - r_jk)`` and ``w_j = C_j / sum C``: an indicator gets weight for its
    spread (``std_j``, population, of its non-missing standardised values) and for saying something
    the others do not (low or negative Pearson correlation ``r_jk``, computed on the rows where both
    j and k are present). Direction matters: flipping a column flips the sign of its correlations.

    Rules: constant columns and columns with < 2 values get 0 and are left out of every ``r_jk``
    sum (so they neither add nor remove conflict); a pair with < 2 complete rows, or with a column
    (numerically) constant on those rows (variance of standardised values <= 1e-14), has no
    measurable correlation and counts as ``r = 0``. If all ``C_j`` are 0
    (a single informative column, or all informative columns perfectly correlated), the informative
    columns share the weight equally. No informative column: NoInformationError.
    """
    x, d = _as_data(X, directions)
    m = x.shape[1]
    cols: list[int] = []
    shift, scale, std = [], [], []
    any_nan = False
    reasons: list[str] = []
    for j in range(m):
        c = _column(x, j)
        if not _informative(c):
            reasons.append(_why_not(j, c))
            continue
        rng = c.hi - c.lo
        mean = float(c.values.mean())
        cols.append(j)
        shift.append(mean)
        scale.append(d[j] / rng)  # z = (x - mean) * dir / range: standardised and centred
        std.append(float(c.values.std()) / rng)
        any_nan |= c.has_nan
    if not cols:
        raise _no_information(reasons)
    k = len(cols)
    out = np.zeros(m)
    if k == 1:
        out[cols[0]] = 1.0
        return out
    r = _pairwise_corr(x, np.array(cols), np.array(shift), np.array(scale), any_nan)
    conflict = np.clip(1.0 - r, 0.0, 2.0).sum(axis=1)
    c_j = np.array(std) * conflict
    if c_j.sum() <= 0:
        out[cols] = 1.0 / k
        return out
    out[cols] = c_j
    return _finish(out)


def _pairwise_corr(x: np.ndarray, cols: np.ndarray, shift: np.ndarray, scale: np.ndarray,
                   any_nan: bool) -> np.ndarray:
    """Pearson correlations of the standardised columns over pairwise-complete rows.

    One pass over blocks of rows accumulating cross-products with matrix products (no loop over
    rows or pairs). With masks M (1 = present) and centred values Z (0 where missing), for pair
    (j, k): n = M_j.M_k, sums Z_j.M_k and M_j.Z_k, squares Z_j^2.M_k, cross-product Z_j.Z_k.
    Centring by each column's mean first keeps the one-pass variance formula accurate.
    """
    n, k = x.shape[0], cols.size
    N = np.zeros((k, k))
    S = np.zeros((k, k))
    Q = np.zeros((k, k))
    P = np.zeros((k, k))
    # Reused column-major buffers: BLAS is fastest on them, and no fresh 100 MB allocations.
    rows = min(n, _BLOCK_ROWS)
    zbuf = np.empty((rows, k), order="F")
    if any_nan:
        mbuf = np.empty((rows, k), order="F")
        qbuf = np.empty((rows, k), order="F")
    for a in range(0, n, rows):
        b = min(n, a + rows)
        z = zbuf[: b - a]
        for t, j in enumerate(cols):
            zt = z[:, t]
            np.subtract(x[a:b, j], shift[t], out=zt)
            zt *= scale[t]
        if any_nan:
            mf = mbuf[: b - a]
            np.isnan(z, out=mf)  # 1.0 where missing
            np.subtract(1.0, mf, out=mf)  # 1.0 where present
            np.nan_to_num(z, copy=False, nan=0.0)
            zz = np.multiply(z, z, out=qbuf[: b - a])
            N += mf.T @ mf
            S += z.T @ mf
            Q += zz.T @ mf
        else:
            S += z.sum(axis=0)[:, None]
            Q += np.einsum("ij,ij->j", z, z)[:, None]
        P += z.T @ z
    if not any_nan:
        N[:] = n
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = S / N
        my = mx.T
        cov = P / N - mx * my
        vx = Q / N - mx * mx
        vy = vx.T
        r = cov / np.sqrt(vx * vy)
    undefined = (N < 2) | (vx <= 1e-14) | (vy <= 1e-14) | ~np.isfinite(r)
    r[undefined] = 0.0
    np.fill_diagonal(r, 1.0)
    return np.clip(r, -1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# combination


def _pair(subjective: Sequence[float] | np.ndarray,
          objective: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s_shape, o_shape = np.shape(subjective), np.shape(objective)
    if s_shape != o_shape:
        raise WeightError(f"subjective weights have shape {s_shape} but objective weights {o_shape}")
    s, _ = _normalise(subjective, "subjective")
    o, _ = _normalise(objective, "objective")
    return s, o


def combine(subjective: Sequence[float] | np.ndarray, objective: Sequence[float] | np.ndarray,
            alpha: float) -> np.ndarray:
    """Linear combination ``w = alpha * s + (1 - alpha) * o`` of normalised weights.

    ``alpha`` (in [0, 1]) is the share the analyst's judgement gets; 1 = pure AHP, 0 = pure data.
    Both inputs are normalised first, so the result sums to 1.
    """
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise WeightError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= a <= 1.0:  # also rejects NaN
        raise WeightError(f"alpha must be in [0, 1], got {alpha!r}")
    s, o = _pair(subjective, objective)
    if a == 1.0:
        return s
    if a == 0.0:
        return o
    return a * s + (1.0 - a) * o


def combine_multiplicative(subjective: Sequence[float] | np.ndarray,
                           objective: Sequence[float] | np.ndarray) -> np.ndarray:
    """Multiplicative combination ``w_j = s_j o_j / sum_k s_k o_k``.

    Needs no mixing parameter and favours indicators both sources rate highly; an indicator that
    either source weights 0 stays at 0. Raises WeightError if every product is 0.
    """
    s, o = _pair(subjective, objective)
    p = s * o
    total = float(p.sum())
    if total <= 0:
        raise WeightError("no indicator has both a positive subjective and a positive objective weight")
    return p / total
