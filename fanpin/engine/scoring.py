"""Risk policy -> score, tier and reasons for every household, fast enough for a slider.

Score (0-100) = 100 * sum_j w_j * norm_j, where norm_j is the indicator min-max
normalised between the policy's fixed bounds (clipped) and turned so that 1 is
the risky end.  Because min-max is linear, the score is ``C @ a + b`` with ``C``
the bound-clipped indicator matrix and ``a``, ``b`` folded from the weights and
bounds: a weight change needs one matrix-vector product, an income-line change
re-clips one column.  Tiers: green below the yellow cut-off, red at or above the
red cut-off; warning-line rules (e.g. income below the line) can force a
minimum tier, and a forced tier always says so in the reasons.

Missing values (documented rule): a missing indicator value is scored at the
month's county median for that indicator, so that a gap neither hides nor
invents risk; it is listed in the household's reasons as missing and never hits
a warning line or forces a tier.  A column with no value at all this month (e.g.
the change vs 12 months before in the panel's first year) has no median and is
scored at its safe end, adding nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np
import pandas as pd

from fanpin.core.indicators import BY_KEY, INCOME_KEY, KEYS, indicator_matrix

TIERS: tuple[str, str, str] = ("green", "yellow", "red")
TIER_CODE = {t: i for i, t in enumerate(TIERS)}


class PolicyError(ValueError):
    """A policy that cannot be applied; the message says which field and why."""


@dataclass(frozen=True)
class ForceRule:
    """Hitting ``indicator``'s side of ``threshold`` forces at least ``tier``."""

    indicator: str
    threshold: float
    tier: str


@dataclass(frozen=True)
class RiskPolicy:
    """Everything an analyst can change. Income bounds and thresholds are multiples of the income line."""

    weights: Mapping[str, float]
    income_line: float = 7500.0
    cutoffs: tuple[float, float] = (25.0, 40.0)  # yellow, red
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # overrides of the catalogue bounds
    warning_lines: Mapping[str, float] = field(default_factory=dict)  # overrides of the catalogue lines
    forces: tuple[ForceRule, ...] = (
        ForceRule(INCOME_KEY, 1.0, "red"),
        ForceRule(INCOME_KEY, 1.5, "yellow"),
    )
    name: str = "default"
    #: The year ``income_line`` was set for by an analyst (an adopted or simulated scenario);
    #: None: the stored yearly lines hold (``fanpin.engine.income_line``).  Saved policies from
    #: before this field have none, so they follow the stored lines.
    line_year: int | None = None

    # ---------------------------------------------------------------- checks
    def validate(self) -> None:
        """Raise PolicyError for anything that would give a meaningless score."""
        unknown = sorted(set(self.weights) - set(KEYS))
        if unknown:
            raise PolicyError(f"unknown indicators in weights: {', '.join(unknown)}")
        bad = {k: w for k, w in self.weights.items() if not np.isfinite(w) or w < 0}
        if bad:
            raise PolicyError("weights must be non-negative numbers: " + ", ".join(f"{k}={w}" for k, w in bad.items()))
        if sum(self.weights.values()) <= 0:
            raise PolicyError("at least one weight must be positive")
        if not (np.isfinite(self.income_line) and self.income_line > 0):
            raise PolicyError(f"income line must be a positive number of yuan, got {self.income_line}")
        if self.line_year is not None and not (isinstance(self.line_year, int) and 1900 <= self.line_year <= 2999):
            raise PolicyError(f"the income line's year must be a year such as 2025, got {self.line_year!r}")
        y, r = self.cutoffs
        if not (0 <= y < r <= 100):
            raise PolicyError(f"tier cut-offs must satisfy 0 <= yellow < red <= 100, got yellow={y}, red={r}")
        for k, (lo, hi) in self.bounds.items():
            if k not in BY_KEY:
                raise PolicyError(f"unknown indicator in bounds: {k}")
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise PolicyError(f"bounds of {k} must satisfy low < high, got {lo}, {hi}")
        for k in self.warning_lines:
            if k not in BY_KEY:
                raise PolicyError(f"unknown indicator in warning lines: {k}")
        for rule in self.forces:
            if rule.indicator not in BY_KEY:
                raise PolicyError(f"unknown indicator in a tier rule: {rule.indicator}")
            if rule.tier not in ("yellow", "red"):
                raise PolicyError(f"a tier rule must force yellow or red, got {rule.tier}")

    def normalised(self) -> tuple[RiskPolicy, bool]:
        """The policy with weights summing to 1, and whether they had to be rescaled."""
        self.validate()
        total = float(sum(self.weights.values()))
        if abs(total - 1.0) <= 1e-9:
            return self, False
        return replace(self, weights={k: w / total for k, w in self.weights.items()}), True

    # ---------------------------------------------------------------- per indicator
    def weight_vector(self, keys: Sequence[str] = KEYS) -> np.ndarray:
        return np.array([float(self.weights.get(k, 0.0)) for k in keys])

    def bounds_of(self, key: str) -> tuple[float, float]:
        """Bounds in the matrix's unit (the income indicator's are converted to yuan)."""
        lo, hi = self.bounds.get(key, BY_KEY[key].bounds)
        if key == INCOME_KEY:
            return lo * self.income_line, hi * self.income_line
        return float(lo), float(hi)

    def line_of(self, key: str) -> float | None:
        """Warning line in the matrix's unit, or None."""
        line = self.warning_lines.get(key, BY_KEY[key].warning_line)
        if line is None:
            return None
        return line * self.income_line if key == INCOME_KEY else float(line)

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        year = {} if self.line_year is None else {"line_year": self.line_year}
        return {
            "name": self.name,
            "income_line": self.income_line,
            **year,
            "cutoffs": list(self.cutoffs),
            "weights": dict(self.weights),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "warning_lines": dict(self.warning_lines),
            "forces": [{"indicator": r.indicator, "threshold": r.threshold, "tier": r.tier} for r in self.forces],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, d: Mapping) -> RiskPolicy:
        if not isinstance(d, Mapping):
            raise PolicyError(f"a policy must be a JSON object, got {type(d).__name__}")
        cut = d.get("cutoffs", [0, 0])
        if not isinstance(cut, (list, tuple)) or len(cut) != 2:
            raise PolicyError("cutoffs must be two numbers: yellow and red")
        for field_name in ("weights", "bounds", "warning_lines"):
            if not isinstance(d.get(field_name, {}), Mapping):
                raise PolicyError(f"{field_name} must be an object mapping indicator keys to values")
        if not isinstance(d.get("forces", []), (list, tuple)):
            raise PolicyError("forces must be a list of rules")
        try:
            policy = cls(
                name=str(d.get("name", "policy")),
                income_line=float(d["income_line"]),
                line_year=None if d.get("line_year") is None else int(d["line_year"]),
                cutoffs=tuple(float(x) for x in d["cutoffs"]),  # type: ignore[arg-type]
                weights={str(k): float(v) for k, v in d["weights"].items()},
                bounds={str(k): (float(v[0]), float(v[1])) for k, v in d.get("bounds", {}).items()},
                warning_lines={str(k): float(v) for k, v in d.get("warning_lines", {}).items()},
                forces=tuple(ForceRule(str(r["indicator"]), float(r["threshold"]), str(r["tier"])) for r in d.get("forces", [])),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise PolicyError(f"not a valid policy: {exc!r}") from exc
        policy.validate()
        return policy

    @classmethod
    def from_json(cls, text: str) -> RiskPolicy:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"policy is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def default(cls, income_line: float | None = None) -> RiskPolicy:
        """The policy that ships with the package (``fanpin/default_policy.json``)."""
        text = resources.files("fanpin.engine").joinpath("default_policy.json").read_text(encoding="utf-8")
        p = cls.from_json(text)
        return replace(p, income_line=income_line) if income_line else p


# --------------------------------------------------------------------------- engine
@dataclass(frozen=True)
class Reason:
    key: str
    value: float  # raw value (income in yuan), NaN if missing
    contribution: float  # score points
    warning_hit: bool
    missing: bool


class Scorer:
    """A month's indicator matrix prepared for repeated scoring under changing policies.

    Holds the raw matrix (NaN filled by the month's median, with the missing mask
    kept), the township index, and one reusable buffer per output so that moving
    a slider allocates nothing large.
    """

    def __init__(self, X: np.ndarray, township: np.ndarray, n_townships: int, keys: Sequence[str] = KEYS, *, owned: bool = False) -> None:
        # Missing values are filled in place below, so a caller's matrix is copied
        # unless the caller hands it over (``owned``), as ``from_frame`` does.
        X = np.array(X, dtype=np.float32, order="F", copy=not owned)
        self.keys = tuple(keys)
        self.n, self.m = X.shape
        self.missing: dict[int, np.ndarray] = {}
        self.medians = np.zeros(self.m, dtype=np.float32)
        for j in range(self.m):
            col = X[:, j]
            nan = np.isnan(col)
            if nan.any():
                ind = BY_KEY[self.keys[j]]
                # with no value at all there is no median: put the column beyond its safe
                # end, which clips to the safe bound under any policy (adds nothing)
                med = np.nanmedian(col) if (~nan).any() else (-np.inf if ind.direction > 0 else np.inf)
                self.medians[j] = med
                self.missing[j] = nan
                col[nan] = med
        self.X = X
        self.township = np.asarray(township, dtype=np.intp)
        self.n_townships = int(n_townships)
        self._town3 = self.township * 3
        self._C = np.empty_like(X, order="F")
        self._clip_state = np.full((self.m, 2), np.nan)
        self._score = np.empty(self.n, dtype=np.float32)
        self._tier = np.empty(self.n, dtype=np.int8)
        self._idx = np.empty(self.n, dtype=np.intp)
        self._forced_key: tuple | None = None
        self._forced = np.zeros(self.n, dtype=np.int8)
        self._rules: dict[tuple, np.ndarray] = {}
        self._tmp = np.empty(self.n, dtype=np.float32)
        self._near = np.empty(self.n, dtype=bool)
        self._near2 = np.empty(self.n, dtype=bool)
        self._town_n = np.bincount(self.township, minlength=self.n_townships)
        self._town_colsum = np.zeros((self.n_townships, self.m))
        # Household IDs begin with the village code, so a snapshot ordered by ID is
        # grouped by township; then sums per township are contiguous reductions.
        grouped = self.n > 0 and bool((np.diff(self.township) >= 0).all())
        self._town_starts = np.flatnonzero(np.r_[True, np.diff(self.township) != 0]) if grouped else None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, townships: Sequence[str] | None = None) -> Scorer:
        codes = frame["township_code"].to_numpy()
        names = np.array(sorted(set(codes)) if townships is None else list(townships), dtype=object)
        order = np.argsort(names)
        pos = np.searchsorted(names[order], codes)
        pos = np.minimum(pos, len(names) - 1)
        if len(codes) and (len(names) == 0 or (names[order][pos] != codes).any()):
            missing = sorted(set(codes) - set(names))
            raise ValueError(f"frame has townships outside the given list: {', '.join(map(str, missing[:5]))}")
        idx = order[pos] if len(codes) else np.zeros(0, dtype=np.intp)
        s = cls(indicator_matrix(frame), idx, len(names), owned=True)
        s.township_codes = names
        s.household_ids = frame["household_id"].to_numpy()
        return s

    # ---------------------------------------------------------------- hot path
    def _township_sum(self, values: np.ndarray) -> np.ndarray:
        """Per-township sums; a contiguous reduction when households come grouped by township."""
        if self._town_starts is not None:
            out = np.zeros(self.n_townships)
            present = self._town_n > 0
            out[present] = np.add.reduceat(values, self._town_starts, dtype=np.float64)
            return out
        return np.bincount(self.township, weights=values, minlength=self.n_townships)

    def _clip(self, policy: RiskPolicy) -> np.ndarray:
        """Clip the columns whose bounds changed, and keep their per-township sums.

        Because the score is linear in the clipped matrix, a township's mean score
        is (its column sums of C) @ a / n + b: the sums are kept per column, so the
        means cost a townships x indicators product instead of a pass over households.
        """
        for j, k in enumerate(self.keys):
            lo, hi = policy.bounds_of(k)
            if self._clip_state[j, 0] != lo or self._clip_state[j, 1] != hi:
                np.clip(self.X[:, j], lo, hi, out=self._C[:, j])
                self._clip_state[j] = (lo, hi)
                self._town_colsum[:, j] = self._township_sum(self._C[:, j])
        return self._C

    def folded(self, policy: RiskPolicy) -> tuple[np.ndarray, float]:
        """(a, b) with score = C @ a + b."""
        w = policy.weight_vector(self.keys)
        a = np.empty(self.m)
        b = 0.0
        for j, k in enumerate(self.keys):
            lo, hi = policy.bounds_of(k)
            d = BY_KEY[k].direction
            a[j] = 100.0 * w[j] * d / (hi - lo)
            b += 100.0 * w[j] * (-lo if d > 0 else hi) / (hi - lo)
        return a.astype(np.float32), b

    def _rule_tiers(self, indicator: str, threshold: float, tier: str) -> np.ndarray:
        """int8 array: the rule's tier code where it hits, else 0 (cached per rule)."""
        key = (indicator, threshold, tier)
        cached = self._rules.get(key)
        if cached is None:
            if len(self._rules) > 16:
                self._rules.clear()
            j = self.keys.index(indicator)
            hit = BY_KEY[indicator].hits(self.X[:, j], threshold)
            if j in self.missing:
                hit &= ~self.missing[j]
            cached = hit.view(np.int8) * np.int8(TIER_CODE[tier])
            self._rules[key] = cached
        return cached

    def _forced_min(self, policy: RiskPolicy) -> np.ndarray:
        rules = tuple(
            (r.indicator, r.threshold * policy.income_line if r.indicator == INCOME_KEY else r.threshold, r.tier) for r in policy.forces
        )
        if rules == self._forced_key:
            return self._forced
        self._forced[:] = 0
        for rule in rules:  # only rules whose effective threshold changed are recomputed
            np.maximum(self._forced, self._rule_tiers(*rule), out=self._forced)
        self._forced_key = rules
        return self._forced

    def run(self, policy: RiskPolicy, *, normalise: bool = True) -> ScoreResult:
        """Score, tier and per-township figures for every household (buffers reused)."""
        if normalise:
            policy, _ = policy.normalised()
        C = self._clip(policy)
        a, b = self.folded(policy)
        score = self._score
        np.dot(C, a, out=score)
        score += np.float32(b)
        y, r = policy.cutoffs
        tier = self._tier
        np.greater_equal(score, y, out=tier, casting="unsafe")
        tier += score >= r
        self._repair_borderline(policy, tier)
        forced = self._forced_min(policy)
        np.maximum(tier, forced, out=tier)
        np.add(self._town3, tier, out=self._idx)
        counts = np.bincount(self._idx, minlength=3 * self.n_townships).reshape(self.n_townships, 3)
        sums = self._town_colsum @ a.astype(np.float64) + self._town_n * b
        mean = np.divide(sums, self._town_n, out=np.full(self.n_townships, np.nan), where=self._town_n > 0)
        return ScoreResult(self, policy, score, tier, forced, counts, mean)

    def _repair_borderline(self, policy: RiskPolicy, tier: np.ndarray) -> None:
        """Where float32 cannot tell which side of a cut-off a score is, decide in float64.

        The float32 product is within about 1e-4 points of the float64 score, so
        only scores within 1e-3 of a cut-off are recomputed (usually none).
        """
        score, tmp, near, near2 = self._score, self._tmp, self._near, self._near2
        np.subtract(score, np.float32(policy.cutoffs[0]), out=tmp)
        np.abs(tmp, out=tmp)
        np.less(tmp, np.float32(1e-3), out=near)
        np.subtract(score, np.float32(policy.cutoffs[1]), out=tmp)
        np.abs(tmp, out=tmp)
        np.less(tmp, np.float32(1e-3), out=near2)
        near |= near2
        if not near.any():
            return
        near = np.flatnonzero(near)
        if len(near):
            exact = self.score64(policy, near)
            tier[near] = (exact >= policy.cutoffs[0]).astype(np.int8) + (exact >= policy.cutoffs[1])

    # ---------------------------------------------------------------- explanations
    def norm64(self, policy: RiskPolicy, rows: np.ndarray | slice) -> np.ndarray:
        """Normalised indicator values (1 = risky end) in float64 for some rows."""
        X = self.X[rows].astype(np.float64)
        out = np.empty_like(X)
        for j, k in enumerate(self.keys):
            lo, hi = policy.bounds_of(k)
            c = np.clip(X[:, j], lo, hi)
            out[:, j] = (c - lo) / (hi - lo) if BY_KEY[k].direction > 0 else (hi - c) / (hi - lo)
        return out

    def contributions(self, policy: RiskPolicy, rows: np.ndarray | slice) -> np.ndarray:
        """Score points each indicator adds, rows x indicators; each row sums to the score."""
        w = policy.weight_vector(self.keys)
        return 100.0 * self.norm64(policy, rows) * w

    def score64(self, policy: RiskPolicy, rows: np.ndarray | slice) -> np.ndarray:
        """The plain float64 score: 100 * sum_j (w_j * norm_j), summed in catalogue order."""
        norm = self.norm64(policy, rows)
        w = policy.weight_vector(self.keys)
        total = np.zeros(norm.shape[0])
        for j in range(self.m):
            total += w[j] * norm[:, j]
        return 100.0 * total

    def warnings_hit(self, policy: RiskPolicy, rows: np.ndarray | slice) -> np.ndarray:
        X = self.X[rows].astype(np.float64)
        out = np.zeros(X.shape, dtype=bool)
        for j, k in enumerate(self.keys):
            out[:, j] = BY_KEY[k].hits(X[:, j], policy.line_of(k))
            if j in self.missing:
                out[:, j] &= ~self.missing[j][rows]
        return out

    def missing_mask(self, rows: np.ndarray | slice) -> np.ndarray:
        out = np.zeros((len(np.arange(self.n)[rows]), self.m), dtype=bool)
        for j, mask in self.missing.items():
            out[:, j] = mask[rows]
        return out

    def raw_values(self, rows: np.ndarray | slice) -> np.ndarray:
        X = self.X[rows].astype(np.float64)
        for j, mask in self.missing.items():
            X[mask[rows], j] = np.nan
        return X


@dataclass
class ScoreResult:
    """Per-household score and tier, per-township counts; views into the scorer's buffers.

    ``score`` and ``tier`` are overwritten by the scorer's next run: copy them
    (``.copy()``) to keep a baseline.
    """

    scorer: Scorer
    policy: RiskPolicy
    score: np.ndarray
    tier: np.ndarray
    forced: np.ndarray
    township_counts: np.ndarray  # townships x (green, yellow, red)
    township_mean: np.ndarray

    def tier_counts(self) -> dict[str, int]:
        c = self.township_counts.sum(axis=0)
        return {t: int(c[i]) for i, t in enumerate(TIERS)}

    def copy(self) -> ScoreResult:
        return replace(self, score=self.score.copy(), tier=self.tier.copy(), forced=self.forced.copy())

    def reasons(self, row: int, top: int | None = None) -> list[Reason]:
        """Why a household has its tier: indicators ordered by contribution, warning lines and gaps flagged."""
        rows = np.array([row])
        contrib = self.scorer.contributions(self.policy, rows)[0]
        hits = self.scorer.warnings_hit(self.policy, rows)[0]
        miss = self.scorer.missing_mask(rows)[0]
        raw = self.scorer.raw_values(rows)[0]
        order = np.lexsort((-contrib, ~hits))
        out = [Reason(self.scorer.keys[j], float(raw[j]), float(contrib[j]), bool(hits[j]), bool(miss[j])) for j in order]
        out = [r for r in out if r.contribution > 0 or r.warning_hit or r.missing]
        return out[:top] if top else out


def score(frame: pd.DataFrame, policy: RiskPolicy, top: int = 3) -> pd.DataFrame:
    """Every household's score, tier, forced flag, warning lines hit, contributions and top reasons.

    The convenience form for the CLI and exports; the dashboard keeps a ``Scorer``.
    """
    policy, _ = policy.normalised()
    scorer = Scorer.from_frame(frame)
    res = scorer.run(policy)
    rows = np.arange(scorer.n)
    contrib = scorer.contributions(policy, rows)
    hits = scorer.warnings_hit(policy, rows)
    out = pd.DataFrame(
        {
            "household_id": frame["household_id"].to_numpy(),
            "township_code": frame["township_code"].to_numpy(),
            "village_code": frame["village_code"].to_numpy(),
            "score": np.round(res.score.astype(np.float64), 2),
            "tier": np.array(TIERS, dtype=object)[res.tier],
            "forced": res.forced > 0,
        }
    )
    keys = np.array(scorer.keys, dtype=object)
    out["warnings"] = [",".join(keys[h]) for h in hits]
    order = np.argsort(-contrib, axis=1)[:, :top]
    for i in range(top):
        out[f"reason_{i + 1}"] = keys[order[:, i]]
    for j, k in enumerate(scorer.keys):
        out[f"c_{k}"] = np.round(contrib[:, j], 3)
    cat, types = suggest_category(frame, res, hits)
    out["category"] = cat
    out["risk_types"] = types
    return out


RISK_ORDER = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")


def suggest_category(frame: pd.DataFrame, res: ScoreResult, hits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Suggested monitoring category and risk types for households at yellow or red.

    Rules (national mechanism): a former-poor household at risk is
    ``unstable_former_poor``; otherwise large rigid spending (medical, disaster
    and schooling costs together at least half the net income) or a sharp income
    fall (30% or more) makes it ``sudden_hardship``; otherwise income under 1.5x
    the line makes it ``marginal``.  Green households get no category.  Risk
    types come from the warning lines hit.  A suggestion only: a person decides.
    """
    policy = res.policy
    n = res.scorer.n
    if hits is None:
        hits = res.scorer.warnings_hit(policy, np.arange(n))
    at_risk = res.tier >= 1
    former = frame["household_type"].to_numpy() == "former_poor"
    net = frame["income_net"].to_numpy(dtype=np.float64)
    rigid = frame["medical_oop"].to_numpy(dtype=np.float64) + frame["disaster_loss"].to_numpy(dtype=np.float64) + frame["schooling_cost"].to_numpy(dtype=np.float64)
    change = res.scorer.raw_values(slice(None))[:, res.scorer.keys.index("income_change")]
    with np.errstate(invalid="ignore"):
        sudden = ((rigid > 0) & (rigid >= 0.5 * np.maximum(net, 0))) | (change <= -0.3)
    low = frame["income_pc"].to_numpy(dtype=np.float64) < 1.5 * policy.income_line
    cat = np.full(n, None, dtype=object)
    cat[at_risk & low] = "marginal"
    cat[at_risk & sudden] = "sudden_hardship"
    cat[at_risk & former] = "unstable_former_poor"
    types_of = np.array([BY_KEY[k].risk_type for k in res.scorer.keys], dtype=object)
    rank = {t: i for i, t in enumerate(RISK_ORDER)}
    types = np.full(n, "", dtype=object)
    for i in np.flatnonzero(at_risk):
        ts = sorted(set(types_of[hits[i]]), key=rank.__getitem__) or ["other"]
        if len(ts) > 1 and "other" in ts:
            ts.remove("other")
        types[i] = ",".join(ts)
    return cat, types
