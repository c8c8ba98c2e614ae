"""The ``fanpin`` command, run for real: subprocesses for the console entry, ``main([...])`` for the rest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from fanpin import store
from fanpin.cli.main import main
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import TIERS, RiskPolicy, score
from fanpin.store.engine import PROJECT_ROOT
from fanpin.store.regions import load_regions

DEMO_ARGS = ["--households", "300", "--months", "13", "--townships", "4", "--villages", "10"]
PERIOD = 202401  # the demo's default start is 202301: 13 months end in 2024-01
EXPORT_COLUMNS = ["household_id", "township_code", "village_code", "score", "tier", "forced", "reason_1", "reason_2",
                  "reason_3", "warnings", "category", "risk_types"]


def run_cli(*args: str, cache: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["FANPIN_CACHE_DIR"] = str(cache)
    env.pop("FANPIN_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "fanpin.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or PROJECT_ROOT, timeout=120)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-cache")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> tuple[str, subprocess.CompletedProcess]:
    """A demo county built by the real console command."""
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    url = f"sqlite:///{path}"
    proc = run_cli("--db", url, "demo", *DEMO_ARGS, cache=cache)
    return url, proc


def test_help_lists_the_commands(cache: Path) -> None:
    proc = run_cli("--help", cache=cache)
    assert proc.returncode == 0
    for cmd in ("demo", "db", "score"):
        assert re.search(rf"\b{cmd}\b", proc.stdout), cmd
    assert "--db" in proc.stdout


def test_subcommand_help(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["score", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--period" in out and "--policy" in out and "--out" in out
    with pytest.raises(SystemExit) as exc:
        main(["db", "--help"])
    out = capsys.readouterr().out
    assert "upgrade" in out and "status" in out


def test_demo_builds(demo_db) -> None:
    url, proc = demo_db
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"demo county built in \d+\.\ds: households 300, members [\d,]+, panel 3,900", proc.stdout), proc.stdout
    assert "100%" in proc.stderr  # progress goes to stderr
    assert "[" in proc.stderr and "#" * 30 in proc.stderr
    engine = store.make_engine(url)
    store.check_schema(engine)
    assert store.periods(engine) == [202301 + i for i in range(12)] + [202401]
    assert len(store.load_snapshot(engine, PERIOD)) == 300


def test_db_status(demo_db, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    assert main(["--db", url, "db", "status"]) == 0
    out = capsys.readouterr().out
    head = store.head_revision()
    assert f"schema: {head} (newest {head})" in out
    assert "panel: 202301..202401 (13 months)" in out
    assert "url: sqlite:///" in out


def test_db_upgrade_on_a_fresh_file(tmp_path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "sub" / "fresh.db"
    url = f"sqlite:///{path}"
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"schema (empty) -> {store.head_revision()}"
    assert path.exists()
    store.check_schema(store.make_engine(url))
    # again: nothing to do
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"schema {store.head_revision()} -> {store.head_revision()}"
    # status of a migrated database with no panel yet
    assert main(["--db", url, "db", "status"]) == 0
    out = capsys.readouterr().out
    assert "schema: " in out and "panel:" not in out


def _parse_table(stdout: str) -> dict[str, tuple[int, int, int, int]]:
    rows = {}
    for line in stdout.splitlines()[2:]:
        parts = line.split()
        code = parts[0]
        rows[code] = tuple(int(x) for x in parts[-4:])
    return rows


def test_score_counts_equal_the_library(demo_db, cache: Path) -> None:
    url, _ = demo_db
    proc = run_cli("--db", url, "score", "--period", "2024-01", cache=cache)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    engine = store.make_engine(url)
    policy = baseline_policy(engine, PERIOD)
    assert lines[0] == f"2024-01  policy 'default'  income line {policy.income_line:,.0f} yuan  cut-offs 25/40"
    assert lines[1].split() == ["township", "name", "green", "yellow", "red", "total"]
    table = _parse_table(proc.stdout)
    result = score(store.load_snapshot(engine, PERIOD), policy)
    expected = result.groupby(["township_code", "tier"]).size().unstack(fill_value=0).reindex(columns=list(TIERS), fill_value=0)
    assert len(lines) == 2 + len(expected) + 1  # header, one line per township, total
    assert list(table) == [*expected.index, "total"]
    for code, row in expected.iterrows():
        g, y, r = (int(row[t]) for t in TIERS)
        assert table[code] == (g, y, r, g + y + r), code
    totals = result["tier"].value_counts()
    assert table["total"] == (int(totals.get("green", 0)), int(totals.get("yellow", 0)), int(totals.get("red", 0)), 300)
    # the township names from the regions table (Chinese, padded by display width)
    names = load_regions(engine).set_index("region_code")["name"]
    for line, code in zip(lines[2:], expected.index):
        assert line.split()[1] == names[code]


def test_score_with_a_policy_file_and_outputs(demo_db, tmp_path, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    engine = store.make_engine(url)
    policy = RiskPolicy.default(8000)
    doubled = replace(policy, weights={k: 2 * v for k, v in policy.weights.items()}, name="x2")
    pfile = tmp_path / "policy.json"
    pfile.write_text(doubled.to_json(), encoding="utf-8")
    csv_path, xlsx_path = tmp_path / "out.csv", tmp_path / "out.xlsx"
    assert main(["--db", url, "score", "--period", "202401", "--policy", str(pfile), "--out", str(csv_path)]) == 0
    cap = capsys.readouterr()
    assert "rescaled" in cap.err
    assert "wrote 300 households to" in cap.err
    assert "policy 'x2'  income line 8,000 yuan" in cap.out
    expected = score(store.load_snapshot(engine, PERIOD), policy)
    got = pd.read_csv(csv_path, encoding="utf-8-sig", dtype={"household_id": str, "township_code": str, "village_code": str})
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(got.columns) == EXPORT_COLUMNS
    assert len(got) == 300
    assert got["household_id"].tolist() == expected["household_id"].tolist()
    assert got["tier"].tolist() == expected["tier"].tolist()
    pd.testing.assert_series_equal(got["score"], expected["score"], check_names=False)
    assert main(["--db", url, "score", "--period", "2024-01", "--policy", str(pfile), "--out", str(xlsx_path)]) == 0
    capsys.readouterr()
    x = pd.read_excel(xlsx_path, dtype={"household_id": str, "township_code": str, "village_code": str})
    assert list(x.columns) == EXPORT_COLUMNS and len(x) == 300
    assert x["tier"].tolist() == expected["tier"].tolist()
    assert x["household_id"].tolist() == expected["household_id"].tolist()


# --------------------------------------------------------------------------- errors
def _err(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 2, (cap.out, cap.err)
    assert cap.err.startswith("fanpin: "), cap.err
    assert "Traceback" not in cap.err
    return cap.err


def test_missing_database_file(tmp_path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "nope.db"
    err = _err(capsys, ["--db", f"sqlite:///{path}", "score", "--period", "2024-01"])
    assert f"database file not found: {path}" in err
    assert not path.exists()
    err = _err(capsys, ["--db", f"sqlite:///{path}", "db", "status"])
    assert "database file not found" in err and not path.exists()


@pytest.mark.parametrize("period", ["2024-13", "24-01", "January", "2024-00", "2024/01"])
def test_bad_period(demo_db, capsys: pytest.CaptureFixture, period: str) -> None:
    url, _ = demo_db
    err = _err(capsys, ["--db", url, "score", "--period", period])
    assert f"not a month: {period!r} (use YYYY-MM, e.g. 2025-12)" in err


def test_month_not_in_the_panel(demo_db, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    err = _err(capsys, ["--db", url, "score", "--period", "2030-01"])
    assert "no panel data for 2030-01 (months in the database: 202301..202401)" in err


def test_empty_database_has_no_months(tmp_path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store.upgrade(store.make_engine(url, create=True))
    err = _err(capsys, ["--db", url, "score", "--period", "2024-01"])
    assert "no panel data for 2024-01 (months in the database: none)" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "policy is not valid JSON"),
        ('{"income_line": 7500, "cutoffs": [25, 40], "weights": {"income_ratio": -1}}', "weights must be non-negative numbers"),
        ('{"income_line": 7500, "cutoffs": [40, 25], "weights": {"income_ratio": 1}}', "tier cut-offs must satisfy"),
        ('{"cutoffs": [25, 40], "weights": {"income_ratio": 1}}', "not a valid policy"),
    ],
)
def test_invalid_policy_file(demo_db, tmp_path, capsys: pytest.CaptureFixture, content: str, message: str) -> None:
    url, _ = demo_db
    pfile = tmp_path / "p.json"
    pfile.write_text(content, encoding="utf-8")
    err = _err(capsys, ["--db", url, "score", "--period", "2024-01", "--policy", str(pfile)])
    assert message in err


def test_missing_policy_file(demo_db, tmp_path, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    err = _err(capsys, ["--db", url, "score", "--period", "2024-01", "--policy", str(tmp_path / "none.json")])
    assert "none.json" in err


def test_policy_file_that_is_not_an_object(demo_db, tmp_path, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    pfile = tmp_path / "p.json"
    pfile.write_text("[1, 2, 3]", encoding="utf-8")
    _err(capsys, ["--db", url, "score", "--period", "2024-01", "--policy", str(pfile)])


def test_unwritable_output_type(demo_db, tmp_path, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    with pytest.raises(ValueError, match="unsupported output type"):
        main(["--db", url, "score", "--period", "2024-01", "--out", str(tmp_path / "x.txt")])
    capsys.readouterr()


def test_old_schema_names_the_upgrade_command(tmp_path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store.upgrade(store.make_engine(url, create=True), "0001")
    err = _err(capsys, ["--db", url, "score", "--period", "2024-01"])
    assert err.startswith(f"fanpin: database schema 0001 is older than {store.head_revision()}")
    assert "run `fanpin db upgrade`" in err
    err = _err(capsys, ["--db", url, "db", "status"])
    assert "fanpin db upgrade" in err
    # and the named command fixes it
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"schema 0001 -> {store.head_revision()}"
    assert main(["--db", url, "db", "status"]) == 0


def test_unknown_command_and_missing_period(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["score"])
    assert exc.value.code == 2
    assert "--period" in capsys.readouterr().err


# --------------------------------------------------------------------------- found bugs
def test_db_option_after_the_subcommand(demo_db, capsys: pytest.CaptureFixture) -> None:
    url, _ = demo_db
    assert main(["score", "--period", "2024-01", "--db", url]) == 0


def test_demo_does_not_replace_a_real_database_without_force(tmp_path) -> None:
    from fanpin.access.roles import SYSTEM
    from fanpin.engine.policies import list_policies, save_policy

    url = f"sqlite:///{tmp_path / 'county.db'}"
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    save_policy(engine, RiskPolicy.default(), "the bureau's adopted scenario", principal=SYSTEM)
    engine.dispose()
    code = main(["--db", url, "demo", *DEMO_ARGS])
    assert code != 0
    assert [p["name"] for p in list_policies(store.make_engine(url))] == ["the bureau's adopted scenario"]


def test_db_status_on_a_file_with_damaged_data_pages_says_so(small_demo, tmp_path, capsys) -> None:
    """A valid header and schema, wrecked panel pages: a message and exit 2, not a traceback (issue 17, item 6)."""
    from fanpin.cli.main import main
    from tests.app.test_errors_db import _wreck_panel_pages
    from tests.conftest import copy_sqlite

    path = tmp_path / "damaged.db"
    url = copy_sqlite(small_demo[0], path)
    _wreck_panel_pages(path)
    assert main(["db", "status", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "Traceback" not in err
