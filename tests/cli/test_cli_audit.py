"""Issue 18 item 14: a command that writes a file of households is audited as the person at the server."""

from __future__ import annotations

import getpass

from fanpin import store
from fanpin.access.audit import audit_query
from fanpin.access.roles import SYSTEM
from fanpin.cli.main import main


def test_score_out_is_an_audited_export_by_the_os_user(small_demo, tmp_path, capsys) -> None:
    from tests.conftest import copy_sqlite

    url = copy_sqlite(small_demo[0], tmp_path / "copy.db")
    engine = store.make_engine(url)
    period = store.periods(engine)[-1]
    out = tmp_path / "scores.csv"
    assert main(["--db", url, "score", "--period", str(period), "--out", str(out)]) == 0
    capsys.readouterr()
    log, _ = audit_query(engine, action="export", principal=SYSTEM)
    row = log.iloc[0]
    assert (row["actor"], row["target"]) == (f"cli:{getpass.getuser()}", "scores.csv")
    engine.dispose()
