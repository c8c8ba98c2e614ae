"""A forged findings frame (issue 17): a case worker of township A hands ``findings_to_clues`` a
finding about a household of township B with its ``township_code`` column rewritten to A.  The
household's township comes from the roster, never from the frame: no clue is created for it.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.quality import rules as R
from fanpin.store import schema as S
from tests.ingest.corpus import fixture as fx

P = 202405
RULE = R.RULES[0].code
CW_A = Principal("cw_a", "case_worker", frozenset({fx.T1}))  # township A = fx.T1 (H1, H2); B = fx.T2 (H3)


@pytest.fixture
def eng(db_url: str):
    engine = store.make_engine(db_url, create=True)
    fx.build(engine)
    yield engine
    engine.dispose()


def _findings(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"rule": RULE, "household_id": [h for h, _t in rows], "township_code": [t for _h, t in rows], "detail": "伪造"})


def _clues(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(S.clues.c.household_id).where(S.clues.c.source == R.CLUE_SOURCE)))


def test_a_finding_of_another_township_labelled_as_mine_makes_no_clue(eng) -> None:
    assert R.findings_to_clues(eng, _findings((fx.H3, fx.T1)), P, principal=CW_A) == 0
    assert _clues(eng) == []
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.audit_log).where(S.audit_log.c.action == "findings_to_clues")).scalar() == 0


def test_the_roster_decides_whatever_the_frame_says(eng) -> None:
    """Mixed with a real finding of A (labelled B, to show the label is ignored both ways) and one
    about a household that does not exist: only A's own household gets its clue."""
    forged = _findings((fx.H3, fx.T1), (fx.H1, fx.T2), ("NO_SUCH_HH", fx.T1))
    assert R.findings_to_clues(eng, forged, P, principal=CW_A) == 1
    assert _clues(eng) == [fx.H1]
    # the county-wide analyst gets B's household (the roster's township B is in their scope)
    assert R.findings_to_clues(eng, forged, P, principal=Principal("an", "analyst")) == 1
    assert _clues(eng) == [fx.H1, fx.H3]
