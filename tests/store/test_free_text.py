"""Free text people type into clues and orders (issue 17): kept as written, but the invisible
characters that make one text read as another (a right-to-left override, zero-width spaces,
controls) are stripped where the text enters the database: ``store.clues.insert_clues`` and
``store.orders``.  On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM
from fanpin.store import schema as S
from fanpin.store.clues import insert_clues
from fanpin.workflow import clues, orders
from tests.ingest.corpus import fixture as fx

AT = datetime(2025, 6, 2, 9, 0)
RLO, ZW, LRI = "\u202e", "\u200b", "\u2066"


@pytest.fixture
def eng(db_url: str):
    engine = store.make_engine(db_url, create=True)
    fx.build(engine)
    yield engine
    engine.dispose()


def test_a_clues_detail_keeps_its_text_without_bidi_controls(eng) -> None:
    typed = f"户主住院{RLO}0001{ZW}，自付 1.2 万元\n（乡镇核实）{LRI}"
    cid = clues.add_clue(eng, fx.H1, 202405, "cadre_visit", "cadre", "illness", detail=typed, received_at=AT, principal=SYSTEM)
    with eng.begin() as conn:  # the bulk path (department feeds, the demo) strips the same way
        insert_clues(conn, {"household_id": np.array([fx.H2], dtype=object), "period": np.array([202405]), "channel": np.array(["department"], dtype=object),
                            "source": np.array(["medical_insurance"], dtype=object), "risk_type": np.array(["illness"], dtype=object),
                            "received_at": np.array([AT], dtype=object), "detail": np.array([f"{RLO}abc"], dtype=object)})
    with eng.connect() as conn:
        got = dict(conn.execute(select(S.clues.c.household_id, S.clues.c.detail)).all())
    assert got == {fx.H1: "户主住院0001，自付 1.2 万元\n（乡镇核实）", fx.H2: "abc"}
    assert cid > 0


def test_an_orders_notes_findings_and_reason_lose_bidi_controls(eng) -> None:
    oid = orders.create_order(eng, assignee_kind="township", assignee=fx.T1, household_id=fx.H1, principal=SYSTEM, now=AT)
    orders.add_note(eng, oid, 1, f"入户{RLO}核实{ZW}", findings=f"收入{LRI}正常", principal=SYSTEM, now=AT)
    orders.start_verification(eng, oid, 2, principal=SYSTEM, now=AT)
    orders.decide_order(eng, oid, 3, included=False, period=202405, reason=f"{RLO}不纳入", principal=SYSTEM, now=AT)
    with eng.connect() as conn:
        row = conn.execute(select(S.orders.c.notes, S.orders.c.findings, S.orders.c.reason).where(S.orders.c.order_id == oid)).one()
    assert row.notes.endswith(": 入户核实") and row.findings == "收入正常" and row.reason == "不纳入"
