"""UMAP in a real browser (issue #18): picking UMAP on Explore draws the collection's UMAP map (every
stored track a point), the URL keeps `projection=umap` and a reload keeps the choice; Compare opened with
that link draws its maps with UMAP too."""

from __future__ import annotations

import pytest

from shrooms.store import Store

from .browser import chromium, no_traceback, settle, skip_without_chromium, streamlit

pytestmark = skip_without_chromium

POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(
  gd => gd._fullData.filter(t => t.visible !== false).reduce((n, t) => n + (t.x ? t.x.length : 0), 0))"""


@pytest.fixture(scope="module")
def page(demo_collection):
    with streamlit() as (base, _, _), chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        yield base, context.new_page(), len(Store(demo_collection).load("fcn").tracks)
        context.close()


def test_picking_umap_on_explore_draws_its_map_and_the_url_keeps_it(page) -> None:
    base, page, n_tracks = page
    page.goto(f"{base}/explore?tagger=fcn")
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    settle(page)
    page.get_by_text("UMAP", exact=True).click()
    page.wait_for_function("() => location.search.includes('projection=umap')", timeout=60_000)
    settle(page)  # the first UMAP fit in the server compiles umap-learn's numba code
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    assert page.get_by_label("UMAP").is_checked()
    assert page.evaluate(POINTS)[0] == n_tracks  # every stored track drawn on the UMAP map
    no_traceback(page)
    url = page.url
    page.reload()
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    settle(page)
    assert page.get_by_label("UMAP").is_checked() and "projection=umap" in page.url
    page.goto(url.replace("/explore", "/compare"))
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    settle(page)
    assert page.get_by_label("UMAP").is_checked() and "projection=umap" in page.url
    assert page.locator(".js-plotly-plot .gtitle", has_text="· UMAP").count() >= 2
    no_traceback(page)
