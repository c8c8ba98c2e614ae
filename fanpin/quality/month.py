"""The tables one month's rules read (``MonthData``), and the shape of a rule's answer: one row per
household flagged, with a bilingual detail naming the values that contradict each other."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from fanpin.engine.income_line import IncomeLine
from fanpin.engine.policies import baseline, stored_lines
from fanpin.quality.thresholds import CHAIN_STEPS
from fanpin.store import meta as meta_store
from fanpin.store import quality as qstore
from fanpin.store.io import shift_period


class MonthData:
    """The tables one month's rules read, each loaded once and only if a rule asks for it
    (the queries are in ``fanpin.store.quality``; the demo's planting reads the same frames)."""

    def __init__(self, conn: Connection, period: int) -> None:
        self.conn = conn
        self.period = int(period)

    @cached_property
    def households(self) -> pd.DataFrame:
        return qstore.household_rows(self.conn)

    @cached_property
    def members(self) -> pd.DataFrame:
        f = qstore.member_rows(self.conn)
        f["deceased_period"] = pd.to_numeric(f["deceased_period"], errors="coerce")
        for c in ("dibao", "tekun", "public_welfare_job"):
            f[c] = f[c].fillna(False).astype(bool)
        return f

    @cached_property
    def alive(self) -> pd.DataFrame:
        m = self.members
        return m[m["deceased_period"].isna() | (m["deceased_period"] > self.period)]

    @cached_property
    def panel(self) -> pd.DataFrame:
        f = qstore.panel_rows(self.conn, self.period)
        for c in ("dibao", "tekun"):
            f[c] = f[c].fillna(False).astype(bool)
        for c in ("income_wage", "income_business", "income_net", "income_pc", "medical_oop", "housing_grade"):
            f[c] = pd.to_numeric(f[c], errors="coerce")
        return f

    @cached_property
    def dept(self) -> pd.DataFrame:
        f = qstore.dept_rows_until(self.conn, self.period)
        f["period"] = pd.to_numeric(f["period"], errors="coerce")
        f["value"] = pd.to_numeric(f["value"], errors="coerce")
        return f

    @cached_property
    def relations(self) -> pd.DataFrame:
        return qstore.relation_rows(self.conn)

    @cached_property
    def records(self) -> pd.DataFrame:
        """The monitoring records as they stood at the end of the month: identified by then (or
        undated), ``eliminated`` only if eliminated by then (or undated); ``start`` / ``end`` the
        months the monitoring covers (识别监测时间, and 消除监测时间 or this month; NaN: unknown)."""
        f = qstore.record_rows(self.conn)
        for c in ("identified_period", "eliminated_period"):
            f[c] = pd.to_numeric(f[c], errors="coerce").astype(float)
        f = f[~(f["identified_period"] > self.period)].copy()
        f["eliminated"] = f["eliminated"].fillna(False).astype(bool) & ~(f["eliminated_period"] > self.period)
        f["start"] = f["identified_period"]
        f["end"] = np.where(f["eliminated"] & f["eliminated_period"].notna(), f["eliminated_period"], float(self.period))
        return f.reset_index(drop=True)

    @cached_property
    def assistance(self) -> pd.DataFrame:
        """Assistance measures started by this month (``period`` the start, ``end_period`` NaN when open)."""
        f = qstore.assistance_rows_until(self.conn, self.period)
        for c in ("period", "end_period"):
            f[c] = pd.to_numeric(f[c], errors="coerce").astype(float)
        return f

    def measures_in_effect(self, recs: pd.DataFrame, measures: Iterable[str]) -> pd.DataFrame:
        """household_id, measure of ``measures`` in effect during each record's monitoring: an
        assistance row started by its ``end`` and not ended before its ``start`` (an unknown bound
        does not exclude), or named in its 实施开发式帮扶措施情况 (``development_measures``)."""
        wanted = list(measures)
        a = self.assistance[self.assistance["measure"].isin(wanted)].merge(recs[["household_id", "start", "end"]], on="household_id")
        a = a[~(a["period"] > a["end"]) & ~(a["end_period"] < a["start"])]
        named = recs[["household_id", "development_measures"]].assign(measure=recs["development_measures"].fillna("").astype(str).str.split(","))
        named = named.explode("measure")
        named = named[named["measure"].isin(wanted)]
        return pd.concat([a[["household_id", "measure"]], named[["household_id", "measure"]]], ignore_index=True).drop_duplicates()

    @cached_property
    def lines(self) -> IncomeLine:
        """The stored yearly income lines (the one year rule: ``fanpin.engine.income_line``)."""
        return stored_lines(self.conn)

    def line_of_year(self, year: int) -> float:
        """The income line of ``year``: the stored line by the year rule; with no line stored at all,
        the baseline policy's own line (what the scorer then uses for every month)."""
        line = self.lines.stored_at(int(year) * 100 + 12)
        return float(line) if line is not None else float(baseline(self.conn.engine).income_line)

    @cached_property
    def elimination_income(self) -> pd.DataFrame:
        """household_id, year, income_pc, source of each eliminated record's elimination year: the
        yearly income per head (``yearly_incomes``, source "yearly") when the year has one, else the
        panel's rolling 12-month income per head at the year's latest month up to this one (December
        for a past year; source "panel")."""
        r = self.records[self.records["eliminated"] & self.records["eliminated_period"].notna()]
        want = pd.DataFrame({"household_id": r["household_id"].to_numpy(), "year": (r["eliminated_period"] // 100).astype(int).to_numpy()})
        y = qstore.eliminated_yearly_incomes(self.conn)
        y = y.assign(year=pd.to_numeric(y["year"]).astype(int), income_pc=pd.to_numeric(y["income_pc"], errors="coerce").astype(float)).dropna(subset=["income_pc"])
        out = want.merge(y, on=["household_id", "year"], how="left").assign(source="yearly")
        missing = out["income_pc"].isna()
        if missing.any():
            months = pd.Series(qstore.panel_periods_until(self.conn, self.period), dtype=int)
            last = months.groupby(months // 100).max()  # year -> its latest month up to this one
            p = qstore.eliminated_panel_incomes(self.conn, last.tolist())
            p = p.assign(year=pd.to_numeric(p["period"]).astype(int) // 100, income_pc=pd.to_numeric(p["income_pc"], errors="coerce").astype(float))
            fill = out.loc[missing, ["household_id", "year"]].merge(p[["household_id", "year", "income_pc"]], on=["household_id", "year"], how="left")
            out.loc[missing, "income_pc"] = fill["income_pc"].to_numpy()
            out.loc[missing, "source"] = "panel"
        return out.dropna(subset=["income_pc"]).reset_index(drop=True)

    @cached_property
    def effects(self) -> pd.DataFrame:
        """What took effect in fanpin up to this month (the history's inclusions with an order and
        approved eliminations): record_id, household_id, period, kind, and ``ref``, the order or
        proposal that ties it to its case."""
        f = qstore.effect_rows(self.conn, self.period)
        elim = f["status"] == "eliminated"
        ref = pd.to_numeric(f["proposal_id"].where(elim, f["order_id"]), errors="coerce")
        return f.assign(kind=np.where(elim, "elimination", "inclusion"), ref=ref, period=pd.to_numeric(f["period"]))[
            ["record_id", "household_id", "period", "kind", "ref"]]

    @cached_property
    def chains(self) -> pd.DataFrame:
        """Every case with its last round (the steps after its last resubmission): case_id,
        household_id, kind, ref (order or proposal), period, state, ``missing`` (the
        ``CHAIN_STEPS`` it lacks, comma separated, "" when complete), ``notice_day`` (the notice's
        first day) and ``check_day`` (the day the township check passed)."""
        c = qstore.case_rows(self.conn)
        s = qstore.step_rows(self.conn)
        s["case_id"] = pd.to_numeric(s["case_id"])
        s["step_id"] = pd.to_numeric(s["step_id"])
        cut = s[s["step"] == "resubmitted"].groupby("case_id")["step_id"].max()
        s = s[s["step_id"] > s["case_id"].map(cut).fillna(-1)]
        have = set(zip(s["case_id"], s["step"], s["result"]))
        ids = pd.to_numeric(c["case_id"]).astype(int)
        missing = [",".join(step for step, result in CHAIN_STEPS if (cid, step, result) not in have) for cid in ids]
        notice = s[s["step"] == "notice"].groupby("case_id")["step_date"].last()
        check = s[(s["step"] == "township_check") & (s["result"] == "passed")].groupby("case_id")["done_at"].last()
        elim = c["kind"] == "elimination"
        return pd.DataFrame({
            "case_id": ids, "household_id": c["household_id"], "kind": c["kind"],
            "ref": pd.to_numeric(c["proposal_id"].where(elim, c["order_id"]), errors="coerce"), "period": pd.to_numeric(c["period"]),
            "state": c["state"], "missing": missing,
            "notice_day": pd.to_datetime(ids.map(notice)).dt.normalize(), "check_day": pd.to_datetime(ids.map(check)).dt.normalize(),
        })

    @cached_property
    def notice_days(self) -> int:
        """The province's minimum notice period (``meta.notice_days``)."""
        return meta_store.notice_days(self.conn)

    def illness_clue_households(self, months: int = 12) -> np.ndarray:
        """Households with an illness clue in the ``months`` up to this one."""
        return qstore.clue_households(self.conn, "illness", shift_period(self.period, -(months - 1)), self.period)


def hits(household_id: Iterable, detail: Iterable) -> pd.DataFrame:
    return pd.DataFrame({"household_id": list(household_id), "detail": list(detail)})


def ym(p: float | int) -> str:
    p = int(p)
    return f"{p // 100}-{p % 100:02d}"


def join_details(f: pd.DataFrame) -> pd.DataFrame:
    """One row per household, several details joined with '; '."""
    if f.empty:
        return hits([], [])
    return f.groupby("household_id", sort=True)["detail"].agg(lambda s: "; ".join(dict.fromkeys(s))).reset_index()


def month_index(period: pd.Series) -> pd.Series:
    """YYYYMM as a count of months (so that differences are months)."""
    p = period.astype(int)
    return (p // 100) * 12 + p % 100


def age_at_end_of(birth: pd.Series, period: int) -> pd.Series:
    b = pd.to_datetime(birth)
    y, m = divmod(int(period), 100)
    return y - b.dt.year - (b.dt.month > m).astype(int)
