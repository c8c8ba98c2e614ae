"""Importing a large household roster (and its members): validation and writing, on SQLite.

    .venv/bin/python bench/ingest.py                  # 100k households (+ ~3 members each)
    .venv/bin/python bench/ingest.py --households 20000 --no-members

Builds a fresh demo-like SQLite database with the demo county's regions (a 200-household demo
county, so regions exist), writes a CSV roster of N new households spread over its villages
(and a members CSV with valid ID numbers), then times ``fanpin.ingest.validate`` and
``fanpin.ingest.apply`` separately (wall and this process's CPU seconds: the machines are shared)
and reports the peak RSS above the start of each step.  What an import does after its commit (the
columnar copy and the panel scores for the next page view, ``fanpin.ingest.after.prepared``) is
timed apart and left out of the total.
Target from the issue: at most 30 s for validation + import of 100k households on SQLite.
``--workbook`` (on by default) also imports the same households as one national-layout workbook
(households with monitoring records, members, yearly incomes, measures: issue 14, target 60 s)
into a fresh database.
Never asserts on time.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from _common import fmt_bytes, peak_rss_delta, print_environment, print_table


def roster(villages: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
    v = villages[rng.integers(0, len(villages), n)]
    ids = np.char.add(np.char.add("B", v.astype(str)), np.char.zfill(np.arange(n).astype(str), 7))
    return pd.DataFrame({
        "户编号": ids,
        "行政村代码": v,
        "户类型": np.where(rng.random(n) < 0.3, "脱贫户", "一般农户"),
        "家庭人口数": rng.integers(1, 7, n),
        "联系电话": np.char.add("139", np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8)),
        "居住在易地扶贫搬迁集中安置区": np.where(rng.random(n) < 0.05, "是", "否"),
        "耕地面积(亩)": np.round(rng.gamma(2, 1.5, n), 1),
        "住房面积": np.round(rng.uniform(40, 150, n), 1),
        "与村主干路距离(公里)": np.round(rng.gamma(1.5, 1.2, n), 2),
        "是否加入农民专业合作组织": np.where(rng.random(n) < 0.3, "是", "否"),
        "住房安全有保障": "是",
        "建档年月": "202401",
    })


def members(hh: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    from fanpin.demo.population import make_id_numbers

    size = hh["家庭人口数"].to_numpy()
    hid = np.repeat(hh["户编号"].to_numpy(), size)
    n = len(hid)
    birth = np.datetime64("2024-01-15") - (rng.uniform(1, 85, n) * 365.25).astype("timedelta64[D]")
    female = rng.random(n) < 0.5
    ids = make_id_numbers("990150", birth, female)  # not the demo county's 990101: no clash
    first = np.r_[True, hid[1:] != hid[:-1]]
    return pd.DataFrame({
        "户编号": hid,
        "姓名": np.where(female, "李芳", "张伟"),
        "证件号码": ids,
        "与户主关系": np.where(first, "户主", "子女"),
        "劳动技能": rng.choice(["普通劳动力", "弱劳动力或半劳动力", "无劳动力"], n),
        "健康状况": rng.choice(["健康", "长期慢性病", "患有大病"], n, p=[0.85, 0.12, 0.03]),
        "在校生情况": "非在校生",
        "是否参加城乡居民基本医疗保险": "是",
    })


@contextmanager
def _after_commit(spent: dict) -> Iterator[None]:
    """Time what an import does after its transaction commits (``fanpin.ingest.after.prepared``: the
    columnar copy and the panel scores for the next page view), so that it is reported apart."""
    from fanpin.ingest import after

    prepared = after.prepared

    def timed(engine):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return prepared(engine)
        finally:
            spent["wall"] += time.perf_counter() - t0
            spent["cpu"] += time.process_time() - c0

    after.prepared = timed
    try:
        yield
    finally:
        after.prepared = prepared


def _timed(fn):
    """(result, wall s, CPU s of this process) of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _row(title: str, rows: int, size: int, v: tuple, a: tuple, prep: dict, mem_v: dict, mem_a: dict) -> list:
    """validate and import (wall, with CPU in brackets), the after-commit part of the import apart."""
    wall, cpu = v[1] + a[1] - prep["wall"], v[2] + a[2] - prep["cpu"]
    return [title, f"{rows:,}", f"{size / 1e6:.1f} MB", f"{v[1]:.2f} ({v[2]:.2f})", f"{a[1] - prep['wall']:.2f} ({a[2] - prep['cpu']:.2f})",
            f"{wall:.2f} ({cpu:.2f})", f"{prep['wall']:.2f} ({prep['cpu']:.2f})", f"{os.getloadavg()[0]:.1f}", fmt_bytes(mem_v["bytes"]), fmt_bytes(mem_a["bytes"])]


HEADERS = ["kind", "rows", "file", "validate s (CPU)", "import s (CPU)", "total s (CPU)", "after commit s (CPU)", "load", "peak RSS validate", "peak RSS import"]


def step(engine, kind: str, data: bytes, name: str, title: str | None = None) -> list:
    from fanpin.access.roles import SYSTEM
    from fanpin.ingest import apply, validate

    with peak_rss_delta() as mem_v:
        v = _timed(lambda: validate.validate(engine, kind, data, name, principal=SYSTEM))
    report = v[0]
    assert report.ok, report.text("en", 10)
    prep = {"wall": 0.0, "cpu": 0.0}
    with peak_rss_delta() as mem_a, _after_commit(prep):
        a = _timed(lambda: apply.apply(engine, report, principal=SYSTEM))
    assert a[0].status == "applied"
    return _row(title or kind, report.n_rows, len(data), v, a, prep, mem_v, mem_a)


def national_workbook(hh: pd.DataFrame, mem: pd.DataFrame, rng: np.random.Generator) -> bytes:
    """The roster as the national system exports it: one workbook, title rows, units in headers,
    labels; the household sheet with the monitoring record (a tenth of the households monitored),
    members, the year's income by source and sub-item, measures with 开始时间/结束时间."""
    from openpyxl import Workbook

    n = len(hh)
    monitored = rng.random(n) < 0.1
    roster = hh.drop(columns=["识别监测时间"], errors="ignore").assign(**{
        "监测对象类别": np.where(monitored, rng.choice(["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"], n), ""),
        "致贫/返贫风险1": np.where(monitored, rng.choice(["因病", "因残", "因学", "因自然灾害", "因务工就业不稳"], n), ""),
        "识别监测时间": np.where(monitored, "202403", ""),
        "风险是否已消除": np.where(monitored, "否", ""),
        "危房等级": rng.choice(["无", "A级", "B级", "C级"], n, p=[0.9, 0.05, 0.03, 0.02]),
        "耕地面积（亩）": hh["耕地面积(亩)"],
    }).drop(columns=["耕地面积(亩)"])
    wage = np.round(rng.gamma(2, 8000, n))
    incomes = pd.DataFrame({"年度": 2024, "户编号": hh["户编号"], "工资性收入（元）": wage, "其中：务工收入（元）": wage,
                            "生产经营性收入（元）": 3000.0, "其中：种植业收入（元）": 3000.0, "家庭纯收入（元）": wage + 3000,
                            "家庭人均纯收入（元）": np.round((wage + 3000) / hh["家庭人口数"], 2), "合规自付支出（元）": 0.0})
    who = hh["户编号"].to_numpy()[monitored]
    measures = pd.DataFrame({"户编号": who, "帮扶措施": rng.choice(["产业帮扶", "就业帮扶", "公益岗位帮扶", "健康帮扶"], len(who)),
                             "开始时间": "2024-04-01", "结束时间": "2024-12-31", "帮扶金额（元）": 2000.0, "帮扶责任人": "刘洋", "帮扶单位": "县乡村振兴局"})
    wb = Workbook(write_only=True)
    for title, frame in (("家庭基本信息", roster), ("家庭成员信息", mem), ("家庭收支情况", incomes), ("帮扶措施", measures)):
        ws = wb.create_sheet(title)
        ws.append([f"测试县防止返贫监测 {title}"])
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def workbook_step(engine, data: bytes) -> list:
    """Validate and import the whole workbook (every sheet checked, one transaction)."""
    from fanpin.access.roles import SYSTEM
    from fanpin.ingest import book, workbook

    with peak_rss_delta() as mem_v:
        v = _timed(lambda: workbook.validate_workbook(engine, data, "national.xlsx", principal=SYSTEM))
    report = v[0]
    assert report.ok, report.text("en", 10)
    prep = {"wall": 0.0, "cpu": 0.0}
    with peak_rss_delta() as mem_a, _after_commit(prep):
        a = _timed(lambda: book.apply_workbook(engine, report, principal=SYSTEM))
    assert a[0].status == "applied"
    rows = sum(p.report.n_rows for p in report.parts)
    return _row("national workbook (4 sheets, 6 tables)", rows, len(data), v, a, prep, mem_v, mem_a)


def _fresh(tmp: str, name: str):
    from fanpin import store
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec

    engine = store.make_engine(f"sqlite:///{Path(tmp) / name}", create=True)
    store.upgrade(engine)
    build_demo(engine, DemoSpec(households=200, months=3, townships=14, villages=200))
    return engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--no-members", action="store_true")
    ap.add_argument("--workbook", action=argparse.BooleanOptionalAction, default=True,
                    help="also the same households as one national-layout workbook (target: validate + import <= 60 s)")
    ap.add_argument("--only-workbook", action="store_true", help="only the workbook case")
    args = ap.parse_args()
    print_environment()
    from fanpin import store
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec
    from fanpin.report.export import csv_bytes

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = store.make_engine(url, create=True)
        store.upgrade(engine)
        build_demo(engine, DemoSpec(households=200, months=3, townships=14, villages=200))
        with engine.connect() as conn:
            villages = np.array([r[0] for r in conn.exec_driver_sql("SELECT region_code FROM regions WHERE level = 'village'")])
        hh = roster(villages, args.households, rng)
        rows = []
        if not args.only_workbook:
            rows.append(step(engine, "households", csv_bytes(hh), "roster.csv"))
            changed = hh.assign(**{"联系电话": np.char.add("138", np.char.zfill(rng.integers(0, 10**8, len(hh)).astype(str), 8))})
            rows.append(step(engine, "households", csv_bytes(changed), "roster-updated.csv", "households (every row updated)"))
            if not args.no_members:
                rows.append(step(engine, "members", csv_bytes(members(hh, rng)), "members.csv"))
        if args.workbook:
            book_rows = members(hh, rng) if not args.no_members else pd.DataFrame({"户编号": [], "证件号码": []})
            data = national_workbook(hh, book_rows, np.random.default_rng(8))
            rows.append(workbook_step(_fresh(tmp, "book.db"), data))  # a fresh database: the same households are new there
        print_table(HEADERS, rows, title=f"fanpin import on SQLite ({args.households:,} new households)")
        print("seconds wall (CPU seconds of this process); total = validate + import up to its commit; 'after commit' is what the\n"
              "import does once committed (the columnar copy and panel scores for the next page view), not in the total; load: 1-min\n"
              "load average after the step")


if __name__ == "__main__":
    main()
