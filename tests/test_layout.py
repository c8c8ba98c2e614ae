"""The package's layout rules (the redesign's done-when), checked on the source tree.

* imports flow one way, lower layer to higher: core < store < access < engine < geo, workflow
  < ingest, quality, model < report < demo < cli < ui < pages (a module may import its own
  layer and any lower one);
* streamlit is imported only in ``fanpin/ui/``, ``pages/`` and ``app.py``;
* queries live in ``fanpin/store/``: elsewhere nothing imports SQLAlchemy's statement builders
  (only ``Engine``/``Connection`` types and ``sqlalchemy.exc`` errors) nor the table objects
  of ``fanpin.store.schema``;
* no page file is over 300 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fanpin"
RANK = {
    "core": 0, "store": 1, "access": 2, "engine": 3, "geo": 4, "workflow": 4,
    "ingest": 5, "quality": 5, "model": 5, "report": 6, "demo": 7, "cli": 8, "ui": 9,
}
#: Modules outside fanpin/store allowed to build queries, each with the reason.
SQL_EXCEPTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _layer(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else None


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in the file, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


def _target_layers(module: str, names: list[str]) -> set[str]:
    parts = module.split(".")
    if parts[0] != "fanpin":
        return set()
    if len(parts) >= 2:
        return {parts[1]}
    return {n for n in names if n in RANK}  # from fanpin import store


def test_every_module_sits_in_a_layer() -> None:
    loose = [p.relative_to(ROOT).as_posix() for p in _modules() if _layer(p) is None and p.name != "__init__.py"]
    assert not loose, f"modules outside the subpackages: {loose}"
    unknown = sorted({_layer(p) for p in _modules()} - set(RANK) - {None})
    assert not unknown, f"subpackages without a layer in RANK: {unknown}"


def test_imports_flow_from_lower_to_higher_layers() -> None:
    upward = []
    for path in _modules():
        layer = _layer(path)
        if layer is None:
            continue
        for line, module, names in _imports(path):
            for target in _target_layers(module, names):
                if RANK.get(target, -1) > RANK[layer]:
                    upward.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {module} ({target})")
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_streamlit_only_in_ui_and_pages() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in _modules()
        if _layer(p) != "ui"
        for line, module, _ in _imports(p)
        if module.split(".")[0] == "streamlit"
    ]
    assert not found, f"streamlit imported outside fanpin/ui: {found}"


def _sql_uses(path: Path) -> list[str]:
    bad = []
    for line, module, names in _imports(path):
        root = module.split(".")[0]
        if root == "sqlalchemy":
            if module in ("sqlalchemy.engine", "sqlalchemy.exc") and all(n in ("Engine", "Connection", "make_url") or module == "sqlalchemy.exc" for n in names):
                continue
            if module == "sqlalchemy" and names == ["exc"]:  # the error classes only
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {module} {names}")
        elif module == "fanpin.store.schema" or (module == "fanpin.store" and "schema" in names):
            bad.append(f"{path.relative_to(ROOT)}:{line} imports the table objects")
    return bad


def test_queries_live_in_the_store() -> None:
    files = [p for p in _modules() if _layer(p) != "store"] + sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
    bad = [b for p in files if p.relative_to(ROOT).as_posix() not in SQL_EXCEPTIONS for b in _sql_uses(p)]
    assert not bad, "SQL outside fanpin/store:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_pages_are_thin(page: str) -> None:
    n = len((ROOT / "pages" / page).read_text(encoding="utf-8").splitlines())
    assert n <= 300, f"pages/{page} has {n} lines (at most 300: move logic to fanpin/ and fanpin/ui/)"
