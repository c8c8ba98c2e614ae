"""What a demo county is made of (``DemoSpec``) and its income lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fanpin.store import io as sio

Progress = Callable[[str, float], None]


def default_income_lines(first_year: int, last_year: int) -> dict[int, float]:
    """Provincial monitoring lines by year: 7,500 yuan in 2023, rising 300 a year (a parameter)."""
    return {y: 7500.0 + 300.0 * (y - 2023) for y in range(first_year, last_year + 1)}


@dataclass(frozen=True)
class DemoSpec:
    households: int = 20_000
    months: int = 36
    start: int = 202301  # YYYYMM
    townships: int = 14
    villages: int = 200
    seed: int = 20231
    county_code: str = "990101"
    income_lines: dict[int, float] | None = None
    dibao_share: float = 0.9  # rural dibao standard as a share of the year's income line
    workflow: bool = True  # replay orders, monitoring and eliminations over the months (fanpin.demo.replay)

    @property
    def periods(self) -> list[int]:
        return [sio.shift_period(self.start, k) for k in range(self.months)]

    def lines(self) -> dict[int, float]:
        years = sorted({p // 100 for p in self.periods})
        return self.income_lines or default_income_lines(years[0], years[-1])
