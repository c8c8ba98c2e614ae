"""The demo county in the national monitoring system's layout: the sample a trainer imports.

    .venv/bin/python -m fanpin.demo.national_sample            # writes data/demo_national_export.xlsx

:func:`fill_national_tables` gives a demo county the two tables the national system holds and
the demo's simulation does not write: each monitored household's record (from the monitoring
history the workflow replay wrote) and the yearly income by source and sub-item (from the panel's
last month of each year: its figures are rolling 12-month sums; the sub-items are split from the
source totals by fixed shares).  :func:`write_sample` builds the default demo county into a
temporary database, fills those tables, and exports a few hundred of its households (the
monitored ones first) through ``fanpin.report.national``, unmasked: the county is synthetic (its
region codes begin with 99, so no ID number can be a real person's) and a masked file could not
be imported.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import SYSTEM, Principal, require
from fanpin.store import imports as store
from fanpin.store import monitoring_records
from fanpin.store.engine import PROJECT_ROOT
from fanpin.store.io import bump_data_version

SAMPLE_PATH = PROJECT_ROOT / "data" / "demo_national_export.xlsx"
SAMPLE_HOUSEHOLDS = 300
#: How a source total is split into the national sub-items (shares of the total).
_SPLITS = {
    "income_business": {"business_farming": 0.6, "business_livestock": 0.3, "business_forestry": 0.1},
    "income_property": {"property_dividend": 0.7, "property_land": 0.3},
}


def yearly_incomes(panel: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """One row per household and year from the panel's last month of the year (rolling sums)."""
    p = panel.assign(year=panel["period"] // 100).sort_values("period").groupby(["household_id", "year"], as_index=False).last()
    welfare = members.groupby("household_id")["public_welfare_job"].sum()
    out = p[["year", "household_id", "income_wage", "income_business", "income_property", "income_transfer", "business_cost", "income_net", "income_pc", "medical_oop"]].copy()
    job = np.minimum(out["income_wage"].fillna(0).to_numpy(), 6000.0 * out["household_id"].map(welfare).fillna(0).to_numpy())
    out["wage_welfare_job"] = job
    out["wage_work"] = out["income_wage"].fillna(0).to_numpy() - job
    for total, parts in _SPLITS.items():
        rest = out[total].fillna(0).to_numpy().copy()
        for i, (c, share) in enumerate(parts.items()):
            out[c] = rest if i == len(parts) - 1 else np.round(out[total].fillna(0).to_numpy() * share, 2)
            rest = rest - (0 if i == len(parts) - 1 else out[c].to_numpy())
    benefits = p["benefits"].fillna(0).to_numpy()
    out["transfer_dibao"] = np.where(p["dibao"].astype(bool), benefits, 0.0)
    out["transfer_tekun"] = np.where(p["dibao"].astype(bool), 0.0, benefits)
    rest = np.maximum(out["income_transfer"].fillna(0).to_numpy() - benefits, 0.0)
    out["transfer_pension"] = np.round(rest * 0.6, 2)
    out["transfer_ecological"] = np.round(rest * 0.1, 2)
    out["transfer_other"] = rest - out["transfer_pension"] - out["transfer_ecological"]
    out["insurance_payout"] = 0.0
    return out.reset_index(drop=True)


def fill_national_tables(engine: Engine, *, principal: Principal) -> dict[str, int]:
    """Write the monitoring records (from the history) and the yearly incomes (from the panel) of
    a demo county; row counts.  Replaces what those two tables held."""
    require(principal, "import")
    panel_cols = ["period", "household_id", "income_wage", "income_business", "income_property", "income_transfer", "business_cost",
                  "income_net", "income_pc", "medical_oop", "benefits", "dibao"]
    incomes = yearly_incomes(store.table_frame(engine, "panel", panel_cols), store.table_frame(engine, "members", ["household_id", "public_welfare_job"]))
    with engine.begin() as conn:
        records = monitoring_records.records_from_history(conn)
        store.delete_all(conn, "yearly_incomes")
        store.delete_all(conn, "monitoring_records")
        monitoring_records.write_records(conn, records)
        store.insert_rows(conn, "yearly_incomes", {c: incomes[c].to_numpy() for c in incomes.columns})
        bump_data_version(conn)
    return {"monitoring_records": len(records), "yearly_incomes": len(incomes)}


def sample_households(engine: Engine, n: int) -> list[str]:
    """``n`` households of the county: every monitored one (up to half), the rest spread evenly."""
    records = monitoring_records.records(engine)["household_id"].tolist()[: n // 2]
    everyone = store.table_frame(engine, "households", ["household_id"], order_by=("household_id",))["household_id"]
    others = everyone[~everyone.isin(records)].to_numpy()
    step = max(1, len(others) // max(1, n - len(records)))
    return sorted([*records, *others[::step][: n - len(records)].tolist()])


def write_sample(path: Path = SAMPLE_PATH, households: int = SAMPLE_HOUSEHOLDS) -> Path:
    """Build the default demo county, fill its national tables, write ``households`` of them."""
    from fanpin import store as db
    from fanpin.demo.build import build_demo
    from fanpin.report.national import national_workbook

    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}", create=True)
        db.upgrade(engine)
        build_demo(engine)
        fill_national_tables(engine, principal=SYSTEM)
        data = national_workbook(engine, SYSTEM, unmasked=True, households=sample_households(engine, households))
        engine.dispose()
    path.write_bytes(data)
    return path


def sample_bytes() -> bytes | None:
    """The committed sample workbook (None when it is missing from this installation)."""
    try:
        return SAMPLE_PATH.read_bytes()
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(SAMPLE_PATH))
    ap.add_argument("--households", type=int, default=SAMPLE_HOUSEHOLDS)
    args = ap.parse_args()
    print(f"wrote {write_sample(Path(args.out), args.households)}")


if __name__ == "__main__":
    main()
