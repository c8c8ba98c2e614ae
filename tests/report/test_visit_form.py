"""The printable 入户核查表 on the small demo county: the month's income and indicators against the
warning lines are the scorer's, names masked for a role that may not unmask (nothing written)."""

from __future__ import annotations

import numpy as np
import pytest

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import Scorer
from fanpin.report.document import document_text
from fanpin.report.visit_form import month_figures, visit_form
from fanpin.workflow import profile, standing


def test_the_form_carries_the_month_and_masked_members(small_demo) -> None:
    engine, spec = small_demo
    period = spec.periods[-1]
    frame = store.load_snapshot(engine, period)
    scorer, policy = Scorer.from_frame(frame), baseline_policy(engine, period)
    res = scorer.run(policy)
    row = int(np.flatnonzero(res.tier == 2)[0])  # a red household: some warning line is hit
    hid = str(frame["household_id"].iloc[row])
    sd = standing.standing(scorer, res, hid)
    fig = month_figures(engine, hid)
    assert fig.period == period and fig.income_line == pytest.approx(policy.income_line)
    got = fig.indicators.set_index("key")
    want = sd.indicators.set_index("key")
    assert got["hit"].tolist() == want["hit"].tolist() and np.allclose(got["value"], want["value"], equal_nan=True)
    members = profile.household_detail(engine, hid, principal=Principal("s", "admin")).members
    assert len(members)
    town = sorted(store.load_snapshot(engine, period)["township_code"].unique())
    reader = Principal("tl", "township_leader", frozenset(town))  # may view, may not unmask
    text = document_text(visit_form(engine, principal=reader, household_id=hid, figures=fig))
    assert hid in text and "入户核查表" in text
    assert fmt.yuan(float(got.loc["income_ratio", "value"]), "zh") in text
    for name in members["name"]:
        assert name not in text
        assert name[0] + "*" in text
    assert text.count("是") >= int(got["hit"].sum())
