"""Checking a file against its kind and the database; nothing is written here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from fanpin.core.ids import id_check_char
from fanpin.ingest.read import FileProblem, Grid, read_table
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import (
    _FALSE,
    _TRUE,
    KINDS,
    SPECS,
    Col,
    KindSpec,
    _col_type,
    _header_map,
    _norm,
    _value_map,
    code_label,
)
from fanpin.store import schema as S


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current_period(today: date | None = None) -> int:
    d = today or date.today()
    return d.year * 100 + d.month


# --------------------------------------------------------------------------- reading the DB


def _chunks(values: Sequence, n: int = 5000):  # noqa: ANN202
    for i in range(0, len(values), n):
        yield values[i : i + n]


def _existing(conn: Connection, column, values: Sequence, *extra: object) -> pd.DataFrame:  # noqa: ANN001 - SQLAlchemy columns
    """Rows whose ``column`` is in ``values`` (chunked IN), selecting ``column`` and ``extra``."""
    cols = [column, *extra]
    parts = []
    vals = sorted({v for v in values if v is not None and v == v})
    for chunk in _chunks(vals):
        rows = conn.execute(select(*cols).where(column.in_(list(chunk)))).fetchall()
        if rows:
            parts.append(pd.DataFrame(rows, columns=[c.name for c in cols]))
    if not parts:
        return pd.DataFrame({c.name: pd.Series(dtype=object) for c in cols})
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- validation


class _Validator:
    def __init__(self, engine: Engine, spec: KindSpec, grid: Grid, report: Report, today: date) -> None:
        self.engine = engine
        self.spec = spec
        self.grid = grid
        self.r = report
        self.today = today
        self.n = len(grid.rows)
        self.raw = pd.DataFrame(grid.rows, columns=[f"c{i}" for i in range(len(grid.header))]) if grid.rows else pd.DataFrame()
        self.cols: dict[str, int] = {}  # spec column -> file column index
        self.v: dict[str, pd.Series] = {}  # typed values (NaN/None = empty)
        self.bad = np.zeros(self.n, dtype=bool)  # rows with an error

    # -- problems
    def add(self, mask: np.ndarray, name: str, code: str, severity: str = "error", row_params: dict | None = None, **params: object) -> None:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        col = self.spec.col(name) if name in {c.name for c in self.spec.columns} else None
        column = self.grid.header[self.cols[name]] if name in self.cols else name
        rp = {k: np.asarray(v)[mask] if len(np.asarray(v)) == self.n else np.asarray(v) for k, v in (row_params or {}).items()}
        self.r.problems.append(Problem(code, column, rows, severity, dict(params), rp, col))
        if severity == "error":
            self.bad[rows] = True

    def file_problem(self, code: str, column: str = "", col: Col | None = None, severity: str = "error", **params: object) -> None:
        self.r.problems.append(Problem(code, column, np.array([], dtype=np.intp), severity, dict(params), {}, col))

    # -- headers
    def map_headers(self) -> bool:
        hmap = _header_map(self.spec)
        seen: dict[str, int] = {}
        for j, h in enumerate(self.grid.header):
            if not h.strip():
                if self.raw[f"c{j}"].str.strip().ne("").any():
                    self.file_problem("blank_header", column=f"#{j + 1}", index=j + 1)
                continue
            name = hmap.get(_norm(h))
            if name is None:
                self.file_problem("unknown_column", column=h, severity="warning", header=h)
            elif name in seen:
                self.file_problem("duplicate_column", column=h, header=h, first=self.grid.header[seen[name]])
            else:
                seen[name] = j
        self.cols = seen
        for c in self.spec.columns:
            if c.required and c.name not in seen:
                self.file_problem("missing_column", column=c.name, col=c, header={"zh": c.zh, "en": c.en})
        if self.spec.kind in ("feeds", "dept_records") and "household_id" not in seen and "id_number" not in seen:
            self.file_problem("missing_key_column", column="household_id", col=self.spec.col("household_id"))
        value_cols = [c for c in seen if c not in self.spec.key]
        if self.spec.key and not value_cols and not any(p.severity == "error" for p in self.r.problems):
            self.file_problem("no_value_columns", column="")
        return not any(p.severity == "error" for p in self.r.problems)

    # -- cells
    def text(self, name: str) -> pd.Series:
        return self.raw[f"c{self.cols[name]}"].str.strip()

    def parse(self) -> None:
        for c in self.spec.columns:
            if c.name not in self.cols:
                continue
            s = self.text(c.name)
            # Numbers Excel could not hold exactly (an ID number typed as a number): one
            # problem for the cell, no further checks on a value that is already wrong.
            lossy = np.zeros(self.n, dtype=bool)
            for i, j in self.grid.lossy:
                if j == self.cols[c.name]:
                    lossy[i] = True
            self.add(lossy, c.name, "lossy_number")
            if lossy.any():
                s = s.mask(lossy, "")
            empty = (s == "").to_numpy()
            if c.required:
                self.add(empty & ~lossy, c.name, "required")
            self.v[c.name] = getattr(self, f"_t_{c.type}")(c, s, empty)

    def _too_long(self, c: Col, s: pd.Series) -> np.ndarray:
        limit = c.max_len or 200
        lengths = s.str.len().to_numpy()
        m = lengths > limit
        self.add(m, c.name, "too_long", row_params={"length": lengths}, limit=limit)
        return m

    def _t_text(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        m = self._too_long(c, s)
        return s.where(~(empty | m), None).astype(object)

    def _t_household(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _t_village(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _t_region(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _number(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        cleaned = s.str.replace(",", "", regex=False).str.replace("，", "", regex=False).str.replace("¥", "", regex=False).str.replace("元", "", regex=False)
        x = pd.to_numeric(cleaned.where(~empty, None), errors="coerce").astype(float)
        nan = x.isna().to_numpy()
        self.add(nan & ~empty, c.name, "not_number")
        return x

    def _range(self, c: Col, x: pd.Series) -> pd.Series:
        a = x.to_numpy()
        with np.errstate(invalid="ignore"):
            low = (a < c.low) if c.low is not None else np.zeros(len(a), dtype=bool)
            high = (a > c.high) if c.high is not None else np.zeros(len(a), dtype=bool)
        if c.low == 0:
            self.add(low, c.name, "negative")
            self.add(high, c.name, "too_large", high=c.high)
        else:
            self.add(low | high, c.name, "range", low=c.low, high=c.high)
        return x.mask(low | high, np.nan)

    def _t_float(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._range(c, self._number(c, s, empty))

    def _t_int(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        x = self._number(c, s, empty)
        a = x.to_numpy()
        frac = ~np.isnan(a) & (np.floor(np.nan_to_num(a)) != np.nan_to_num(a))
        self.add(frac, c.name, "not_integer")
        return self._range(c, x.mask(frac, np.nan))

    def _t_bool(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        n = s.str.lower()
        t = n.isin(_TRUE).to_numpy()
        f = n.isin(_FALSE).to_numpy()
        self.add(~(t | f | empty), c.name, "not_bool")
        out = pd.Series([None] * self.n, dtype=object)
        out[t] = True
        out[f] = False
        return out

    def _t_code(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        vm = _value_map(c)
        mapped = s.map(lambda v: vm.get(_norm(v)) if v else None)
        bad = mapped.isna().to_numpy() & ~empty
        self.add(bad, c.name, "bad_code", options={lang: [code_label(c, k, lang) for k in c.codes] for lang in ("zh", "en")})
        return mapped.astype(object)

    def _t_period(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        m = s.str.extract(r"^(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*(?:月|[-/.]\d{1,2}(?:\s+00:00(?::00)?)?)?$")
        y = pd.to_numeric(m[0], errors="coerce").to_numpy()
        mo = pd.to_numeric(m[1], errors="coerce").to_numpy()
        bad = (np.isnan(y) | np.isnan(mo) | (mo < 1) | (mo > 12) | (y < 2000)) & ~empty
        self.add(bad, c.name, "bad_period")
        p = np.where(bad | empty, np.nan, y * 100 + mo)
        future = ~np.isnan(p) & (p > current_period(self.today))
        self.add(future, c.name, "future_period", now=current_period(self.today))
        return pd.Series(np.where(future, np.nan, p))

    def _t_date(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        t = s.str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "", regex=False).str.replace(r"\s+00:00(:00)?$", "", regex=True)
        t = t.where(~t.str.fullmatch(r"\d{8}"), t.str[:4] + "-" + t.str[4:6] + "-" + t.str[6:8])
        d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d", errors="coerce")
        bad = d.isna().to_numpy() & ~empty
        self.add(bad, c.name, "bad_date")
        return d

    def _t_datetime(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        t = s.str.replace("/", "-", regex=False)
        d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d %H:%M:%S", errors="coerce")
        d2 = pd.to_datetime(t.where(~empty & d.isna(), None), format="%Y-%m-%d", errors="coerce")
        d = d.fillna(d2)
        self.add(d.isna().to_numpy() & ~empty, c.name, "bad_datetime")
        return d

    def _t_id(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        u = s.str.upper()
        lengths = u.str.len().to_numpy()
        bad_len = (lengths != 18) & ~empty
        self.add(bad_len, c.name, "id_length", row_params={"length": lengths})
        chars = u.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool)
        bad_chars = ~chars & ~empty & ~bad_len
        self.add(bad_chars, c.name, "id_chars")
        birth_txt = u.str[6:14]
        born = pd.to_datetime(birth_txt.where(chars, None), format="%Y%m%d", errors="coerce")
        impossible = chars & born.isna().to_numpy()
        self.add(impossible, c.name, "id_birth", row_params={"birth": birth_txt.to_numpy()})
        today = pd.Timestamp(self.today)
        implausible = chars & ~impossible & ((born > today) | (born.dt.year < 1890)).to_numpy()
        self.add(implausible, c.name, "id_birth_range", row_params={"birth": birth_txt.to_numpy()})
        ok = chars & ~impossible & ~implausible
        bodies = u[ok].str[:17].to_numpy().astype("<U17")
        got = u[ok].str[17].to_numpy().astype(str)
        expected = id_check_char(bodies) if len(bodies) else np.array([], dtype="<U1")
        wrong = np.zeros(self.n, dtype=bool)
        wrong_idx = np.flatnonzero(ok)[got != expected]
        wrong[wrong_idx] = True
        exp_full = np.full(self.n, "", dtype=object)
        got_full = np.full(self.n, "", dtype=object)
        exp_full[np.flatnonzero(ok)] = expected
        got_full[np.flatnonzero(ok)] = got
        self.add(wrong, c.name, "id_check", row_params={"got": got_full, "expected": exp_full})
        good = ok & ~wrong
        return u.where(good, None).astype(object)

    # -- cross checks
    def _not_empty(self, name: str) -> np.ndarray:
        v = self.v.get(name)
        if v is None:
            return np.zeros(self.n, dtype=bool)
        return v.notna().to_numpy()

    def references(self, conn: Connection) -> None:
        """Region codes and households that must exist."""
        for c in self.spec.columns:
            if c.name not in self.v:
                continue
            s = self.v[c.name]
            if c.type in ("village", "region"):
                known = _existing(conn, S.regions.c.region_code, s.dropna().unique().tolist(), S.regions.c.level)
                level = dict(zip(known["region_code"], known["level"]))
                lv = s.map(level)
                missing = s.notna().to_numpy() & lv.isna().to_numpy()
                self.add(missing, c.name, "unknown_region")
                if c.type == "village":
                    not_village = lv.notna().to_numpy() & (lv != "village").to_numpy()
                    self.add(not_village, c.name, "not_village")
                    self.v[c.name] = s.where(lv == "village", None)
            elif c.type == "household":
                known = set(_existing(conn, S.households.c.household_id, s.dropna().unique().tolist())["household_id"])
                missing = s.notna().to_numpy() & ~s.isin(known).to_numpy()
                self.add(missing, c.name, "unknown_household")
                self.v[c.name] = s.where(~missing, None)

    def duplicates(self, keys: Sequence[str]) -> None:
        """Rows repeating an earlier row's key (or, without a key, the whole row)."""
        if keys:
            if not all(k in self.v for k in keys):
                return
            frame = pd.DataFrame({k: self.v[k] for k in keys})
            present = frame.notna().all(axis=1).to_numpy()
        else:
            frame = self.raw.apply(lambda col: col.str.strip())
            present = np.ones(self.n, dtype=bool)
        frame = frame.astype(str)
        dup = frame.duplicated(keep="first").to_numpy() & present
        if dup.any():
            first = frame.reset_index().groupby(list(frame.columns), sort=False)["index"].transform("first").to_numpy()
            other = np.array(self.grid.row_numbers)[first]
            column = keys[-1] if keys else (next(iter(self.cols)) if self.cols else "")
            self.add(dup, column, "duplicate_row", row_params={"other": other})


def _members_checks(val: _Validator, conn: Connection) -> None:
    v = val.v
    if "id_number" not in v or "household_id" not in v:
        return
    ids, hids = v["id_number"], v["household_id"]
    both = ids.notna().to_numpy() & hids.notna().to_numpy()
    frame = pd.DataFrame({"id": ids, "hid": hids, "row": np.array(val.grid.row_numbers)})[both]
    # Twice in the file under different households.
    first_hid = frame.groupby("id", sort=False)["hid"].transform("first")
    first_row = frame.groupby("id", sort=False)["row"].transform("first")
    clash = frame["hid"] != first_hid
    mask = np.zeros(val.n, dtype=bool)
    mask[np.flatnonzero(both)[clash.to_numpy()]] = True
    val.add(mask, "id_number", "member_two_households_file", row_params={"other": _spread(val.n, both, first_row.to_numpy()), "household": _spread(val.n, both, first_hid.to_numpy())})
    # Same ID, same household, twice: a duplicate row.
    same = frame.duplicated(["id", "hid"], keep="first").to_numpy()
    m2 = np.zeros(val.n, dtype=bool)
    m2[np.flatnonzero(both)[same]] = True
    val.add(m2, "id_number", "duplicate_row", row_params={"other": _spread(val.n, both, first_row.to_numpy())})
    # Already in another household in the database.
    stored = _existing(conn, S.members.c.id_number, ids.dropna().unique().tolist(), S.members.c.household_id)
    where = dict(zip(stored["id_number"], stored["household_id"]))
    db_hid = ids.map(where)
    other = (db_hid.notna() & hids.notna() & (db_hid != hids)).to_numpy()
    val.add(other, "id_number", "member_two_households_db", row_params={"household": db_hid.astype(object).where(db_hid.notna(), "").to_numpy()})
    # Sex and birth date, when given, must agree with the ID number.
    ok_id = ids.notna()
    if "sex" in v:
        from_id = ids.str[16].map(lambda d: ("M" if int(d) % 2 else "F") if isinstance(d, str) and d.isdigit() else None)
        wrong = (ok_id & v["sex"].notna() & (v["sex"] != from_id)).to_numpy()
        val.add(wrong, "sex", "sex_mismatch")
    if "birth_date" in v:
        from_id = pd.to_datetime(ids.str[6:14], format="%Y%m%d", errors="coerce")
        wrong = (ok_id & v["birth_date"].notna() & (v["birth_date"] != from_id)).to_numpy()
        val.add(wrong, "birth_date", "birth_mismatch")


def _as_bool(x: object) -> bool | None:
    if x is None or (isinstance(x, float) and x != x):
        return None
    return bool(x)


def _spread(n: int, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    out[np.flatnonzero(mask)] = values
    return out


def _id_to_household(val: _Validator, conn: Connection, required: bool) -> None:
    """Feeds and department records may name a person instead of a household."""
    v = val.v
    if "id_number" not in v:
        if required:
            val.add(~val._not_empty("household_id") & ~val.bad, "household_id", "need_key")
        return
    ids = v["id_number"]
    stored = _existing(conn, S.members.c.id_number, ids.dropna().unique().tolist(), S.members.c.household_id)
    where = dict(zip(stored["id_number"], stored["household_id"]))
    found = ids.map(where)
    hids = v.get("household_id", pd.Series([None] * val.n, dtype=object))
    raw_hid_given = val.text("household_id").ne("").to_numpy() if "household_id" in val.cols else np.zeros(val.n, dtype=bool)
    raw_id_given = val.text("id_number").ne("").to_numpy()
    if required:
        unknown = ids.notna().to_numpy() & found.isna().to_numpy() & ~raw_hid_given
        val.add(unknown, "id_number", "unknown_person")
    clash = (found.notna() & hids.notna() & (found != hids)).to_numpy()
    val.add(clash, "id_number", "person_household_mismatch", row_params={"household": found.astype(object).where(found.notna(), "").to_numpy()})
    val.v["household_id"] = hids.where(hids.notna(), found).astype(object)
    none = ~raw_hid_given & ~raw_id_given
    val.add(none, "household_id", "need_key")


def _plan_upsert(val: _Validator, conn: Connection, report: Report) -> None:
    spec = val.spec
    table = S.metadata.tables[spec.table]
    # Every row with a valid key takes part (so a new row missing a required value is reported
    # even when it has other errors); only rows without errors go into the plan.
    keyed = pd.DataFrame({k: val.v[k] for k in spec.key}).notna().all(axis=1).to_numpy() if all(k in val.v for k in spec.key) else np.zeros(val.n, dtype=bool)
    cols = [c for c in val.cols if c in val.v]
    frame = pd.DataFrame({c: val.v[c] for c in cols})[keyed].copy()
    frame["_row"] = np.flatnonzero(keyed)
    if spec.kind == "households" and "village_code" in frame:
        frame["township_code"] = frame["village_code"].map(lambda c: c[:9] + "000" if isinstance(c, str) else None)
        cols = [*cols, "township_code"]
    sel = spec.key[-1]
    stored = _existing(conn, table.c[sel], frame[sel].tolist(), *[table.c[k] for k in spec.key if k != sel], *[table.c[c] for c in cols if c not in spec.key])
    for k in spec.key:  # same dtype on both sides of the join, even when nothing is stored
        if _col_type(spec, k) == "period":
            stored[k] = pd.to_numeric(stored[k]).astype(float)
            frame[k] = frame[k].astype(float)
        else:
            stored[k] = stored[k].astype(object)
            frame[k] = frame[k].astype(object)
    merged = frame.merge(stored, on=list(spec.key), how="left", suffixes=("", "_db"), indicator=True)
    is_new = (merged["_merge"] == "left_only").to_numpy()
    # Columns required for new rows.
    rows = merged["_row"].to_numpy()
    for c in spec.columns:
        if c.required_new:
            blank = val.text(c.name).eq("").to_numpy()[rows] if c.name in val.cols else np.ones(len(merged), dtype=bool)
            missing = is_new & blank
            if missing.any():
                m = np.zeros(val.n, dtype=bool)
                m[rows[missing]] = True
                val.add(m, c.name, "required_new")
    ok = ~val.bad[rows]
    merged, is_new = merged[ok].reset_index(drop=True), is_new[ok]
    value_cols = [c for c in cols if c not in spec.key]
    changed = np.zeros(len(merged), dtype=bool)
    for c in value_cols:
        kind = _col_type(spec, c)
        a, b = merged[c], merged[f"{c}_db"]
        given = a.notna().to_numpy()
        if kind in ("int", "float", "period"):
            av = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
            bv = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
            same = np.isclose(av, bv, rtol=1e-9, atol=1e-9) | (np.isnan(av) & np.isnan(bv))
        elif kind == "bool":
            same = a.map(_as_bool).to_numpy(dtype=object) == b.map(_as_bool).to_numpy(dtype=object)
        elif kind == "date":
            same = a.dt.strftime("%Y-%m-%d").to_numpy(dtype=object) == b.map(lambda x: None if x is None or x != x else str(x)[:10]).to_numpy(dtype=object)
        else:
            same = a.astype(object).to_numpy() == b.astype(object).to_numpy()
        changed |= given & ~same & ~is_new
    report.added = int(is_new.sum())
    report.updated = int(changed.sum())
    report.unchanged = int((~is_new & ~changed).sum())
    report.plan = {"frame": merged, "new": is_new, "changed": changed, "cols": cols}


def _plan_append(val: _Validator, conn: Connection, report: Report) -> None:
    spec = val.spec
    table = S.metadata.tables[spec.table]
    good = ~val.bad
    cols = [c for c in spec.dedupe if c in val.v]
    frame = pd.DataFrame({c: val.v[c] for c in val.v})[good].copy()
    frame["_row"] = np.flatnonzero(good)
    have_cols = [c for c in cols if c in table.c]
    cols = have_cols
    with_hid = "household_id" in frame and frame["household_id"].notna().any()
    sel = "household_id" if with_hid or "id_number" not in table.c else "id_number"
    if sel in frame and frame[sel].notna().any():
        stored = _existing(conn, table.c[sel], frame[sel].tolist(), *[table.c[c] for c in cols if c != sel])
        if spec.kind == "dept_records" and "id_number" in frame:  # records stored by ID number only
            more = _existing(conn, table.c["id_number"], frame["id_number"].tolist(), *[table.c[c] for c in cols if c != "id_number"])
            stored = pd.concat([stored, more], ignore_index=True)
    else:
        stored = pd.DataFrame()

    def key(f: pd.DataFrame) -> pd.Series:
        parts = []
        for c in cols:
            if c not in f:
                parts.append(pd.Series([""] * len(f), index=f.index))
                continue
            s = f[c]
            if c in ("amount", "value", "period"):
                s = pd.to_numeric(s, errors="coerce").round(2).map(lambda x: "" if x != x else repr(float(x)))
            else:
                s = s.map(lambda x: "" if x is None or x != x else str(x))
            parts.append(s)
        return pd.Series(["\x1f".join(t) for t in zip(*parts)], index=f.index) if parts else pd.Series([""] * len(f), index=f.index)

    have = set(key(stored)) if len(stored) else set()
    k = key(frame)
    skip = k.isin(have).to_numpy()
    if skip.any():
        m = np.zeros(val.n, dtype=bool)
        m[frame["_row"].to_numpy()[skip]] = True
        val.add(m, spec.dedupe[0] if spec.dedupe[0] in val.cols else next(iter(val.cols)), "already_stored", severity="warning")
    report.added = int((~skip).sum())
    report.skipped = int(skip.sum())
    report.plan = {"frame": frame[~skip], "cols": list(val.v)}


def validate(engine: Engine, kind: str, data: bytes, file_name: str, *, today: date | None = None) -> Report:
    """Check a file completely without writing anything; see :class:`Report`."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}: one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    today = today or date.today()
    report = Report(kind, file_name, file_hash(data))
    with engine.connect() as conn:
        row = conn.execute(
            select(S.import_batches.c.batch_id).where(S.import_batches.c.file_hash == report.file_hash, S.import_batches.c.status == "applied").order_by(S.import_batches.c.batch_id).limit(1)
        ).first()
    if row is not None:
        report.already_batch = int(row[0])
        return report
    hmap = _header_map(spec)
    try:
        grid = read_table(data, file_name, lambda h: _norm(h) in hmap, spec.sheet_names)
    except FileProblem as exc:
        report.problems.append(Problem(exc.code, "", np.array([], dtype=np.intp), "error", exc.params))
        return report
    report.n_rows = len(grid.rows)
    report.encoding = grid.encoding
    report.sheet = grid.sheet
    report.row_numbers = grid.row_numbers
    report.values = grid.rows
    report.header = grid.header
    val = _Validator(engine, spec, grid, report, today)
    if not val.map_headers():
        return report
    val.parse()
    with engine.connect() as conn:
        val.references(conn)
        if kind == "members":
            _members_checks(val, conn)
        elif kind in ("feeds", "dept_records"):
            _id_to_household(val, conn, required=(kind == "feeds"))
        if kind != "members":
            val.duplicates(spec.key)
        if spec.key:
            _plan_upsert(val, conn, report)
        else:
            _plan_append(val, conn, report)
    if report.n_errors:
        report.added = report.updated = report.unchanged = report.skipped = 0
    return report
