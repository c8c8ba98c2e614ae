"""The mapping table and the import kinds: every name is read one way, and every row of the table is used."""

from __future__ import annotations

import pytest

from fanpin.core.i18n import label
from fanpin.ingest import specs
from fanpin.ingest.names import norm


@pytest.mark.parametrize("kind", specs.KINDS)
def test_headers_and_values_are_unambiguous(kind: str) -> None:
    """No header (zh, en, code or alias) names two columns of a kind, and no accepted cell value
    means two codes of a column: otherwise a bureau's file could be read two ways."""
    spec = specs.SPECS[kind]
    seen: dict[str, str] = {}
    for c in spec.columns:
        for h in {norm(x) for x in (c.name, c.zh, c.en, *c.aliases)}:
            assert seen.setdefault(h, c.name) == c.name, (h, c.name, seen[h])
        values: dict[str, str] = {}
        for code in c.codes:
            names = {norm(code)} | ({norm(label(c.label_kind, code, lang)) for lang in ("zh", "en")} if c.label_kind else set())
            for v in names:
                assert values.setdefault(v, code) == code, (c.name, v)
        for alias, code in c.value_aliases:
            assert code in c.codes
            assert values.setdefault(norm(alias), code) == code, (c.name, alias)


def test_the_mapping_table_names_real_columns_and_codes() -> None:
    """Every row of fanpin.ingest.names is used: a header row names a column of some kind (of that
    kind, for a kind's own rows), a value row names a code of the column it is for."""
    from fanpin.ingest.names import NAMES

    columns = {(k, c.name): c for k, spec in specs.SPECS.items() for c in spec.columns}
    for of, code, zh in NAMES:
        assert zh and all(zh), (of, code)
        if of == "bool":
            assert code in ("true", "false")
        elif of == "info":  # read and noted, never stored: not a column of any kind
            assert not any(norm(n) in specs.header_map(spec) for spec in specs.SPECS.values() for n in zh), zh
        elif of == "header":
            assert any(name == code for _k, name in columns), (of, code)
        elif of.startswith("header:"):
            assert (of[7:], code) in columns, (of, code)
        else:
            kind, _, column = of.rpartition(".")
            cols = [c for (k, name), c in columns.items() if name == column and (not kind or k == kind)]
            assert cols and all(code in c.codes for c in cols), (of, code)
    assert specs.SPECS["members"].col("relation").zh == "与户主关系"
    assert specs.SPECS["official_relations"].col("relation").zh == "亲属关系"
