"""`fanpin brief --region CODE --period YYYY-MM --out x.docx [--store DIR]`: a province's or city's
monthly brief from the analytic store (``fanpin.report.region_brief``).

The command acts as the system principal (``cli:<os user>``, an administrator's rights, as ``fanpin
snapshot sync`` does): whoever can run it can read the store's files anyway.  The store is
``--store``, else ``FANPIN_STORE_DIR`` or ``data/store``, as the app finds it.  The baseline is
the overview's (``regional.province_policy``): the database's adopted policy when the store is a
copy of the database (``--db``, else the configured one when it exists), else the shipped default;
that database also gets the ``brief`` audit row.  Regions are named from the store's boundary files
where they carry names (``fanpin snapshot boundaries``), else by code.  Errors are said in ``--lang``.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.engine import Engine


def add_flags(b: argparse.ArgumentParser) -> None:
    """``--region`` and ``--store`` on ``fanpin brief`` (the county's flags hold for the rest)."""
    g = b.add_argument_group("province or city (from the analytic store)")
    g.add_argument("--region", help="a province's or city's brief: its region code (99, 9901 or 12 digits) in the analytic store")
    g.add_argument("--store", help="analytic store directory (default FANPIN_STORE_DIR or data/store)")
    g.add_argument("--by", choices=("city", "county"), default="city", help="a province's brief: compare its cities (default) or counties")


def optional_database(args: argparse.Namespace) -> Engine | None:
    """The app's database for the baseline and the audit row: ``--db`` (must open), else the
    configured one if it exists and opens (a machine with only the store has none)."""
    from fanpin import store
    from fanpin.store.engine import sqlite_path

    given = getattr(args, "db", None)
    url = given or store.default_url()
    path = sqlite_path(url)
    if not given and path is not None and not path.exists():
        return None
    engine = store.make_engine(url)
    if given:
        store.check_schema(engine)  # a StoreError is reported by fanpin.cli.main
        return engine
    try:
        store.check_schema(engine)
    except Exception:  # noqa: BLE001 - the configured database is optional here: without it the default policy holds
        return None
    return engine


def cmd_region_brief(args: argparse.Namespace) -> int:
    """Write the region's brief (.docx) and its tables (.xlsx)."""
    from fanpin.access.roles import system_principal
    from fanpin.cli.brief import output_paths
    from fanpin.core.i18n import translate
    from fanpin.core.periods import parse_period
    from fanpin.engine import regional
    from fanpin.engine.distributed import ProvinceEngine
    from fanpin.report import region_brief as RB
    from fanpin.store.snapshot import SnapshotStore

    lang = args.lang

    def fail(message: str) -> int:
        print(f"fanpin: {message}", file=sys.stderr)
        return 2

    try:
        region = RB.region_of(args.region)
        period = parse_period(args.period)
    except RB.RegionBriefError as exc:
        return fail(exc.text(translate, lang))
    except ValueError as exc:
        return fail(str(exc))
    if getattr(args, "township", None):
        return fail("--township is for a county's brief from the database, not with --region")
    paths = output_paths(args)
    if isinstance(paths, str):
        return fail(paths)
    out, xlsx = paths
    snap = SnapshotStore(args.store) if args.store else SnapshotStore()
    try:
        man = snap.manifest()
    except (OSError, ValueError):
        man = None
    if man is None or not man.partitions:
        return fail(translate("region_brief.error.empty_store", lang, path=snap.root))
    if not regional.counties_in(region, man.counties):
        return fail(RB.RegionBriefError("unknown_region", region=region).text(translate, lang))
    held = RB.periods_held(man.counties, region, man.partitions)
    if period not in held:
        return fail(RB.RegionBriefError("no_month", month=period, first=held[0], last=held[-1]).text(translate, lang))
    db = optional_database(args)
    policy = _policy(db, man)
    made = RB.produce_region_brief(ProvinceEngine(snap), system_principal(), region, period, policy, lang, by=args.by, names=_names(snap), audit_db=db)
    out.write_bytes(made.docx)
    xlsx.write_bytes(made.xlsx)
    s = made.seconds
    print(translate("region_brief.cli.wrote", lang, docx=out, docx_kb=f"{len(made.docx) / 1024:.0f}", xlsx=xlsx, xlsx_kb=f"{len(made.xlsx) / 1024:.0f}",
                    compute=f"{s['compute']:.1f}", charts=f"{s['charts']:.1f}", doc=f"{s['docx']:.1f}", tables=f"{s['xlsx']:.1f}"), file=sys.stderr)
    return 0


def _names(snap: object) -> dict[str, dict[str, str]]:
    """Region names from the store's boundary files where they carry them (as the overview names regions)."""
    from fanpin.geo.boundaries import LEVELS, region_names

    fcs = [snap.read_boundaries(lv) for lv in LEVELS]  # type: ignore[attr-defined]
    return {lang: region_names(fcs, lang) for lang in ("zh", "en")}


def _policy(db: Engine | None, man: object):  # noqa: ANN202 - a RiskPolicy (imported lazily, as the CLI does)
    """The overview's baseline: the database's adopted policy for a store synced from it, else the default."""
    from fanpin.engine import regional
    from fanpin.engine.scoring import RiskPolicy

    if db is None:
        return RiskPolicy.default()
    from fanpin.engine.policies import baseline
    from fanpin.store.io import database_id

    return regional.province_policy(man, database_id(db), baseline(db))  # as fanpin.ui.region.baseline
