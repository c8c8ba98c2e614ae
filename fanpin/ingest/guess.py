"""Which import kind a file's headers fit: a file chosen under the wrong kind says so first.

A members file imported as household rosters used to show a screen of "unrecognised column"
errors with the real mistake (the kind) nowhere.  :func:`better_kind` counts, for every kind,
the file's headers that kind reads; when another kind reads clearly more (all its required
columns among them) and the chosen kind reads at most half of the file's columns, the report's
first message names the kind the file looks like.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from fanpin.core.i18n import translate
from fanpin.ingest.names import info_headers, norm
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import KINDS, SPECS, header_map

__all__ = ["better_kind", "note_wrong_kind"]


@cache
def _maps() -> dict[str, dict[str, str]]:
    return {k: header_map(SPECS[k]) for k in KINDS}


def _read_by(kind: str, headers: list[str]) -> tuple[int, bool]:
    """How many of ``headers`` (normal form) the kind reads, and whether its required columns are among them."""
    hmap = _maps()[kind]
    names = {hmap[h] for h in headers if h in hmap}
    required = {c.name for c in SPECS[kind].columns if c.required}
    return sum(h in hmap for h in headers), required <= names


def better_kind(header: list[str], chosen: str) -> tuple[str, int, int, int] | None:
    """(kind, columns it reads, columns the chosen kind reads, columns) when the headers fit
    another kind clearly better than ``chosen``; None when the choice is plausible."""
    info = info_headers()
    headers = [norm(h) for h in header if h.strip() and norm(h) not in info]
    if not headers:
        return None
    mine, _ = _read_by(chosen, headers)
    best: tuple[int, str] | None = None
    for kind in KINDS:
        if kind == chosen:
            continue
        n, complete = _read_by(kind, headers)
        if complete and n > mine and (best is None or n > best[0]):
            best = (n, kind)
    if best is None or mine * 2 > len(headers):
        return None
    return best[1], best[0], mine, len(headers)


def note_wrong_kind(report: Report, header: list[str]) -> bool:
    """Put "this looks like a <kind> file" first on the report (an error) when it does; whether it did."""
    found = better_kind(header, report.kind)
    if found is None:
        return False
    kind, n, mine, total = found
    params = {
        "kind": {lang: _kind_label(kind, lang) for lang in ("zh", "en")},
        "chosen": {lang: _kind_label(report.kind, lang) for lang in ("zh", "en")},
        "n": n, "mine": mine, "total": total,
    }
    report.problems.insert(0, Problem("wrong_kind", "", np.array([], dtype=np.intp), "error", params))
    return True


def _kind_label(kind: str, lang: str) -> str:
    return translate(f"ingest.kind.{kind}", lang)
