"""The panel's scores kept on disk read back exactly as scored, per data version, policy and townships."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.engine import panel_stream
from fanpin.engine.panel_stream import kept_panel_scores, panel_policy, prepare_views, score_stored_panel
from fanpin.engine.policies import baseline, stored_lines
from fanpin.store import columnar
from fanpin.store import io as sio
from tests.conftest import copy_sqlite

from .test_panel_stream import _same


@pytest.fixture
def county(small_demo, tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANPIN_CACHE_DIR", str(tmp_path / "cache"))
    engine = store.make_engine(copy_sqlite(small_demo[0], tmp_path / "county.db"))
    yield engine
    engine.dispose()


def _no_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a, **k):  # noqa: ANN002
        raise AssertionError("scored again instead of reading the kept scores")

    monkeypatch.setattr(panel_stream, "score_stored_panel", refuse)


def _scores_files(engine) -> list:
    return sorted(columnar.side_path(engine, "x", "y", ".npz").parent.glob("scores_*.npz"))


def test_kept_scores_read_back_as_scored(county, monkeypatch: pytest.MonkeyPatch) -> None:
    policy, lines = baseline(county), stored_lines(county)
    town = sorted(columnar.household_table(county)["township_code"])[0]
    expected = {}
    for who in (SYSTEM, Principal("cw", "case_worker", frozenset({town}))):
        expected[who] = score_stored_panel(county, *panel_policy(policy, lines), principal=who)
        _same(kept_panel_scores(county, policy, lines, principal=who), expected[who])
    assert len(_scores_files(county)) == 2
    _no_scoring(monkeypatch)
    for who, ps in expected.items():
        _same(kept_panel_scores(county, policy, lines, principal=who), ps)


def test_another_policy_or_version_is_scored_afresh(county) -> None:
    policy, lines = baseline(county), stored_lines(county)
    first = kept_panel_scores(county, policy, lines, principal=SYSTEM)
    other = replace(policy, cutoffs=(policy.cutoffs[0] - 5, policy.cutoffs[1]))
    assert not np.array_equal(kept_panel_scores(county, other, lines, principal=SYSTEM).tier, first.tier)
    assert len(_scores_files(county)) == 2
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=())
    kept_panel_scores(county, policy, lines, principal=SYSTEM)
    assert len(_scores_files(county)) == 1  # the old version's files are gone


def test_a_damaged_file_is_scored_again(county) -> None:
    policy, lines = baseline(county), stored_lines(county)
    expected = kept_panel_scores(county, policy, lines, principal=SYSTEM)
    (path,) = _scores_files(county)
    path.write_bytes(b"not a numpy file")
    _same(kept_panel_scores(county, policy, lines, principal=SYSTEM), expected)


def test_prepare_views_leaves_nothing_for_the_first_view(county, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prepare_views(county) == len(store.periods(county))
    assert columnar.missing_copies(county) == []
    folder = columnar.side_path(county, "x", "y", ".npz").parent
    assert sorted(f.name.split("_v")[0] for f in folder.glob("rules_*.parquet")) == ["rules_households_8", "rules_members_13"]
    _no_scoring(monkeypatch)
    kept_panel_scores(county, baseline(county), stored_lines(county), principal=SYSTEM)


def test_a_write_of_nothing_scored_carries_the_scores_over(county, monkeypatch: pytest.MonkeyPatch) -> None:
    policy, lines = baseline(county), stored_lines(county)
    expected = kept_panel_scores(county, policy, lines, principal=SYSTEM)
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=["clues"])  # e.g. department feeds
    monkeypatch.setattr(panel_stream, "score_stored_panel", lambda *a, **k: (_ for _ in ()).throw(AssertionError("scored again")))
    _same(kept_panel_scores(county, policy, lines, principal=SYSTEM), expected)
    assert [f.name.rsplit("_v", 1)[1] for f in _scores_files(county)] == [f"{store.data_version(county)}.npz"]
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=["panel"], periods=[store.periods(county)[-1]])
    with pytest.raises(AssertionError, match="scored again"):
        kept_panel_scores(county, policy, lines, principal=SYSTEM)
