"""Checks beyond a single cell: the header row, references to the database (regions, households,
people), rows repeating each other, and the members' own rules.  They read the database through
``fanpin.store.imports`` and write nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from fanpin.ingest.cells import Cells, spread
from fanpin.ingest.names import info_headers, norm
from fanpin.ingest.specs import header_map
from fanpin.store import imports as store

#: Kinds whose rows may name a person (ID number) instead of a household.
PERSON_KINDS: tuple[str, ...] = ("feeds", "dept_records")


def unknown_columns(cells: Cells, headers: list[str], accepted: bool) -> None:
    """Columns no table reads: an error until the user accepts dropping them (``accepted``), then a
    warning; columns an export repeats from elsewhere (序号, region names) are only noted."""
    info = info_headers()
    for h in headers:
        if norm(h) in info:
            cells.file_problem("info_column", column=h, severity="warning", header=h)
        elif accepted:
            cells.file_problem("unknown_column", column=h, severity="warning", header=h)
        else:
            cells.file_problem("unknown_column_unaccepted", column=h, header=h)


def map_headers(cells: Cells, *, accept_unknown: bool = False, only: frozenset[int] | None = None) -> bool:
    """Find each column of the kind in the header row (``cells.cols``); False on a file-level error.

    ``only``: the header positions this table owns (a workbook sheet may hold several tables; the
    sheet reports its unknown columns itself)."""
    spec, header = cells.spec, cells.grid.header
    hmap = header_map(spec)
    seen: dict[str, int] = {}
    unknown: list[str] = []
    for j, h in enumerate(header):
        if only is not None and j not in only:
            continue
        if not h.strip():
            if cells.raw[f"c{j}"].str.strip().ne("").any():
                cells.file_problem("blank_header", column=f"#{j + 1}", index=j + 1)
            continue
        name = hmap.get(norm(h))
        if name is None:
            unknown.append(h)
        elif name in seen:
            cells.file_problem("duplicate_column", column=h, header=h, first=header[seen[name]])
        else:
            seen[name] = j
    cells.cols = seen
    unknown_columns(cells, unknown, accept_unknown)
    for c in spec.columns:
        if c.required and c.name not in seen:
            cells.file_problem("missing_column", column=c.name, col=c, header={"zh": c.zh, "en": c.en})
    if spec.kind in PERSON_KINDS and "household_id" not in seen and "id_number" not in seen:
        cells.file_problem("missing_key_column", column="household_id", col=spec.col("household_id"))
    if spec.key and not [c for c in seen if c not in spec.key] and not cells.has_errors:
        cells.file_problem("no_value_columns", column="")
    return not cells.has_errors


def references(cells: Cells, conn: Connection) -> None:
    """Region codes and households that must exist (a village code must name a village)."""
    for c in cells.spec.columns:
        if c.name not in cells.v:
            continue
        s = cells.v[c.name]
        if c.type in ("village", "region"):
            lv = s.map({**store.region_levels(conn, s.dropna().unique().tolist()), **cells.pending_regions})
            cells.add(s.notna().to_numpy() & lv.isna().to_numpy(), c.name, "unknown_region")
            if c.type == "village":
                cells.add(lv.notna().to_numpy() & (lv != "village").to_numpy(), c.name, "not_village")
                cells.v[c.name] = s.where(lv == "village", None)
        elif c.type == "household":
            known = store.known_households(conn, s.dropna().unique().tolist()) | cells.pending_households
            missing = s.notna().to_numpy() & ~s.isin(known).to_numpy()
            _missing_households(cells, c.name, s, missing)
            cells.v[c.name] = s.where(~missing, None)


def _missing_households(cells: Cells, name: str, hids: pd.Series, missing: np.ndarray) -> None:
    """One error per missing household (at its first row, with its number of rows), every row refused."""
    if not missing.any():
        return
    frame = pd.DataFrame({"hid": hids[missing].to_numpy()}, index=np.flatnonzero(missing))
    first = ~frame["hid"].duplicated().to_numpy()
    count = frame.groupby("hid", sort=False)["hid"].transform("size").to_numpy()
    at = np.zeros(cells.n, dtype=bool)
    at[frame.index[first & (count == 1)]] = True
    cells.add(at, name, "unknown_household")
    many = np.zeros(cells.n, dtype=bool)
    many[frame.index[first & (count > 1)]] = True
    cells.add(many, name, "unknown_household_rows", row_params={"n": spread(cells.n, many, count[first & (count > 1)])})
    cells.bad[missing] = True


def member_disability(cells: Cells, conn: Connection) -> None:
    """健康状况 naming 残疾 sets the disability: a grade given in 残疾等级 holds; else the stored grade,
    or 4 (the mildest) for a member not yet disabled; 健康状况 without 残疾 means no disability."""
    if cells.disabled is None or "id_number" not in cells.v:
        return
    disabled = cells.disabled
    grade = cells.typed("disability").astype(float)
    ids = cells.v["id_number"]
    stored = ids.map(store.member_disability(conn, ids.dropna().unique().tolist())).astype(float)
    kept = np.where(stored.fillna(0).to_numpy() > 0, stored.to_numpy(), 4.0)
    derived = np.where(disabled.eq(True).to_numpy(), kept, np.where(disabled.eq(False).to_numpy(), 0.0, np.nan))
    cells.v["disability"] = pd.Series(np.where(grade.notna().to_numpy(), grade.to_numpy(), derived))
    if "disability" not in cells.derived:
        cells.derived.append("disability")


def duplicates(cells: Cells, keys: Sequence[str]) -> None:
    """Rows repeating an earlier row's key (or, without a key, the whole row)."""
    if keys:
        if not all(k in cells.v for k in keys):
            return
        frame = pd.DataFrame({k: cells.v[k] for k in keys})
        present = frame.notna().all(axis=1).to_numpy()
    else:
        frame = cells.raw.apply(lambda col: col.str.strip())
        present = np.ones(cells.n, dtype=bool)
    frame = frame.astype(str)
    dup = frame.duplicated(keep="first").to_numpy() & present
    if dup.any():
        # dropna=False: pandas 3 keeps a missing key as NaN even after astype(str), and a row with a
        # missing key (a refused month) would otherwise get no "first" row at all
        first = frame.reset_index().groupby(list(frame.columns), sort=False, dropna=False)["index"].transform("first").to_numpy(dtype=np.int64)
        other = np.array(cells.grid.row_numbers)[first]
        column = keys[-1] if keys else (next(iter(cells.cols)) if cells.cols else "")
        cells.add(dup, column, "duplicate_row", row_params={"other": other})


def _members_in_file(cells: Cells, ids: pd.Series, hids: pd.Series) -> None:
    """An ID number twice in the file: under another household (a clash) or the same (a duplicate)."""
    both = ids.notna().to_numpy() & hids.notna().to_numpy()
    frame = pd.DataFrame({"id": ids, "hid": hids, "row": np.array(cells.grid.row_numbers)})[both]
    first_hid = frame.groupby("id", sort=False)["hid"].transform("first")
    first_row = spread(cells.n, both, frame.groupby("id", sort=False)["row"].transform("first").to_numpy())
    at = np.flatnonzero(both)
    clash = np.zeros(cells.n, dtype=bool)
    clash[at[(frame["hid"] != first_hid).to_numpy()]] = True
    cells.add(clash, "id_number", "member_two_households_file", row_params={"other": first_row, "household": spread(cells.n, both, first_hid.to_numpy())})
    same = np.zeros(cells.n, dtype=bool)
    same[at[frame.duplicated(["id", "hid"], keep="first").to_numpy()]] = True
    cells.add(same, "id_number", "duplicate_row", row_params={"other": first_row})


def _members_agree_with_id(cells: Cells, ids: pd.Series) -> None:
    """Sex and birth date, when given, must agree with the ID number."""
    ok_id = ids.notna()
    v = cells.v
    if "sex" in v:
        from_id = ids.str[16].map(lambda d: ("M" if int(d) % 2 else "F") if isinstance(d, str) and d.isdigit() else None)
        cells.add((ok_id & v["sex"].notna() & (v["sex"] != from_id)).to_numpy(), "sex", "sex_mismatch")
    if "birth_date" in v:
        from_id = pd.to_datetime(ids.str[6:14], format="%Y%m%d", errors="coerce")
        cells.add((ok_id & v["birth_date"].notna() & (v["birth_date"] != from_id)).to_numpy(), "birth_date", "birth_mismatch")


def members(cells: Cells, conn: Connection) -> None:
    """A person belongs to one household, in the file and in the database; sex and birth date match the ID."""
    if "id_number" not in cells.v or "household_id" not in cells.v:
        return
    ids, hids = cells.v["id_number"], cells.v["household_id"]
    _members_in_file(cells, ids, hids)
    db_hid = ids.map(store.member_households(conn, ids.dropna().unique().tolist()))
    other = (db_hid.notna() & hids.notna() & (db_hid != hids)).to_numpy()
    cells.add(other, "id_number", "member_two_households_db", row_params={"household": db_hid.astype(object).where(db_hid.notna(), "").to_numpy()})
    _members_agree_with_id(cells, ids)


def people_to_households(cells: Cells, conn: Connection, required: bool) -> None:
    """Feeds and department records may name a person instead of a household: find the household
    (``required``: the person must be a stored member unless a household is given too)."""
    if "id_number" not in cells.v:
        if required:
            cells.add(~cells.not_empty("household_id") & ~cells.bad, "household_id", "need_key")
        return
    ids = cells.v["id_number"]
    found = ids.map(store.member_households(conn, ids.dropna().unique().tolist()))
    hids = cells.typed("household_id")
    hid_given, id_given = cells.given("household_id"), cells.given("id_number")
    if required:
        cells.add(ids.notna().to_numpy() & found.isna().to_numpy() & ~hid_given, "id_number", "unknown_person")
    clash = (found.notna() & hids.notna() & (found != hids)).to_numpy()
    cells.add(clash, "id_number", "person_household_mismatch", row_params={"household": found.astype(object).where(found.notna(), "").to_numpy()})
    cells.v["household_id"] = hids.where(hids.notna(), found).astype(object)
    cells.add(~hid_given & ~id_given, "household_id", "need_key")


def household_size(cells: Cells, conn: Connection) -> None:
    """家庭人口数 follows the member list: a roster row changing the size of a household with stored
    members must give the number of its living members (else the size would contradict them).
    Skipped when the same workbook imports the members (``cells.members_in_file``)."""
    if cells.members_in_file or "size" not in cells.v or "household_id" not in cells.v:
        return
    size, hids = cells.v["size"], cells.v["household_id"]
    given = (size.notna() & hids.notna()).to_numpy()
    if not given.any():
        return
    wanted = hids[given].unique().tolist()
    counts = hids.map(store.living_member_counts(conn, wanted))
    stored = store.stored_rows(conn, "households", "household_id", wanted, ["size"])
    stored_size = hids.map(dict(zip(stored["household_id"], stored["size"])))
    changes = given & stored_size.notna().to_numpy() & (pd.to_numeric(stored_size) != size).to_numpy()
    wrong = changes & counts.notna().to_numpy() & (pd.to_numeric(counts) != size).to_numpy()
    n = counts.fillna(0).astype(int).astype(str).to_numpy()
    cells.add(wrong, "size", "size_vs_members", row_params={"members": n})
