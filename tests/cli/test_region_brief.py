"""`fanpin brief --region CODE`: a province's or city's brief from the analytic store: files written,
errors in --lang, the audit row when a database is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fanpin import store
from fanpin.cli.main import main
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.report.document import document_text
from fanpin.store.schema import audit_log
from fanpin.store.snapshot import SnapshotStore

SPEC = ProvinceSpec(counties=3, households_per_county=600, months=5, townships=4, villages=12, counties_per_city=2, duplicates=0, seed=3)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    s = SnapshotStore(tmp_path_factory.mktemp("cli_region_brief") / "store")
    build_province(s, SPEC)
    return str(s.root)


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No configured database unless a test gives --db (the default policy holds, nothing is audited)."""
    monkeypatch.setenv("FANPIN_DB_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    monkeypatch.delenv("FANPIN_STORE_DIR", raising=False)


def _names(store_dir: str, lang: str) -> dict[str, str]:
    from fanpin.geo.boundaries import LEVELS, region_names

    s = SnapshotStore(store_dir)
    return region_names([s.read_boundaries(lv) for lv in LEVELS], lang)


def _label(store_dir: str, code: str, lang: str) -> str:
    """The store's name of a region (the demo province writes boundaries with names), else its code's label."""
    from fanpin.core.i18n import translate
    from fanpin.engine import regional

    return _names(store_dir, lang).get(code) or translate(f"province.level_{regional.level_of(code)}", lang, code=regional.short(code))


def _last(store_dir: str) -> str:
    p = SnapshotStore(store_dir).manifest().periods[-1]
    return f"{p // 100}-{p % 100:02d}"


def test_writes_the_city_brief_and_its_tables(store_dir: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "city.docx"
    assert main(["brief", "--region", "9901", "--period", _last(store_dir), "--out", str(out), "--store", store_dir]) == 0
    text = document_text(out.read_bytes())
    assert text.splitlines()[0].startswith(_label(store_dir, "990100000000", "zh")) and "月度防返贫监测研判报告" in text.splitlines()[0]
    county = lambda c: _label(store_dir, c.ljust(12, "0"), "zh")
    assert county("990101") in text and county("990102") in text and county("990201") not in text
    wb = load_workbook(out.with_suffix(".xlsx"))
    assert wb.sheetnames == ["总体情况", "下级区域对比", "月度走势", "关注要点"]
    assert "已写入" in capsys.readouterr().err
    assert not (tmp_path / "absent.db").exists()  # no database was created on the way


def test_the_province_brief_in_english_by_county_with_the_store_from_the_environment(store_dir: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FANPIN_STORE_DIR", store_dir)
    out, xlsx = tmp_path / "p.docx", tmp_path / "tables.xlsx"
    assert main(["brief", "--region", "990000000000", "--period", _last(store_dir), "--out", str(out), "--xlsx", str(xlsx), "--lang", "en", "--by", "county"]) == 0
    text = document_text(out.read_bytes())
    assert text.startswith(_label(store_dir, "990000000000", "en") + ": monthly monitoring brief") and "Counties side by side" in text
    assert all(_label(store_dir, c.ljust(12, "0"), "en") in text for c in ("990101", "990102", "990201"))
    assert xlsx.exists()


@pytest.mark.parametrize(("argv", "lang", "says"), [
    (["--region", "9903"], "zh", "分析库中没有位于区域 990300000000 内的县"),
    (["--region", "9903"], "en", "holds no county inside region 990300000000"),
    (["--region", "990101"], "en", "is not valid: give a province's or a city's code"),
    (["--region", "99", "--period", "2019-01"], "zh", "分析库中没有 2019年1月 的数据"),
    (["--region", "99", "--period", "2019-01"], "en", "has no data for 2019-01 (months held: 2023-01 to 2023-05)"),
    (["--region", "99", "--period", "2019-13"], "en", "not a month"),
])
def test_errors_are_said_in_the_users_language(store_dir: str, tmp_path: Path, capsys, argv: list[str], lang: str, says: str) -> None:
    args = {"--period": _last(store_dir), "--out": str(tmp_path / "b.docx"), "--store": store_dir, "--lang": lang}
    it = iter(argv)
    args |= dict(zip(it, it))
    assert main(["brief", *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fanpin: ") and says in err
    assert not (tmp_path / "b.docx").exists()


def test_an_empty_store_is_named(tmp_path: Path, capsys) -> None:
    assert main(["brief", "--region", "99", "--period", "2024-01", "--out", str(tmp_path / "b.docx"), "--store", str(tmp_path / "none"), "--lang", "en"]) == 2
    assert "is empty: run `fanpin snapshot sync`" in capsys.readouterr().err


def test_with_a_database_the_brief_is_audited_as_the_os_user(store_dir: str, tmp_path: Path) -> None:
    import getpass

    url = f"sqlite:///{tmp_path / 'app.db'}"
    store.upgrade(store.make_engine(url, create=True))
    out = tmp_path / "b.docx"
    assert main(["brief", "--db", url, "--region", "9902", "--period", _last(store_dir), "--out", str(out), "--store", store_dir]) == 0
    with store.make_engine(url).connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == "brief")).all()
    assert [tuple(r) for r in rows] == [(f"cli:{getpass.getuser()}", f"990200000000:{_last(store_dir).replace('-', '')}")]
