"""The official procedure's cases in figures: how many inclusions and eliminations stand at each
step, and which have waited too long for theirs (the monthly brief's "cases in the chain").

Figures are read from ``fanpin.workflow.procedure.cases`` as the principal may see them (a
township role: their townships), for one township when asked, counting the cases opened by the
day the figures are for (``as_of``) in the state they are in now.  A case waits for its step
from its last change (the township check: from the day the notice ended); it is overdue after
``STEP_WAIT_DAYS`` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal
from fanpin.workflow import procedure

#: A case that has waited more than this many days for its next step is overdue (a village meets,
#: a notice goes up, a township or the county decides within a week).
STEP_WAIT_DAYS = 7
OVERDUE_COLUMNS: tuple[str, ...] = ("case_id", "household_id", "township_code", "village_code", "kind", "state", "since", "days")


@dataclass(frozen=True)
class CaseFigures:
    """Cases by kind and state, the open ones, and the overdue ones (longest wait first)."""

    as_of: date
    by_state: pd.DataFrame  # index: procedure.CASE_STATES; columns: procedure.KINDS (zeros kept)
    overdue_cases: pd.DataFrame  # OVERDUE_COLUMNS

    @property
    def total(self) -> int:
        return int(self.by_state.to_numpy().sum())

    @property
    def open(self) -> int:
        return int(self.by_state.loc[list(procedure.OPEN_STATES)].to_numpy().sum())

    @property
    def overdue(self) -> int:
        return len(self.overdue_cases)

    def state(self, state: str) -> int:
        """Cases (of both kinds) in ``state``."""
        return int(self.by_state.loc[state].sum())


def figures_of(cases: pd.DataFrame, as_of: date) -> CaseFigures:
    """The figures of a frame of cases (``procedure.cases``' columns) as of ``as_of``."""
    f = cases[pd.to_datetime(cases["opened_at"]).dt.date <= as_of] if len(cases) else cases
    counts = f.groupby(["state", "kind"]).size() if len(f) else pd.Series(dtype=int)
    by_state = pd.DataFrame(
        [[int(counts.get((s, k), 0)) for k in procedure.KINDS] for s in procedure.CASE_STATES],
        index=pd.Index(procedure.CASE_STATES, name="state"), columns=list(procedure.KINDS),
    )
    waiting = f[f["state"].isin(procedure.OPEN_STATES)] if len(f) else f
    if waiting.empty:
        return CaseFigures(as_of, by_state, pd.DataFrame(columns=list(OVERDUE_COLUMNS)))
    since = pd.to_datetime(waiting["updated_at"]).dt.normalize()
    notice_end = pd.to_datetime(waiting["notice_end"])
    since = pd.Series(np.where((waiting["state"] == "township_check") & notice_end.notna(), np.maximum(since, notice_end), since), index=waiting.index)
    days = (pd.Timestamp(as_of) - pd.to_datetime(since)).dt.days
    late = waiting.assign(since=pd.to_datetime(since).dt.date, days=days)[days > STEP_WAIT_DAYS]
    late = late.sort_values(["days", "case_id"], ascending=[False, True])
    return CaseFigures(as_of, by_state, late[list(OVERDUE_COLUMNS)].reset_index(drop=True))


def case_figures(engine: Engine, as_of: date, *, principal: Principal, township: str | None = None) -> CaseFigures:
    """The figures of the cases the principal may see (of ``township`` only when given)."""
    c = procedure.cases(engine, principal=principal)
    if township is not None:
        c = c[c["township_code"] == township]
    return figures_of(c, as_of)


__all__ = ["OVERDUE_COLUMNS", "STEP_WAIT_DAYS", "CaseFigures", "case_figures", "figures_of"]
