"""People in more than one household, by county of a region (``fanpin.engine.regional``), on a
hand-made join result: who is counted where, and what a region keeps of people partly outside it."""

from __future__ import annotations

import pandas as pd

from fanpin.engine.regional import duplicates_by_county

# person 1: two households in county 990101; person 2: 990101 and 990201 (another city);
# person 3: 990102 and 990201; person 4: only outside city 9901 (990201 twice)
FOUND = pd.DataFrame({
    "person_key": [1, 1, 2, 2, 3, 3, 4, 4],
    "household_id": ["a1", "a2", "a3", "c1", "b1", "c2", "c3", "c4"],
    "county_code": ["990101", "990101", "990101", "990201", "990102", "990201", "990201", "990201"],
})


def test_counts_by_county_of_a_city() -> None:
    got = duplicates_by_county(FOUND, "990100000000")
    assert got.to_dict("list") == {
        "region_code": ["990101000000", "990102000000"],
        "people": [2, 1],  # persons 1 and 2 in 990101; person 3 in 990102
        "across_counties": [1, 1],  # person 2 and person 3 reach another county
        "households": [3, 1],
    }


def test_counts_by_county_of_the_province_and_an_empty_answer() -> None:
    got = duplicates_by_county(FOUND, "990000000000").set_index("region_code")
    assert got.loc["990201000000"].tolist() == [3, 2, 4]  # persons 2, 3, 4; 2 and 3 across counties; households c1-c4
    assert got["people"].sum() == 6  # a person is counted in each county holding them
    assert duplicates_by_county(FOUND.iloc[0:0], "990000000000").empty
