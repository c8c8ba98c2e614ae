"""What an imported file may carry into the database (issue 17): household IDs in the national format
only, no invisible characters in any cell, phone numbers that are phone numbers, boundaries that
are geometries; and an import of real data ends the database's life as the demo county.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.cli.main import main
from fanpin.ingest import apply
from fanpin.store import meta
from fanpin.store import schema as S
from fanpin.store.io import set_meta
from fanpin.store.regions import township_geojson
from tests.ingest.corpus import fixture as fx
from tests.ingest.test_ingest import NOW, state

STEWARD = Principal("steward", "data_steward")
ATTACK = "![](//host/x)"


@pytest.fixture
def fx_url(db_url: str) -> str:
    fx.build(store.make_engine(db_url, create=True))
    return db_url


def _count(url: str, table) -> int:
    with store.make_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _imp(url: str, kind: str, text: str) -> apply.ImportResult:
    return apply.import_file(store.make_engine(url), kind, text.encode("utf-8"), "f.csv", principal=STEWARD, today=fx.TODAY, now=NOW)


def _messages(result, lang: str = "zh") -> list[tuple]:
    return [(r, c, m) for r, c, _v, m, _s in result.report.messages(lang)]


# --------------------------------------------------------------------------- household IDs
def test_a_markdown_household_id_is_refused_by_fanpin_import_and_nothing_is_written(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The original attack: a roster row whose 户编号 is an image link; every page showing the ID
    would have made the browser fetch //host/x."""
    f = tmp_path / "hh.csv"
    f.write_text(f"户编号,行政村代码,户类型,家庭人口数\n{ATTACK},{fx.V2},一般农户,3\n99010100100200009,{fx.V2},一般农户,2\n", encoding="utf-8")
    before = state(store.make_engine(fx_url))
    assert main(["import", "--db", fx_url, "--kind", "households", str(f)]) == 1
    err = capsys.readouterr().err
    assert "行 2 · 户编号 [![](//host/x)]: 户编号格式不对：只能含字母、数字、“-”和“_”，以字母或数字开头，最多 20 个字符" in err
    assert "文件未导入：有 1 处错误" in err
    after = state(store.make_engine(fx_url))
    assert {k: v for k, v in after.items() if "import_batches" not in k and "audit_log" not in k} == \
        {k: v for k, v in before.items() if "import_batches" not in k and "audit_log" not in k}
    assert main(["import", "--db", fx_url, "--kind", "households", "--lang", "en", "--dry-run", str(f)]) == 1
    assert "Malformed household ID: letters, digits" in capsys.readouterr().err


@pytest.mark.parametrize("kind,text", [
    ("panel", "年月,户编号,家庭纯收入,家庭人均纯收入\n202405,<b>1</b>,1,1\n"),
    ("assistance", f"户编号,开始时间,帮扶措施\n{fx.H1} 1,202405,产业帮扶\n"),
    ("feeds", "户编号,年月,来源部门,风险类型\n[a](javascript:x),202405,医保,因病\n"),
])
def test_every_kind_checks_the_household_id_format(fx_url: str, kind: str, text: str) -> None:
    result = _imp(fx_url, kind, text)
    assert result.status == "refused"
    assert [m for _r, c, m in _messages(result, "en") if c == "户编号"][0].startswith("Malformed household ID")


def test_invisible_characters_are_stripped_from_every_cell_before_validation(fx_url: str) -> None:
    """A right-to-left override and zero-width spaces in names, an ID number, a household ID and a
    header: stored without them (the ID then matches its household, the header its column)."""
    rlo, zw = "\u202e", "\u200b"
    child = fx.ID_NEW_CHILD
    text = (f"户编号,姓名{zw},证件号码,与户主关系,劳动技能\n"
            f"{fx.H1},张{rlo}伟{zw},{fx.ID_H1_HEAD},户主,普通劳动力\n"
            f"{zw}{fx.H1}{rlo},{rlo}张小{zw}明,{child[:6]}{zw}{child[6:]},之子,无劳动力\n")
    _imp(fx_url, "members", text)
    with store.make_engine(fx_url).connect() as conn:
        m = S.members.c
        got = dict(conn.execute(select(m.id_number, m.name).where(m.household_id == fx.H1)).all())
    assert got[fx.ID_H1_HEAD] == "张伟" and got[child] == "张小明"
    assert all(ch not in "".join(got.values()) for ch in (rlo, zw))


# --------------------------------------------------------------------------- phone numbers
def test_phone_numbers_are_mobile_or_landline(fx_url: str) -> None:
    good = [("13912345678", "13912345678"), ("139-1234-5678", "13912345678"), ("0851-12345678", "0851-12345678"), ("01012345678", "01012345678"), ("", None)]
    bad = ["12345678901", "1391234567", "139123456789", "+86 139", "![](//h/x)", "0851-123"]
    rows = [f"9901010010020{i:04d},{fx.V2},一般农户,1,{p}" for i, (p, _) in enumerate(good + [(b, None) for b in bad])]
    result = _imp(fx_url, "households", "户编号,行政村代码,户类型,家庭人口数,联系电话\n" + "\n".join(rows) + "\n")
    assert result.status == "refused"
    msgs = _messages(result)
    assert [r for r, _c, _m in msgs] == list(range(2 + len(good), 2 + len(good) + len(bad)))
    assert {m for _r, _c, m in msgs} == {"电话号码格式不对：应为 11 位手机号（1 开头，第二位 3-9）或带区号的固定电话（如 0851-12345678）"}
    assert _count(fx_url, S.households) == 3
    result = _imp(fx_url, "households", "户编号,行政村代码,户类型,家庭人口数,联系电话\n" + "\n".join(rows[: len(good)]) + "\n")
    assert result.status == "applied"
    with store.make_engine(fx_url).connect() as conn:
        h = S.households.c
        stored = dict(conn.execute(select(h.household_id, h.phone).where(h.household_id.like("99010100100200%"))).all())
    assert [stored[f"9901010010020{i:04d}"] for i in range(len(good))] == [g for _p, g in good]


# --------------------------------------------------------------------------- boundaries
SQUARE = {"type": "Polygon", "coordinates": [[[106.0, 26.0], [106.1, 26.0], [106.1, 26.1], [106.0, 26.1], [106.0, 26.0]]]}


def _regions_csv(geometries: list) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["行政区划代码", "级别", "上级区划代码", "名称", "边界(GeoJSON)"])
    w.writerows([f"99010100{3 + i}000", "乡镇", fx.COUNTY, f"新镇{i}", g if isinstance(g, str) else json.dumps(g)] for i, g in enumerate(geometries))
    return out.getvalue()


def test_region_boundaries_are_checked_at_import(fx_url: str) -> None:
    """A boundary is json.loads'ed for the map and the brief: nested brackets, bad JSON, a point, a
    self-crossing ring or projected metres are refused at the door, one message per row."""
    bow_tie = {"type": "Polygon", "coordinates": [[[106, 26], [106.1, 26.1], [106.1, 26], [106, 26.1], [106, 26]]]}
    metres = {"type": "Polygon", "coordinates": [[[500000, 3000000], [500100, 3000000], [500100, 3000100], [500000, 3000000]]]}
    geometries = [json.dumps(SQUARE), "[" * 5000 + "]" * 5000, "{not json", json.dumps({"type": "Point", "coordinates": [106, 26]}),
                  json.dumps(bow_tie), json.dumps(metres), json.dumps({"type": "Polygon", "coordinates": [[[1]]]})]
    before = _count(fx_url, S.regions)
    result = _imp(fx_url, "regions", _regions_csv(geometries))
    assert result.status == "refused"
    msgs = {r: m for r, _c, m in _messages(result)}
    assert sorted(msgs) == [3, 4, 5, 6, 7, 8]
    assert msgs[3] == "边界不是可用的 GeoJSON 几何：括号嵌套层数过多"
    assert msgs[4].startswith("边界不是可用的 GeoJSON 几何：不是有效的 JSON（line 1, column 2")
    assert msgs[5] == "边界不是可用的 GeoJSON 几何：类型不是 Polygon 或 MultiPolygon（Point）"
    assert msgs[6].startswith("边界不是可用的 GeoJSON 几何：几何无效（Self-intersection")
    assert msgs[7].startswith("边界不是可用的 GeoJSON 几何：坐标不是经纬度")
    assert msgs[8].startswith("边界不是可用的 GeoJSON 几何：几何无效（")
    assert {r: m for r, _c, m in _messages(result, "en")}[3] == "The boundary is not a usable GeoJSON geometry: brackets nested far too deep"
    assert _count(fx_url, S.regions) == before
    assert _imp(fx_url, "regions", _regions_csv([SQUARE])).status == "applied"
    fc = township_geojson(store.make_engine(fx_url))
    assert next(f for f in fc["features"] if f["id"] == "990101003000")["geometry"] == SQUARE


# --------------------------------------------------------------------------- the demo flag
def _demo(url: str) -> None:
    with store.make_engine(url).begin() as conn:
        set_meta(conn, "demo", "1")


def test_an_import_of_real_data_ends_the_demo_county(fx_url: str) -> None:
    """Trainers see the demo county only, and ``fanpin demo`` replaces only a demo database: once
    real households are imported into it, it is neither."""
    from fanpin.cli.main import _is_replaceable

    _demo(fx_url)
    engine = store.make_engine(fx_url)
    _imp(fx_url, "regions", "行政区划代码,级别,上级区划代码,名称\n520102000000,县,,南明区\n")
    assert not meta.is_demo(engine)
    assert not _is_replaceable(fx_url)
    with engine.connect() as conn:
        detail = conn.execute(select(S.audit_log.c.detail).where(S.audit_log.c.action == "import")).scalar()
    assert json.loads(detail)["demo_cleared"] is True


def test_an_import_about_the_demo_county_keeps_it_a_demo(fx_url: str) -> None:
    """Rows whose region codes, ID numbers and household IDs all begin with 99 (no real province)
    are about the synthetic county: the sample workbook, a trainer's prepared file.  A refused
    file changes nothing either."""
    _demo(fx_url)
    engine = store.make_engine(fx_url)
    _imp(fx_url, "households", f"户编号,行政村代码,户类型,家庭人口数\n99010100100200001,{fx.V2},一般农户,3\n")
    _imp(fx_url, "panel", f"年月,户编号,家庭纯收入,家庭人均纯收入\n202405,{fx.H1},20000,10000\n")
    assert meta.is_demo(engine)
    real = fx.idn("19800101", "031", addr="520102")
    assert _imp(fx_url, "members", f"户编号,姓名,证件号码,与户主关系,劳动技能\n{ATTACK},王五,{real},之子,普通劳动力\n").status == "refused"
    assert meta.is_demo(engine)
    _imp(fx_url, "members", f"户编号,姓名,证件号码,与户主关系,劳动技能\n{fx.H1},王五,{real},之子,普通劳动力\n")
    assert not meta.is_demo(engine)
