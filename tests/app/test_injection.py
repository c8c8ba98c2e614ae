"""Markdown injection and the demo flag through the app (AppTest, issue 17).

Data reach markdown from the database (a household stored before imports checked IDs, a village
name), from an uploaded file (a GeoJSON township code) and from the user: shown escaped, they
render as their characters, never as an image the browser fetches or a link.  And a trainer,
limited to the demo county, is refused once real data are imported into it."""

from __future__ import annotations

import json
import re

from sqlalchemy import insert, select

from fanpin.access.roles import Principal
from fanpin.core.i18n import translate
from fanpin.ingest import apply
from fanpin.store import meta
from fanpin.store import schema as S
from fanpin.store.regions import township_geojson
from fanpin.ui.text import md
from tests.app.conftest import new_app, open_page, run_as

HID = "![](//h/x)"
VILLAGE = "[v](javascript:alert(1))<img src=//h/y>"
NAME = "**张**![](//h/z)"
#: A live image, link or HTML tag: the construct's opening not preceded by an escaping backslash.
LIVE = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(|(?<!\\)<img|(?<!\\)<script")


def _markdown_texts(at) -> list[str]:
    """Every text the page renders as markdown (headers, captions, messages, markdown blocks)."""
    parts = (*at.title, *at.header, *at.subheader, *at.markdown, *at.caption, *at.success, *at.error, *at.warning, *at.info)
    return [str(x.value) for x in parts]


def _no_live_markup(at) -> None:
    live = [s for s in _markdown_texts(at) if LIVE.search(s)]
    assert not live, live


def _plant(engine) -> str:
    """A household whose ID, village name and head's name carry markdown, written behind the
    import's back (as a database filled before the import checked IDs would hold them)."""
    with engine.begin() as conn:
        hh = dict(conn.execute(select(S.households).order_by(S.households.c.household_id).limit(1)).mappings().one())
        member = dict(conn.execute(select(S.members).where(S.members.c.household_id == hh["household_id"]).limit(1)).mappings().one())
        village = hh["township_code"][:9] + "999"
        conn.execute(insert(S.regions).values(region_code=village, level="village", parent_code=hh["township_code"], name=VILLAGE, name_en=VILLAGE))
        conn.execute(insert(S.households).values(**{**hh, "household_id": HID, "village_code": village}))
        member.pop("member_id", None)
        conn.execute(insert(S.members).values(**{**member, "household_id": HID, "name": NAME, "id_number": "990101199001011234"}))
    return HID


def test_a_household_carrying_markdown_renders_as_text_on_the_profile(demo_copy) -> None:
    hid = _plant(demo_copy)
    at = new_app()
    at.query_params["household"] = hid
    at.switch_page("pages/profile.py")
    run_as(at, "admin")
    assert not at.exception, at.exception
    header = at.header[0].value
    assert md(hid) in header and md(VILLAGE) in header  # the escaped form: \!\[\]\(//h/x\)
    _no_live_markup(at)
    at.button(key="pf_unmask").click().run()  # the head's name in full, still no markup
    assert not at.exception, at.exception
    _no_live_markup(at)


def test_a_geojson_township_code_carrying_markdown_shows_no_image(app_db) -> None:
    engine, spec = app_db
    fc = township_geojson(engine)
    evil = {**fc["features"][0], "properties": {"region_code": HID}}
    at = open_page("map", period=spec.periods[-1])
    at.file_uploader(key="map_upload").set_value(("towns.geojson", json.dumps({"type": "FeatureCollection", "features": [*fc["features"], evil]}).encode(), "application/geo+json"))
    at.run()
    assert not at.exception, at.exception
    assert at.error and "map_custom_fc" not in at.session_state
    listed = " ".join(m.value for m in at.markdown)
    assert md(HID) in listed
    _no_live_markup(at)


def test_a_trainer_is_refused_after_real_data_are_imported_into_the_demo(demo_copy) -> None:
    """The demo county's trainer opens the training page; a data steward imports a real county's
    region table; the trainer's next click is refused (the database is no longer the demo)."""
    at = open_page("training", role="trainer")
    assert not at.exception and not at.error
    regions = "行政区划代码,级别,上级区划代码,名称\n520102000000,县,,南明区\n520102001000,乡镇,520102000000,某某街道\n"
    result = apply.import_file(demo_copy, "regions", regions.encode(), "real.csv", principal=Principal("steward", "data_steward"))
    assert result.status == "applied" and not meta.is_demo(demo_copy)
    at.run()
    assert translate("access.trainer_demo_only", "zh") in [e.value for e in at.error]
    assert not at.metric


def test_an_uploaded_files_column_header_is_text_in_the_confirmation(demo_copy) -> None:
    """The confirmation to drop unrecognised columns names them: headers come from the file."""
    with demo_copy.connect() as conn:
        hid = conn.execute(select(S.households.c.household_id).order_by(S.households.c.household_id).limit(1)).scalar_one()
    at = open_page("import", role="data_steward")
    at.selectbox(key="import_kind_zh").select_index(1).run()  # one file of households
    at.get("file_uploader")[0].upload("hh.csv", f"户编号,家庭人口数,{HID}\n{hid},3,x\n".encode(), "text/csv")
    at.run()
    assert not at.exception, at.exception
    label = at.checkbox(key="import_accept_columns").label
    assert md(HID) in label and not LIVE.search(label)
    _no_live_markup(at)


def test_township_and_county_names_are_text_in_the_sidebar(demo_copy) -> None:
    """The sidebar names the county and a case worker's townships (names an import brought in)."""
    from sqlalchemy import update

    from tests.app.conftest import ensure_user

    with demo_copy.begin() as conn:
        r = S.regions.c
        town = conn.execute(select(r.region_code).where(r.level == "township").order_by(r.region_code).limit(1)).scalar_one()
        conn.execute(update(S.regions).where(r.region_code == town).values(name="![](//h/t)", name_en="![](//h/t)"))
        conn.execute(update(S.regions).where(r.level == "county").values(name="[县](javascript:x)", name_en="[x](javascript:x)"))
    name = ensure_user("case_worker", "cw_md", townships=[town])
    at = new_app()
    at.switch_page("pages/overview.py")
    run_as(at, "case_worker", name)
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert md("![](//h/t)") in captions and md("[县](javascript:x)") in captions
    _no_live_markup(at)


def test_the_map_draws_without_a_broken_stored_boundary(demo_copy, small_demo) -> None:
    """A boundary nested 100k brackets deep (stored before imports checked them) once raised a
    RecursionError on the map: the township is left off, the others drawn; with none left, a message."""
    from sqlalchemy import update

    from fanpin.store.io import bump_data_version

    r = S.regions.c
    with demo_copy.begin() as conn:
        towns = conn.execute(select(r.region_code).where(r.level == "township").order_by(r.region_code)).scalars().all()
        conn.execute(update(S.regions).where(r.region_code == towns[1]).values(geometry="[" * 100_000 + "]" * 100_000))
    at = open_page("map", period=small_demo[1].periods[-1])
    assert not at.exception, at.exception
    drawn = json.loads(at.get("deck_gl_json_chart")[0].proto.json)["layers"][0]["data"]["features"]
    assert sorted(f["properties"]["region_code"] for f in drawn) == [c for c in towns if c != towns[1]]
    with demo_copy.begin() as conn:
        conn.execute(update(S.regions).where(r.level == "township").values(geometry="{not json"))
        bump_data_version(conn)  # the app's cached boundaries are dropped, as after any write
    at = open_page("map", period=small_demo[1].periods[-1])
    assert not at.exception, at.exception
    assert translate("map.no_boundaries", "zh") in [i.value for i in at.info]
