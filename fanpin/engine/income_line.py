"""Which income line holds for a month under a policy: the one place the year rule is written.

The provincial income line (监测收入标准) is set once a year and stored with the data (meta
``income_lines``: {year: yuan}).  The *year rule*: a month takes its year's line, else the
latest earlier year's, else (a month before every stored year) the earliest.

A policy either follows the stored lines (``RiskPolicy.line_year is None``: the shipped default,
a scenario whose line was left alone, every policy saved before ``line_year`` existed) or
carries a line the analyst set for one year (``line_year``: an adopted or simulated scenario at
8,000).  The analyst's line holds for the months of that year only; other years keep their
stored line, so a trend does not jump where the analyst changed one year.  With no stored line
at all the policy's own line holds for every month.

``IncomeLine`` is a frozen, hashable value, so it is also the cache key of a scored panel:
two pages that ask for the same month under the same policy get the same line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from fanpin.engine.scoring import RiskPolicy


def year_of(period: int) -> int:
    """The calendar year of a YYYYMM period."""
    return int(period) // 100


@dataclass(frozen=True)
class IncomeLine:
    """The stored yearly lines and, optionally, the line an analyst set for one year."""

    yearly: tuple[tuple[int, float], ...] = ()  # (year, yuan), sorted by year
    own: float | None = None  # the policy's own line (used where no stored line exists)
    own_year: int | None = None  # the year ``own`` was set for; None: the stored lines hold

    # ------------------------------------------------------------------ building
    @classmethod
    def stored(cls, lines: Mapping[int, float] | None) -> IncomeLine:
        """Only the stored yearly lines (no policy): what the data say."""
        return cls(tuple(sorted((int(y), float(v)) for y, v in (lines or {}).items())))

    @classmethod
    def of(cls, policy: RiskPolicy, lines: Mapping[int, float] | IncomeLine | None) -> IncomeLine:
        """The lines that hold under ``policy``: the stored ones, and the analyst's for its year."""
        base = lines if isinstance(lines, IncomeLine) else cls.stored(lines)
        return cls(base.yearly, float(policy.income_line), policy.line_year)

    # ------------------------------------------------------------------ asking
    def stored_at(self, period: int) -> float | None:
        """The year rule over the stored lines (None when none is stored)."""
        if not self.yearly:
            return None
        year = year_of(period)
        earlier = [v for y, v in self.yearly if y <= year]
        return earlier[-1] if earlier else self.yearly[0][1]

    def at(self, period: int) -> float | None:
        """The line that holds for ``period``: the analyst's in its year, else the stored one,
        else the policy's own (None only for stored lines without a policy and no data)."""
        if self.own_year is not None and year_of(period) == self.own_year:
            return self.own
        stored = self.stored_at(period)
        return stored if stored is not None else self.own

    def apply(self, policy: RiskPolicy, period: int) -> RiskPolicy:
        """``policy`` as it scores ``period``: the month's line; ``line_year`` kept only inside
        its own year (outside it the month follows the stored line, and the result says so)."""
        line = self.at(period)
        keep = policy.line_year if policy.line_year is not None and year_of(period) == policy.line_year else None
        if line is None or (line == policy.income_line and keep == policy.line_year):
            return policy
        return replace(policy, income_line=float(line), line_year=keep)

    def set_line(self, policy: RiskPolicy, period: int, yuan: float) -> RiskPolicy:
        """``policy`` with the analyst's line ``yuan`` for ``period``'s year.  A line equal to
        that month's stored line is no override: the policy follows the stored lines again."""
        yuan = float(yuan)
        follows = self.stored_at(period) == yuan
        return replace(policy, income_line=yuan, line_year=None if follows else year_of(period))

    @property
    def key(self) -> str:
        """A short text form (for logs and cache keys that must be strings)."""
        stored = ",".join(f"{y}:{v:g}" for y, v in self.yearly)
        own = "" if self.own is None else f"{self.own:g}@{self.own_year if self.own_year is not None else '*'}"
        return f"{stored}|{own}"
