"""Region hierarchy from the 12-digit codes: levels, parents, grouping, vectorised."""

from __future__ import annotations

import numpy as np
import pytest

from fanpin.core import regions as rg


def test_levels_follow_from_the_zeros() -> None:
    codes = ["990000000000", "990100000000", "990101000000", "990101003000", "990101003017"]
    assert list(rg.level_of(codes)) == ["province", "city", "county", "township", "village"]
    assert list(rg.level_index(codes)) == [0, 1, 2, 3, 4]


def test_parents_and_prefixes() -> None:
    v = np.array(["990203004011", "990101003017"])
    assert list(rg.parent(v, "county")) == ["990203000000", "990101000000"]
    assert list(rg.parent(v, "city")) == ["990200000000", "990100000000"]
    assert list(rg.prefix(v, "township")) == ["990203004", "990101003"]
    assert list(rg.prefix(v, "county")) == ["990203", "990101"]
    assert rg.ancestors("990101003017") == {
        "province": "990000000000", "city": "990100000000", "county": "990101000000",
        "township": "990101003000", "village": "990101003017",
    }


def test_short_prefixes_are_padded_and_bad_codes_refused() -> None:
    assert list(rg.parent("990101", "county")) == ["990101000000"]
    assert list(rg.level_of("990101")) == ["county"]
    with pytest.raises(ValueError):
        rg.level_of("99x101000000")


def test_within_a_region_at_any_level() -> None:
    codes = np.array(["990101003017", "990102001001", "990201001001"])
    assert list(rg.within(codes, "990100000000")) == [True, True, False]
    assert list(rg.within(codes, "990101000000")) == [True, False, False]
    assert list(rg.within(codes, "990000000000")) == [True, True, True]


def test_group_sums_add_up_to_the_total() -> None:
    rng = np.random.default_rng(0)
    towns = np.array([f"99{c:02d}{k:02d}{t:03d}000" for c in (1, 2) for k in (1, 2, 3) for t in range(1, 6)])
    values = rng.integers(0, 100, (len(towns), 3))
    by_county = rg.group(towns, "county")
    assert len(by_county.regions) == 6
    sums = by_county.sum(values)
    assert sums.sum(axis=0).tolist() == values.sum(axis=0).tolist()
    by_city = rg.group(by_county.regions, "city")
    assert by_city.sum(sums).tolist() == rg.group(towns, "city").sum(values).tolist()
    assert rg.children_level("county") == "township"
