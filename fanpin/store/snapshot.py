"""The analytic store: each month's snapshot as Parquet, ``month=YYYYMM/county=XXXXXX/``.

The system of record stays SQL; this is a read-optimised copy for work past one county
(a province of 5-10M households x 36 months).  One file per county-month, rows sorted
by township then household (so a township's rows are contiguous and the Scorer's
per-township sums are contiguous reductions), row groups of at most ``ROW_GROUP`` rows.
A JSON manifest records the schema version, the source's data version, the income
lines and, per partition, its rows and a content digest: a sync rewrites only the
partitions whose digest changed, and an engine task can key a cache on the digest.  Beside
each county-month's file the engine keeps its baseline aggregates (``baseline.json``: township
sums, counts only; ``fanpin.engine.baseline``), so a province's overview reads KB, not rows.

Personal data: the month files hold household IDs, region codes and indicator
values only; names, ID numbers and phones are refused (``PERSONAL_COLUMNS``).  For
rules that match people across counties each member is kept as a keyed hash of the
ID number (SipHash-2-4 with a secret 16-character key, the same keyed hash pandas
uses, computed in C over the whole column), so the same person in two counties has
the same key and the number itself cannot be read back without the key, which is
kept outside the store directory.  Directories are 0700 and files 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.engine import PROJECT_ROOT
from fanpin.store.schema import members

SCHEMA_VERSION = 1
ROW_GROUP = 256_000
#: Columns that may never enter the store in clear (the same as access.masking's personal columns).
PERSONAL_COLUMNS = frozenset({"name", "id_number", "phone"})
#: The small JSON file of a county-month's baseline aggregates (counts and sums only), beside its Parquet file.
BASELINE_FILE = "baseline.json"
DIR_MODE = 0o700
FILE_MODE = 0o600
_SORT = ("township_code", "household_id")


def default_root() -> Path:
    """``FANPIN_STORE_DIR``, else ``data/store`` in the project."""
    return Path(os.environ.get("FANPIN_STORE_DIR") or PROJECT_ROOT / "data" / "store")


@dataclass(frozen=True)
class PartitionInfo:
    """One written file: which month (0 for the member keys) and county, its rows and digest."""

    period: int
    county: str
    rows: int
    digest: str
    path: str  # relative to the store root


@dataclass
class Manifest:
    """What the store holds and where it came from."""

    schema_version: int = SCHEMA_VERSION
    data_version: str = ""
    source: str = ""
    written_by: str = ""
    updated_at: str = ""
    income_lines: dict[int, float] = field(default_factory=dict)
    partitions: dict[tuple[int, str], PartitionInfo] = field(default_factory=dict)
    members: dict[str, PartitionInfo] = field(default_factory=dict)

    @property
    def periods(self) -> list[int]:
        return sorted({p for p, _ in self.partitions})

    @property
    def counties(self) -> list[str]:
        return sorted({c for _, c in self.partitions})

    def rows(self, period: int | None = None) -> int:
        return sum(i.rows for (p, _), i in self.partitions.items() if period is None or p == period)

    def to_json(self) -> str:
        d = asdict(self)
        d["income_lines"] = {str(k): v for k, v in self.income_lines.items()}
        d["partitions"] = [asdict(i) for i in sorted(self.partitions.values(), key=lambda i: (i.period, i.county))]
        d["members"] = [asdict(i) for i in sorted(self.members.values(), key=lambda i: i.county)]
        return json.dumps(d, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d = json.loads(text)
        parts = [PartitionInfo(**p) for p in d.pop("partitions", [])]
        mems = [PartitionInfo(**p) for p in d.pop("members", [])]
        lines = {int(k): float(v) for k, v in d.pop("income_lines", {}).items()}
        return cls(**d, income_lines=lines, partitions={(i.period, i.county): i for i in parts}, members={i.county: i for i in mems})


def frame_digest(frame: pd.DataFrame) -> str:
    """A content digest of a frame (column names, then every row's hash), for change detection."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:32]


def _private_dir(path: Path) -> None:
    """Make ``path`` and every missing parent 0700 (``mkdir(mode=)`` sets the last one only)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(p, DIR_MODE)


def _write_private(path: Path, write: object) -> None:
    """Write through a temporary file (``write(tmp)``), make it 0600, then rename into place."""
    if not path.parent.exists():
        _private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)  # type: ignore[operator]
        os.chmod(tmp, FILE_MODE)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class SnapshotStore:
    """A directory of month x county Parquet files and their manifest."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    # ------------------------------------------------------------------ layout
    def month_path(self, period: int, county: str) -> Path:
        return self.root / f"month={int(period)}" / f"county={county}" / "part-0.parquet"

    def baseline_path(self, period: int, county: str) -> Path:
        """The county-month's baseline aggregates (township sums under the baseline policy), beside its file."""
        return self.month_path(period, county).with_name(BASELINE_FILE)

    def members_path(self, county: str) -> Path:
        return self.root / "members" / f"county={county}" / "part-0.parquet"

    def boundaries_path(self, level: str) -> Path:
        """The region boundaries of one level (``province``, ``city``, ``county``, ``township``) as GeoJSON."""
        return self.root / "_boundaries" / f"{level}.geojson"

    @property
    def manifest_path(self) -> Path:
        return self.root / "_manifest.json"

    @property
    def key_path(self) -> Path:
        """The hashing key's file: beside the store, not in it (copying the store to workers leaves it)."""
        return self.root.with_name(self.root.name + ".key")

    # ------------------------------------------------------------------ writing
    def write_month(self, period: int, county: str, frame: pd.DataFrame) -> PartitionInfo:
        """Write one county-month, sorted by township and household; the manifest is left to ``commit``."""
        if len(frame.columns.intersection(list(PERSONAL_COLUMNS))):
            raise ValueError(f"personal columns may not enter the analytic store: {sorted(PERSONAL_COLUMNS & set(frame.columns))}")
        towns = frame["township_code"].astype(str)
        if len(frame) and not (towns.str[:6] == county).all():
            raise ValueError(f"rows outside county {county} in its partition")
        frame = frame.sort_values(list(_SORT), kind="stable", ignore_index=True)
        path = self.month_path(period, county)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        _write_private(path, lambda tmp: pq.write_table(table, tmp, row_group_size=ROW_GROUP))
        return PartitionInfo(int(period), county, len(frame), frame_digest(frame), path.relative_to(self.root).as_posix())

    def write_members(self, county: str, household_id: np.ndarray, id_number: np.ndarray) -> PartitionInfo:
        """The county's members as (person_key, household_id): the keyed hash, never the number."""
        keys = person_keys(id_number, self.hash_key())
        frame = pd.DataFrame({"person_key": keys, "household_id": np.asarray(household_id, dtype=object)})
        frame = frame.sort_values(["household_id", "person_key"], kind="stable", ignore_index=True)
        path = self.members_path(county)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        _write_private(path, lambda tmp: pq.write_table(table, tmp, row_group_size=ROW_GROUP))
        return PartitionInfo(0, county, len(frame), frame_digest(frame), path.relative_to(self.root).as_posix())

    def write_baseline(self, period: int, county: str, doc: dict) -> None:
        """Keep a county-month's baseline aggregates (a few KB of counts and sums, 0600) beside its file."""
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        _write_private(self.baseline_path(period, county), lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def write_boundaries(self, level: str, fc: dict) -> None:
        """Keep one level's boundaries (a checked FeatureCollection: ``fanpin.geo.boundaries``)."""
        text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
        _write_private(self.boundaries_path(level), lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def read_boundaries(self, level: str) -> dict | None:
        """One level's boundaries as written, or None (none written, or unreadable)."""
        try:
            return json.loads(self.boundaries_path(level).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def read_baseline(self, period: int, county: str) -> dict | None:
        """The county-month's baseline aggregates as written, or None (none written, or unreadable)."""
        try:
            return json.loads(self.baseline_path(period, county).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def hash_key(self) -> str:
        """The 16-character key of the person hash: ``FANPIN_STORE_KEY``, else a key file made once (0600)."""
        env = os.environ.get("FANPIN_STORE_KEY")
        if env:
            if len(env.encode()) != 16:
                raise ValueError("FANPIN_STORE_KEY must be 16 ASCII characters")
            return env
        path = self.key_path
        if not path.exists():
            _write_private(path, lambda tmp: tmp.write_text(secrets.token_urlsafe(12), encoding="ascii"))
        return path.read_text(encoding="ascii").strip()

    def commit(
        self,
        written: Iterable[PartitionInfo],
        *,
        data_version: str,
        source: str,
        written_by: str,
        income_lines: dict[int, float] | None = None,
        removed: Iterable[tuple[int, str]] = (),
        removed_members: Iterable[str] = (),
    ) -> Manifest:
        """Record written partitions (and drop removed ones: county-months, counties' members) in the manifest, atomically."""
        man = self.manifest()
        for info in written:
            if info.period == 0:
                man.members[info.county] = info
            else:
                man.partitions[(info.period, info.county)] = info
        for key in removed:
            man.partitions.pop(key, None)
            self.month_path(*key).unlink(missing_ok=True)
            self.baseline_path(*key).unlink(missing_ok=True)
        for county in removed_members:
            man.members.pop(county, None)
            self.members_path(county).unlink(missing_ok=True)
        man.schema_version, man.data_version, man.source, man.written_by = SCHEMA_VERSION, data_version, source, written_by
        man.updated_at = datetime.now().replace(microsecond=0).isoformat()
        if income_lines is not None:
            man.income_lines = {int(k): float(v) for k, v in income_lines.items()}
        _write_private(self.manifest_path, lambda tmp: tmp.write_text(man.to_json(), encoding="utf-8"))
        return man

    # ------------------------------------------------------------------ reading
    def manifest(self) -> Manifest:
        """The manifest (an empty one for a new store); refuses a store of another schema version."""
        if not self.manifest_path.exists():
            return Manifest()
        man = Manifest.from_json(self.manifest_path.read_text(encoding="utf-8"))
        if man.schema_version != SCHEMA_VERSION:
            raise ValueError(f"analytic store {self.root} has schema version {man.schema_version}, this fanpin reads {SCHEMA_VERSION}: sync it again")
        return man

    def read_month(self, period: int, county: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One county-month (sorted by township and household)."""
        return read_parquet(self.month_path(period, county), columns)

    def read_members(self, county: str) -> pd.DataFrame:
        return read_parquet(self.members_path(county))


def read_parquet(path: Path | str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a frame (the same dtypes as the SQL path's snapshot frame)."""
    return pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()


def person_keys(id_numbers: np.ndarray | Sequence[str], key: str) -> np.ndarray:
    """Keyed 64-bit hashes of ID numbers (SipHash-2-4), as int64; the same number gives the same key.

    Two different people share a key with probability about n^2 / 2^65 (1e-5 for 16M
    members): a match is a clue a person checks, never a finding by itself."""
    s = pd.Series(np.asarray(id_numbers, dtype=object)).astype(str).str.upper()
    return pd.util.hash_pandas_object(s, index=False, hash_key=key, categorize=False).to_numpy().view(np.int64)


def member_id_numbers(engine: Engine) -> pd.DataFrame:
    """Every member's household and ID number, for the keyed hash (the caller checks its principal)."""
    with engine.connect() as conn:
        rows = conn.execute(select(members.c.household_id, members.c.id_number)).all()
    return pd.DataFrame(rows, columns=["household_id", "id_number"])
