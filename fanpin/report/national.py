"""The county in the national monitoring system's layout: one workbook, a sheet per table, a
title row, headers and value labels as the bureau's system writes them (from
``fanpin.ingest.names``), personal columns masked unless the principal may unmask.

Sheets: fanpin's 行政区划 (the county's regions, so that an empty database can take the file), 家庭基本信息 (the roster with the monitoring record: 监测对象类别, 致贫/返贫风险1-5 …),
家庭成员信息, 家庭收支情况 (yearly, by source and sub-item), 帮扶措施 (开始时间/结束时间), and
fanpin's 月度指标 (the monthly panel).  The national system's own export has no monthly sheet;
fanpin writes it (unless ``panel=False``) because the risk tiers are computed from the monthly
panel: with it, the file imported into an empty database gives back the same households,
members, records, incomes, measures *and tiers*.  A sheet holds at most :data:`MAX_ROWS` rows;
a longer panel goes on several sheets (月度指标1, 月度指标2 …), which the import reads alike.
A last small sheet, 监测收入标准 (年度, 监测收入标准（元）), carries the province's yearly income lines
stored with the data (``fanpin.ingest.lines`` reads it back), so the round trip keeps them.

:func:`national_workbook` makes the file (rights checked, nothing audited: the page's download
button audits through ``fanpin.ui.downloads.download_file``); :func:`export_national` makes it
and writes the one ``export`` audit row through ``fanpin.report.export.export_file``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.masking import mask_frame
from fanpin.access.roles import Principal, require
from fanpin.core.i18n import label
from fanpin.ingest import lines as lines_sheet
from fanpin.ingest import names
from fanpin.ingest.specs import INCOME_ITEMS, SPECS, Col
from fanpin.report.export import XLSX_MIME, escape_cell, export_file
from fanpin.store import imports as store
from fanpin.store import meta as meta_store
from fanpin.store import monitoring_records

__all__ = ["MAX_ROWS", "SHEETS", "XLSX_MIME", "export_national", "national_workbook"]

#: Data rows per sheet (Excel holds 1,048,576 rows; two are the title and the note).
MAX_ROWS = 1_000_000
_MONEY = {c for c, _en in INCOME_ITEMS}


@dataclass(frozen=True)
class Sheet:
    """One sheet of the layout: its name, the import kind its columns come from, the columns
    as (kind, column) in the national order; ("info", …) columns are place names."""

    name: str
    columns: tuple[tuple[str, str], ...]


_H, _M = "households", "monitoring"
SHEETS: tuple[Sheet, ...] = (
    Sheet("行政区划", tuple(("regions", c) for c in ("region_code", "level", "parent_code", "name", "name_en", "lon", "lat", "geometry"))),
    Sheet("家庭基本信息", (
        ("info", "township"), ("info", "village"), (_H, "household_id"), (_H, "village_code"), (_H, "household_type"), (_H, "size"), (_H, "phone"),
        (_M, "monitoring_category"), *((_M, c) for c in names.RISK_COLUMNS), (_M, "disaster_subitem"), (_M, "identified_period"), (_M, "eliminated"),
        (_M, "elimination_method"), (_M, "eliminated_period"), (_H, "no_labour_guarantee"), (_M, "development_measures"), (_H, "relocated"),
        (_H, "farmland_mu"), (_H, "house_area"), (_H, "housing_grade"), (_H, "road_distance_km"), (_H, "in_cooperative"), (_H, "housing_secured"),
        (_H, "housing_problem"), (_H, "dropout"), (_H, "water_problem"), (_H, "uninsured_member"), (_H, "created_period"), (_H, "lon"), (_H, "lat"),
    )),
    Sheet("家庭成员信息", tuple(("members", c) for c in (
        "household_id", "name", "sex", "id_number", "relation", "ethnicity", "education", "schooling", "health", "disability", "labour_capacity",
        "work_location", "work_months", "medical_insurance", "serious_illness_insurance", "pension_insurance", "dibao", "tekun", "public_welfare_job",
        "welfare_job_months", "deceased_period",
    ))),
    Sheet("家庭收支情况", (("incomes", "year"), ("incomes", "household_id"), *(("incomes", c) for c, _en in INCOME_ITEMS))),
    Sheet("帮扶措施", tuple(("assistance", c) for c in ("household_id", "measure", "period", "end_period", "amount", "description", "cadre", "cadre_unit"))),
    Sheet("月度指标", tuple(("panel", c.name) for c in SPECS["panel"].columns)),
)
_INFO_HEADERS = {"township": "乡镇", "village": "行政村"}


def header(kind: str, column: str) -> str:
    """The column's header as the national system writes it: full-width brackets, money in （元）,
    sub-items after 其中：."""
    if kind == "info":
        return _INFO_HEADERS[column]
    h = SPECS[kind].col(column).zh.replace("(", "（").replace(")", "）")
    if kind == "incomes" and column in _MONEY:
        sub = not column.startswith(("income_", "business_cost", "insurance", "medical"))
        h = ("其中：" if sub else "") + h + "（元）"
    return h


def value_label(kind: str, col: Col, code: str) -> str:
    """A code as the national system names it: the first name in the mapping table, else its zh label."""
    found = names.first_value(kind, col.name, code)
    if found is not None:
        return found
    return label(col.label_kind, code, "zh") if col.label_kind else code


def _codes(kind: str, col: Col, s: pd.Series) -> pd.Series:
    table = {code: value_label(kind, col, code) for code in col.codes}
    if col.type == "code_list":
        return s.map(lambda v: "、".join(table.get(x, x) for x in str(v).split(",") if x) if isinstance(v, str) else None)
    return s.map(lambda v: table.get(str(v), str(v)) if v is not None and v == v else None)


def _health(frame: pd.DataFrame) -> pd.Series:
    """健康状况 with 残疾 beside the illness ("长期慢性病,残疾"), as the national system combines them."""
    ill = frame["health"].map({"chronic": "长期慢性病", "serious": "患有大病"}).fillna("")
    disabled = pd.to_numeric(frame["disability"]).fillna(0).to_numpy() > 0
    both = np.where(disabled & (ill != ""), ill + ",残疾", np.where(disabled, "残疾", np.where(ill == "", "健康", ill)))
    return pd.Series(both, index=frame.index, dtype=object)


def _relation(frame: pd.DataFrame) -> pd.Series:
    col = SPECS["members"].col("relation")
    plain = _codes("members", col, frame["relation"])
    male = frame["sex"].eq("M").to_numpy()
    by_sex = frame["relation"].map(lambda r: names.BY_SEX.get(r))
    chosen = [pair[0 if m else 1] if isinstance(pair, tuple) else p for pair, m, p in zip(by_sex, male, plain)]
    return pd.Series(chosen, index=frame.index, dtype=object)


def format_column(kind: str, column: str, frame: pd.DataFrame) -> pd.Series:
    """One column of a sheet as cell values: labels for codes, 是/否, whole numbers for months."""
    s = frame[column]
    if kind == "members" and column == "health":
        return _health(frame)
    if kind == "members" and column == "relation":
        return _relation(frame)
    col = SPECS[kind].col(column)
    if col.type == "bool":
        return s.map(lambda v: None if v is None or v != v else ("是" if bool(v) else "否"))
    if col.codes:
        return _codes(kind, col, s)
    if col.type in ("period", "year", "int"):
        return s.map(lambda v: None if v is None or v != v else int(v))
    if col.type == "float":
        return pd.to_numeric(s).astype(float).map(lambda v: None if v != v else (int(v) if float(v).is_integer() else float(v)))
    return s.map(lambda v: None if v is None or v != v else escape_cell(str(v)))


# --------------------------------------------------------------------------- the data


def _household_frame(engine: Engine) -> pd.DataFrame:
    hh = store.table_frame(engine, "households", order_by=("household_id",))
    rec = monitoring_records.records(engine).drop(columns=["no_labour_guarantee", "updated_at"])
    regions = store.table_frame(engine, "regions", ["region_code", "name"]).set_index("region_code")["name"]
    out = hh.merge(rec, on="household_id", how="left")
    out["township"] = out["township_code"].map(regions)
    out["village"] = out["village_code"].map(regions)
    out["eliminated"] = out["eliminated"].where(out["monitoring_category"].notna() | out["identified_period"].notna(), None)
    return out


def _frames(engine: Engine, panel: bool) -> dict[str, Callable[[], pd.DataFrame]]:
    return {
        "行政区划": lambda: store.table_frame(engine, "regions", order_by=("region_code",)),
        "家庭基本信息": lambda: _household_frame(engine),
        "家庭成员信息": lambda: store.table_frame(engine, "members", order_by=("household_id", "member_id")),
        "家庭收支情况": lambda: store.table_frame(engine, "yearly_incomes", order_by=("household_id", "year")),
        "帮扶措施": lambda: store.table_frame(engine, "assistance", order_by=("household_id", "period", "assistance_id")),
        **({"月度指标": lambda: store.table_frame(engine, "panel", order_by=("period", "household_id"))} if panel else {}),
    }


def _write_sheet(wb, title: str, heading: str, sheet: Sheet, frame: pd.DataFrame) -> None:  # noqa: ANN001 - an openpyxl write-only workbook
    ws = wb.create_sheet(title[:31])
    ws.append([heading])
    ws.append(["注：金额单位为元；时间为年月（YYYYMM）；取值与全国防止返贫监测信息系统一致。"])
    ws.append([header(k, c) for k, c in sheet.columns])
    cells = [frame[c].to_numpy(dtype=object) if k == "info" else format_column(k, c, frame).to_numpy(dtype=object) for k, c in sheet.columns]
    for row in zip(*cells):
        ws.append([None if (isinstance(v, float) and v != v) else v for v in row])


def _write_lines(wb, heading: str, lines: dict[int, float]) -> None:  # noqa: ANN001 - an openpyxl write-only workbook
    """The province's income lines, one row a year (no sheet when none is stored)."""
    if not lines:
        return
    ws = wb.create_sheet(lines_sheet.SHEET_NAME)
    ws.append([heading])
    ws.append(["注：省定监测收入标准，元/人·年；全国系统的导出无此表，由 fanpin 附加。"])
    ws.append(list(lines_sheet.HEADERS))
    for year, yuan in sorted(lines.items()):
        ws.append([int(year), int(yuan) if float(yuan).is_integer() else float(yuan)])


def _county_name(engine: Engine) -> str:
    regions = store.table_frame(engine, "regions", ["region_code", "level", "name"])
    county = regions[regions["level"] == "county"]
    return str(county["name"].iloc[0]) if len(county) else ""


def national_workbook(
    engine: Engine, principal: Principal, *, unmasked: bool = False, panel: bool = True, today: date | None = None, households: Sequence[str] | None = None
) -> bytes:
    """The county as a workbook in the national layout (see the module docstring); names, ID
    numbers and phones masked unless ``unmasked`` (which needs the unmask right); ``households``:
    only these (a sample), with every region."""
    require(principal, "export")
    if unmasked:
        require(principal, "unmask")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    county, day = _county_name(engine), (today or date.today()).isoformat()
    for sheet in SHEETS:
        make = _frames(engine, panel).get(sheet.name)
        if make is None:
            continue
        frame = make()
        if households is not None and "household_id" in frame:
            frame = frame[frame["household_id"].isin(set(households))]
        if not unmasked:
            frame = mask_frame(frame)
        heading = f"{county}防止返贫监测 {sheet.name}（{day} 由 fanpin 导出）"
        parts = _split(frame) if sheet.name == "月度指标" else [frame]
        for i, part in enumerate(parts, 1):
            _write_sheet(wb, sheet.name + (str(i) if len(parts) > 1 else ""), heading, sheet, part)
    _write_lines(wb, f"{county}防止返贫监测 {lines_sheet.SHEET_NAME}（{day} 由 fanpin 导出）", meta_store.income_lines(engine))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _split(frame: pd.DataFrame) -> Sequence[pd.DataFrame]:
    """The panel in sheets of at most :data:`MAX_ROWS` rows, whole months each where a month fits."""
    if len(frame) <= MAX_ROWS:
        return [frame]
    return [frame.iloc[i : i + MAX_ROWS] for i in range(0, len(frame), MAX_ROWS)]


def export_national(engine: Engine, principal: Principal, *, unmasked: bool = False, panel: bool = True) -> bytes:
    """:func:`national_workbook`, handed out with its ``export`` audit row (who, masked or not)."""
    data = national_workbook(engine, principal, unmasked=unmasked, panel=panel)
    return export_file(engine, principal, data, "national_export", "xlsx", {"unmasked": bool(unmasked), "panel": bool(panel)})
