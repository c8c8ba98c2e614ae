"""The early-elimination flags, vectorised over households, are those of the record-by-record rule."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fanpin.store.io import shift_period
from fanpin.workflow.monitoring import early_elimination, early_rows

COLS = ["household_id", "identified", "eliminated", "status"]


def by_record(h: pd.DataFrame) -> pd.DataFrame:
    """The rule as it reads: per household, oldest first, the identification is the first monitored
    record since the last elimination."""
    out = []
    for hid, g in h.groupby("household_id", sort=True):
        start = None
        for r in g.itertuples():
            if r.status == "monitored" and start is None:
                start = int(r.period)
            elif r.status in ("proposed", "eliminated"):
                if early_elimination(start, r.period):
                    out.append({"household_id": hid, "identified": start, "eliminated": int(r.period), "status": r.status})
                if r.status == "eliminated":
                    start = None
    return pd.DataFrame(out, columns=COLS)


histories = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 40), st.sampled_from(["monitored", "proposed", "eliminated"])), max_size=60
)


@given(histories)
def test_vectorised_flags_equal_the_record_by_record_rule(rows) -> None:
    h = pd.DataFrame(rows, columns=["household_id", "step", "status"])
    h["period"] = [shift_period(202301, int(k)) for k in h["step"]]
    h = h.sort_values(["household_id", "step"], kind="stable").sample(frac=1.0, random_state=1).sort_values("step", kind="stable")  # oldest first, households mixed
    expected = by_record(h)
    got = early_rows(h)[COLS] if len(h) else pd.DataFrame(columns=COLS)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)
