"""One household in full (农户画像): finding it, its detail, why it has its tier, its 幸福清单.

This is the store layer for household detail: every query here is SQLAlchemy
Core on the tables in ``fanpin.store.schema`` with bound parameters, so search
text is always data, never SQL.  Personal data (names, ID numbers, phones) leave
this module masked unless the caller asks for them explicitly, and every look at
a household's detail is written to ``audit_log`` by ``log_view``: a cadre's
curiosity about a neighbour leaves a trace, as the bureaus' data rules require.
Given a ``principal``, the search keeps a case worker's townships only and
``household_detail`` / ``unmask`` refuse (``AccessDenied``) a household outside
them or a role that may not.

The figures on the page are the scorer's own (``Scorer.contributions``,
``warnings_hit``), so the reasons shown always add up to the score shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from fanpin.access.audit import record
from fanpin.access.masking import mask_id_number, mask_name, mask_phone
from fanpin.access.roles import ROLE_ACTIONS, Principal, can, require_household
from fanpin.core import fmt
from fanpin.core.i18n import translate
from fanpin.core.indicators import BY_KEY, INCOME_KEY
from fanpin.engine.scoring import (
    TIER_CODE,
    TIERS,
    ForceRule,
    RiskPolicy,
    Scorer,
    ScoreResult,
)
from fanpin.engine.trends import PanelScores
from fanpin.store.schema import (
    assistance,
    audit_log,
    clues,
    events,
    households,
    members,
    monitoring,
    order_clues,
    orders,
)

#: Roles that may see one household's personal data in full (each time is logged).
UNMASK_ROLES: frozenset[str] = frozenset(r for r, acts in ROLE_ACTIONS.items() if "unmask" in acts)

#: Longest household ID the schema stores; longer search text cannot match anything.
_ID_LENGTH = households.c.household_id.type.length or 20

SEARCH_COLUMNS: tuple[str, ...] = ("household_id", "village_code", "township_code", "household_type", "size")


def can_unmask(role: str | Principal) -> bool:
    return can(role, "unmask")


# --------------------------------------------------------------------------- finding
def find_households(
    engine: Engine,
    query: str | None,
    township: str | None = None,
    village: str | None = None,
    limit: int = 50,
    principal: Principal | None = None,
) -> pd.DataFrame:
    """Households whose ID starts with ``query`` (exact IDs first), within a township or village.

    The text is bound as a parameter and its LIKE wildcards escaped, so
    ``"' OR 1=1 --"`` or ``"%"`` find nothing rather than everything.  With no
    text and no area, nothing is returned: listing a whole county is not a search.
    """
    q = (query or "").strip()
    if not q and not township and not village:
        return _frame([], SEARCH_COLUMNS)
    if len(q) > _ID_LENGTH:
        return _frame([], SEARCH_COLUMNS)
    h = households.c
    stmt = select(*(h[c] for c in SEARCH_COLUMNS))
    if q:
        stmt = stmt.where(h.household_id.startswith(q, autoescape=True))
    if township:
        stmt = stmt.where(h.township_code == str(township))
    if village:
        stmt = stmt.where(h.village_code == str(village))
    if principal is not None and principal.townships is not None:
        stmt = stmt.where(h.township_code.in_(sorted(principal.townships)))
    stmt = stmt.order_by(h.household_id).limit(max(int(limit), 0))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, SEARCH_COLUMNS)


def _frame(rows: Sequence, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


# --------------------------------------------------------------------------- detail
@dataclass
class HouseholdDetail:
    """Everything the database holds about one household (personal columns not yet masked)."""

    household: dict
    members: pd.DataFrame
    events: pd.DataFrame  # own events and area events of its village or township; ``scope`` says which
    clues: pd.DataFrame
    orders: pd.DataFrame  # with ``clue_ids``: the clues each order verifies
    monitoring: pd.DataFrame  # append-only status history, oldest first
    assistance: pd.DataFrame

    @property
    def household_id(self) -> str:
        return str(self.household["household_id"])

    def monitoring_status(self) -> dict | None:
        """The latest monitoring record (status, category, risk types, method), or None if never monitored."""
        if self.monitoring.empty:
            return None
        return self.monitoring.iloc[-1].to_dict()


def _select_frame(conn: Connection, table, where, order) -> pd.DataFrame:  # noqa: ANN001 - SQLAlchemy objects
    rows = conn.execute(select(table).where(where).order_by(*order)).all()
    return _frame(rows, [c.name for c in table.columns])


def household_detail(engine: Engine, household_id: str, principal: Principal | None = None) -> HouseholdDetail | None:
    """The household row and its members, events, clues, orders, monitoring history and assistance.

    With a principal: ``AccessDenied`` unless the role may view households and, for a
    case worker, the household is in their townships (an unknown ID is refused alike)."""
    hid = str(household_id)
    if principal is not None:
        require_household(principal, engine, hid, "household_view")
    with engine.connect() as conn:
        row = conn.execute(select(households).where(households.c.household_id == hid)).first()
        if row is None:
            return None
        hh = dict(row._mapping)
        mem = _select_frame(conn, members, members.c.household_id == hid, [members.c.member_id])
        ev = _select_frame(
            conn,
            events,
            or_(
                events.c.household_id == hid,
                and_(events.c.household_id.is_(None), events.c.region_code.in_([hh["village_code"], hh["township_code"]])),
            ),
            [events.c.period, events.c.event_id],
        )
        ev["scope"] = np.where(ev["household_id"].isna(), "area", "household") if len(ev) else pd.Series(dtype=object)
        cl = _select_frame(conn, clues, clues.c.household_id == hid, [clues.c.period, clues.c.clue_id])
        od = _select_frame(conn, orders, orders.c.household_id == hid, [orders.c.created_at, orders.c.order_id])
        links = conn.execute(
            select(order_clues.c.order_id, order_clues.c.clue_id)
            .join(orders, orders.c.order_id == order_clues.c.order_id)
            .where(orders.c.household_id == hid)
            .order_by(order_clues.c.order_id, order_clues.c.clue_id)
        ).all()
        by_order: dict[int, list[str]] = {}
        for oid, cid in links:
            by_order.setdefault(int(oid), []).append(str(cid))
        od["clue_ids"] = [", ".join(by_order.get(int(o), [])) for o in od["order_id"]] if len(od) else pd.Series(dtype=object)
        mo = _select_frame(conn, monitoring, monitoring.c.household_id == hid, [monitoring.c.period, monitoring.c.recorded_at, monitoring.c.record_id])
        asst = _select_frame(conn, assistance, assistance.c.household_id == hid, [assistance.c.period, assistance.c.assistance_id])
    return HouseholdDetail(hh, mem, ev, cl, od, mo, asst)


# --------------------------------------------------------------------------- personal data
def _age(birth: pd.Series, as_of: int | None) -> pd.Series:
    """Whole years at the end of month ``as_of`` (YYYYMM), or today; vectorised."""
    if as_of is None:
        today = date.today()
        y, m = today.year, today.month
    else:
        y, m = divmod(int(as_of), 100)
    b = pd.to_datetime(birth, errors="coerce")
    age = y - b.dt.year - (b.dt.month > m).astype(int)
    return age.astype("Int64")


def members_masked(members: pd.DataFrame, unmask: bool = False, as_of: int | None = None) -> pd.DataFrame:
    """Members for display: names and ID numbers masked unless ``unmask`` (the caller logs that).

    The birth date is replaced by the age when masked, because a full birth date
    is the middle of the ID number that the mask hides.
    """
    out = members.copy()
    if "birth_date" in out.columns:
        out.insert(out.columns.get_loc("birth_date"), "age", _age(out["birth_date"], as_of))
        if not unmask:
            out = out.drop(columns="birth_date")
    if unmask:
        return out
    if "name" in out.columns:
        out["name"] = out["name"].map(mask_name, na_action="ignore")
    if "id_number" in out.columns:
        out["id_number"] = out["id_number"].map(mask_id_number, na_action="ignore")
    if "phone" in out.columns:
        out["phone"] = out["phone"].map(mask_phone, na_action="ignore")
    return out


def phone_shown(household: Mapping, unmask: bool = False) -> str:
    phone = household.get("phone")
    return (phone or "") if unmask else mask_phone(phone)


# --------------------------------------------------------------------------- audit
def log_view(
    engine: Engine,
    actor: str,
    household_id: str,
    action: str = "household_view",
    detail: Mapping | str | None = None,
) -> None:
    """Append one audit entry: who looked at (or unmasked) which household, when."""
    record(engine, actor, action, str(household_id), detail)


def unmask(engine: Engine, principal: Principal, household_id: str, detail: Mapping | None = None) -> None:
    """Allow one household's personal data in full: refused (``AccessDenied``) for a role that
    may not or a household outside a case worker's townships; logged as ``unmask``."""
    require_household(principal, engine, household_id, "unmask")
    record(engine, principal.actor, "unmask", str(household_id), detail)


def audit_entries(engine: Engine, target: str | None = None, action: str | None = None, limit: int = 100) -> pd.DataFrame:
    """Latest audit entries, newest first, optionally for one household and one action."""
    stmt = select(audit_log)
    if target is not None:
        stmt = stmt.where(audit_log.c.target == str(target))
    if action is not None:
        stmt = stmt.where(audit_log.c.action == str(action))
    stmt = stmt.order_by(audit_log.c.at.desc(), audit_log.c.audit_id.desc()).limit(int(limit))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, [c.name for c in audit_log.columns])


# --------------------------------------------------------------------------- current standing
def row_of(scorer: Scorer, household_id: str) -> int | None:
    """The household's row in a month's scorer, or None if it has no data that month."""
    ids = getattr(scorer, "household_ids", None)
    if ids is None:
        return None
    hits = np.flatnonzero(ids == str(household_id))
    return int(hits[0]) if len(hits) else None


def indicator_table(scorer: Scorer, result: ScoreResult, row: int, policy: RiskPolicy | None = None) -> pd.DataFrame:
    """One household's indicators: value vs warning line, hit, contribution (score points), missing.

    ``value`` and ``warning_line`` are in the matrix unit (income in yuan per
    person); contributions are computed under the policy the result was scored
    with, so they sum to the household's score.
    """
    policy = result.policy if policy is None else policy.normalised()[0]
    rows = np.array([int(row)])
    contrib = scorer.contributions(policy, rows)[0]
    hits = scorer.warnings_hit(policy, rows)[0]
    miss = scorer.missing_mask(rows)[0]
    raw = scorer.raw_values(rows)[0]
    keys = list(scorer.keys)
    lines = [policy.line_of(k) for k in keys]
    return pd.DataFrame(
        {
            "key": keys,
            "dimension": [BY_KEY[k].dimension for k in keys],
            "unit": [BY_KEY[k].unit for k in keys],
            "direction": [BY_KEY[k].direction for k in keys],
            "value": raw,
            "warning_line": np.array([np.nan if v is None else v for v in lines], dtype=float),
            "hit": hits,
            "weight": policy.weight_vector(keys),
            "contribution": contrib,
            "missing": miss,
        }
    )


@dataclass(frozen=True)
class Standing:
    """Where a household stands this month and why."""

    household_id: str
    score: float
    tier: str
    score_tier: str  # the tier the score alone gives
    rules_hit: tuple[ForceRule, ...]  # tier rules that apply to this household
    indicators: pd.DataFrame  # ``indicator_table``

    @property
    def forced(self) -> bool:
        """The tier is higher than the score alone gives: a rule raised it."""
        return TIER_CODE[self.tier] > TIER_CODE[self.score_tier]

    def reasons(self, top: int | None = None) -> pd.DataFrame:
        """Indicators that explain the score, largest contribution first.

        ``top`` caps the list, but never drops a warning line hit or a missing
        value: those are what a reader must see, however small their points.
        """
        f = self.indicators
        f = f[(f["contribution"] > 0) | f["hit"] | f["missing"]]
        f = f.sort_values("contribution", ascending=False, kind="stable")
        if top:
            flagged = f["hit"] | f["missing"]
            room = max(top - int(flagged.sum()), 0)
            f = f[flagged | (~flagged).cumsum().le(room) & ~flagged]
        return f


def standing(scorer: Scorer, result: ScoreResult, household_id: str) -> Standing | None:
    """Score, tier, tier rules and indicator table of one household from a scorer run."""
    row = row_of(scorer, household_id)
    if row is None:
        return None
    policy = result.policy
    table = indicator_table(scorer, result, row)
    score = float(result.score[row])
    y, r = policy.cutoffs
    exact = float(scorer.score64(policy, np.array([row]))[0])
    score_tier = TIERS[int(exact >= y) + int(exact >= r)]
    values = table.set_index("key")
    rules = []
    for rule in policy.forces:  # a handful of rules, one household
        v = values.at[rule.indicator, "value"]
        if values.at[rule.indicator, "missing"] or not np.isfinite(v):
            continue
        thr = rule.threshold * policy.income_line if rule.indicator == INCOME_KEY else rule.threshold
        if bool(BY_KEY[rule.indicator].hits(np.array([v]), thr)[0]):
            rules.append(rule)
    rules.sort(key=lambda x: -TIER_CODE[x.tier])
    return Standing(str(household_id), score, TIERS[int(result.tier[row])], score_tier, tuple(rules), table)


# --------------------------------------------------------------------------- history
def score_history(panel_scores: PanelScores, household_id: str) -> pd.DataFrame:
    """Score, tier and income against the line in every month of the panel (NaN/None where absent)."""
    ps = panel_scores
    cols = ["period", "score", "tier", "income_pc", "income_line"]
    ids = ps.household_ids
    i = int(np.searchsorted(ids, str(household_id))) if len(ids) else 0
    if i >= len(ids) or ids[i] != str(household_id):
        return pd.DataFrame(columns=cols)
    tier = ps.tier[i]
    names = np.array(TIERS, dtype=object)[tier.clip(0)]
    names[tier < 0] = None
    return pd.DataFrame(
        {
            "period": ps.periods,
            "score": ps.score[i].astype(float),
            "tier": names,
            "income_pc": ps.income_pc[i].astype(float),
            "income_line": ps.income_line.astype(float),
        }
    )


# --------------------------------------------------------------------------- 幸福清单
def assistance_summary(assistance_rows: pd.DataFrame) -> pd.DataFrame:
    """The 幸福清单: per measure, how many times and how much (yuan), first and last month.

    A measure recorded without an amount counts as a time but adds nothing to
    the total; ordered by total amount, largest first.
    """
    cols = ["measure", "count", "amount", "first_period", "last_period"]
    if assistance_rows.empty:
        return pd.DataFrame(columns=cols)
    a = assistance_rows.assign(amount=pd.to_numeric(assistance_rows["amount"], errors="coerce"))
    g = a.groupby("measure", sort=True).agg(
        count=("measure", "size"),
        amount=("amount", lambda s: float(s.sum(min_count=0))),
        first_period=("period", "min"),
        last_period=("period", "max"),
    )
    g = g.reset_index().sort_values(["amount", "count", "measure"], ascending=[False, False, True], ignore_index=True)
    g["count"] = g["count"].astype(int)
    g["first_period"] = g["first_period"].astype(int)
    g["last_period"] = g["last_period"].astype(int)
    return g[cols]


# --------------------------------------------------------------------------- timeline
def _period_of(ts: object) -> int | None:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return None
    t = pd.Timestamp(ts)
    return None if pd.isna(t) else t.year * 100 + t.month


def timeline(detail: HouseholdDetail) -> pd.DataFrame:
    """Events, clues, orders, monitoring decisions and assistance on one time axis (oldest first).

    ``kind``: event / area_event / clue / order / monitoring / assistance;
    ``code`` is the kind's domain code (event type, risk type, order state,
    monitoring status, measure) for labelling.
    """
    parts = []
    e = detail.events
    if len(e):
        parts.append(pd.DataFrame({"period": e["period"], "kind": np.where(e["scope"] == "area", "area_event", "event"), "code": e["event_type"], "amount": e["amount"], "text": e["description"]}))
    c = detail.clues
    if len(c):
        parts.append(pd.DataFrame({"period": c["period"], "kind": "clue", "code": c["risk_type"], "amount": c["amount"], "text": c["detail"]}))
    o = detail.orders
    if len(o):
        parts.append(pd.DataFrame({"period": [_period_of(x) for x in o["created_at"]], "kind": "order", "code": o["state"], "amount": np.nan, "text": o["reason"]}))
    m = detail.monitoring
    if len(m):
        parts.append(pd.DataFrame({"period": m["period"], "kind": "monitoring", "code": m["status"], "amount": np.nan, "text": m["category"]}))
    a = detail.assistance
    if len(a):
        parts.append(pd.DataFrame({"period": a["period"], "kind": "assistance", "code": a["measure"], "amount": a["amount"], "text": a["description"]}))
    cols = ["period", "kind", "code", "amount", "text"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce")
    order = {k: i for i, k in enumerate(("area_event", "event", "clue", "order", "monitoring", "assistance"))}
    out["_k"] = out["kind"].map(order)
    out = out.sort_values(["period", "_k"], kind="stable", ignore_index=True).drop(columns="_k")
    out["period"] = out["period"].astype(int)
    return out[cols]


# --------------------------------------------------------------------------- display helpers
def pick_language(text: object, lang: str) -> str:
    """Bilingual feed text "中文 / English" -> the reader's half; other text unchanged."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = str(text)
    parts = s.split(" / ")
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0] if lang == "zh" else parts[1]
    return s


def format_indicator(key: str, value: float | None, lang: str = "zh", income_line: float | None = None) -> str:
    """An indicator value in its unit for Chinese or English readers ("—" when missing).

    The income indicator is held in yuan; with ``income_line`` it also says how
    many times the line that is, since its warning line is a multiple of the line.
    """
    if value is None or not np.isfinite(value):
        return "—"
    unit = BY_KEY[key].unit
    if unit == "x_line" and income_line:
        return translate("profile.unit.x_line", lang, yuan=fmt.yuan(float(value), lang), x=f"{value / income_line:.2f}")
    if unit in ("yuan", "x_line"):
        return fmt.yuan(float(value), lang)
    if unit == "ratio":
        return fmt.pct(float(value))
    if unit == "flag":
        return translate("profile.yes" if value >= 0.5 else "profile.no", lang)
    if unit == "persons":
        return translate("profile.unit.persons", lang, n=f"{value:g}")
    if unit == "months":
        return translate("profile.unit.months", lang, n=f"{value:.1f}")
    if unit == "grade":
        return translate(f"profile.grade.{int(round(value))}", lang) if 0 <= value <= 4 else f"{value:g}"
    return f"{value:g}"
