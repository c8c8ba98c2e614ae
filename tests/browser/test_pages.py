"""Each page in a real browser: renders without an error box, draws, and stays on 127.0.0.1."""

from __future__ import annotations

import pytest

from .conftest import errors_on_page, screenshot, wait_ready

#: the screenshot's name of a page's path (the others are named by their path)
NAMES = {"": "overview"}


def test_a_bookmarked_page_as_first_request_runs_through_the_app(page) -> None:
    """The server's very first request is for /map: it must get the app's navigation, not Streamlit's automatic one."""
    page.goto(f"{page.base}/map")
    wait_ready(page)
    # app.py ran: Streamlit's own (automatic) page list is hidden and the sidebar links are ours
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    nav = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').all_inner_texts()
    assert "风险地图" in " ".join(nav) and "app" not in nav
    assert errors_on_page(page) == []


def test_overview_charts_are_drawn(page) -> None:
    page.goto(f"{page.base}/")
    wait_ready(page)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3", timeout=30_000)
    # each trend has a drawn line, not an empty frame
    assert page.locator(".js-plotly-plot .scatterlayer path.js-line").count() >= 4
    assert page.locator('[data-testid="stMetric"]').count() >= 6


def test_clicking_a_township_filters_the_overview(page) -> None:
    page.goto(f"{page.base}/")
    wait_ready(page)
    title_before = page.locator('[data-testid="stMain"] h1').first.inner_text()
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # the row-selection column sits at the left; the first data row under the 35px header
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
    wait_ready(page)
    page.wait_for_timeout(1000)
    wait_ready(page)
    title_after = page.locator('[data-testid="stMain"] h1').first.inner_text()
    assert title_after != title_before
    assert page.locator('[data-testid="stAlert"]').filter(has_text="已筛选").count() == 1
    screenshot(page, "overview_filtered")


def test_map_canvas_is_drawn(page) -> None:
    """The township map paints polygons (not an empty canvas) with no base map."""
    import io

    from PIL import Image

    page.goto(f"{page.base}/map")
    wait_ready(page)
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200
    page.wait_for_timeout(1500)
    img = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB").resize((120, 120))
    colours = set(img.getdata())
    assert len(colours) > 20, "the map canvas is blank"
    assert page.recorder.external() == []


@pytest.mark.parametrize("path", ["", "map", "simulator", "profile", "clues", "register", "model", "training", "import", "quality", "admin"])
def test_page_renders_offline_and_its_choices_follow_a_language_switch(page, path: str) -> None:
    """Each page renders without an error box and with nothing asked of another machine; then, in
    English: a keyed selectbox keeps showing the label of the language it was first drawn in (its
    value travels as the label): after switching to English no select box may still show Chinese.
    (One page load for both: the render is what the switch starts from.)"""
    import re

    page.goto(f"{page.base}/{path}")
    wait_ready(page)
    name = NAMES.get(path, path)
    shot = screenshot(page, name)
    assert shot.stat().st_size > 10_000
    assert errors_on_page(page) == []
    assert page.recorder.external() == [], "requests left the machine"
    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()
    page.wait_for_timeout(800)
    wait_ready(page)
    page.locator('[data-testid="stMain"] h1').filter(has_not_text=re.compile("[\u4e00-\u9fff]")).first.wait_for(timeout=30_000)
    boxes = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input[role="combobox"]')
    shown = [boxes.nth(i).input_value() for i in range(boxes.count())]  # what each box shows as chosen
    chinese = [s for s in shown if re.search("[\u4e00-\u9fff]", s)]
    # township and village names are data and keep their Chinese names only where the region has no English name
    assert chinese == [], (path, chinese)
    assert errors_on_page(page) == []
    assert page.recorder.external() == [], "requests left the machine"
