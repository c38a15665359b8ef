"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run` on 127.0.0.1.
Clicking a map point plays it; the view survives a reload and a shared link; an uploaded real recording
appears as a marker on the map; the library roots refuse outside and missing folders alike. Each page's
screenshot (1400×900) is saved under docs/screenshots/."""

from __future__ import annotations

import pytest

from .audio_files import FORMATS
from .browser import SHOTS, chromium, no_traceback, settle, skip_without_chromium, streamlit, type_folder

pytestmark = skip_without_chromium

POINT_OF_FIRST_TRACE = """n => {
  const gd = document.querySelectorAll('.js-plotly-plot')[n];
  const full = gd._fullLayout, trace = gd._fullData[0], box = gd.getBoundingClientRect();
  return [box.left + full._size.l + full.xaxis.l2p(trace.x[0]), box.top + full._size.t + full.yaxis.l2p(trace.y[0])];
}"""


@pytest.fixture(scope="module")
def server(demo_collection, tmp_path_factory):
    """`streamlit run app.py` on 127.0.0.1, sharing the test session's cache and weights; the folder box
    is limited to one library root (a folder of real recordings)."""
    music = tmp_path_factory.mktemp("library") / "music"
    (music / "jazz").mkdir(parents=True)
    (music / "jazz" / "rwc_jazz_m01.wav").symlink_to(FORMATS / "rwc_jazz_m01.wav")
    with streamlit({"SHROOMS_LIBRARY_ROOTS": str(music)}) as (base, _, _):
        yield base, music


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_home_page(server, page) -> None:
    page.goto(server[0])
    page.wait_for_selector("text=How well does each tagger", timeout=120_000)
    settle(page)
    assert page.locator("text=weights not available").count() >= 1
    shot(page, "home")


def test_clicking_a_point_plays_it(server, page) -> None:
    page.goto(f"{server[0]}/explore")
    page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas", timeout=120_000)
    settle(page)
    page.wait_for_timeout(500)
    shot(page, "explore")
    x, y = page.evaluate(POINT_OF_FIRST_TRACE, 0)
    page.mouse.click(x, y)
    player = page.wait_for_selector("audio", timeout=60_000)
    source = player.get_attribute("src") or page.evaluate("el => el.currentSrc || el.querySelector('source')?.src", player)
    assert source, "the audio player has no source"
    settle(page)  # the clicked track and its five neighbours, each playable
    page.wait_for_function("() => [...document.querySelectorAll('audio')].filter(a => a.src).length === 6",
                           timeout=60_000)
    shot(page, "explore-track")


def test_uploaded_track_appears_on_the_map(server, page) -> None:
    page.goto(f"{server[0]}/place")
    page.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
    song = FORMATS / "carnatic_varnam_abhogi.mp3"
    page.set_input_files("input[type=file]", str(song))
    page.wait_for_function(
        """name => [...document.querySelectorAll('.js-plotly-plot')].some(
               gd => (gd.data || []).some(t => t.name === 'upload: ' + name))""", arg=song.name, timeout=180_000)
    settle(page)
    shot(page, "place")


HIGHLIGHTED_PER_MAP = """() => [...document.querySelectorAll('.js-plotly-plot')].slice(0, 3).map(
    gd => gd._fullData.reduce((n, t) => n + (typeof t.marker.size === 'number' ? 0
          : Array.from(t.marker.size).filter(s => s > 7).length), 0))"""


def test_compare_page_links_a_selection_across_maps(server, page) -> None:
    page.goto(f"{server[0]}/compare")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 6", timeout=180_000)
    settle(page)
    shot(page, "compare")
    # the hubs table (each tagger's hubness and top hubs) sits between the agreement and the scores
    assert page.get_by_text("tracks that are among almost everyone's 10 nearest neighbours").count() == 1
    assert page.locator("[data-testid='stDataFrame']").count() == 2  # hubs and scores
    x, y = page.evaluate(POINT_OF_FIRST_TRACE, 1)  # a point in the second map (Musicnn)
    page.mouse.click(x, y)
    page.wait_for_selector("text=tracks selected", timeout=60_000)
    settle(page)
    page.wait_for_function(f"() => {{ const n = ({HIGHLIGHTED_PER_MAP})(); return n[0] >= 1 && n.every(c => c === n[0]); }}",
                           timeout=60_000)
    counts = page.evaluate(f"() => ({HIGHLIGHTED_PER_MAP})()")
    assert len(counts) == 3 and counts[0] == counts[1] == counts[2] >= 1  # the same tracks, in every map


SUBHEADER = "[data-testid='stHeading'] h3"


def test_reload_and_a_shared_link_keep_the_view(server, page, browser) -> None:
    """Explore with CRNN, PCA and a clicked track: a reload keeps collection, tagger, projection and track,
    and the URL opened in a fresh browser context (no cookies, no session) shows the same view."""
    page.goto(f"{server[0]}/explore?tagger=crnn&projection=pca")
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=120_000)
    settle(page)
    x, y = page.evaluate(POINT_OF_FIRST_TRACE, 0)
    page.mouse.click(x, y)
    page.wait_for_function("() => location.search.includes('track=')", timeout=60_000)
    settle(page)
    track = page.locator(SUBHEADER).first.inner_text()
    url = page.url
    assert "collection=demo" in url and "tagger=crnn" in url and "projection=pca" in url

    def same_view(p) -> None:
        p.wait_for_selector(SUBHEADER, timeout=120_000)
        settle(p)
        assert p.locator(SUBHEADER).first.inner_text() == track
        p.wait_for_selector("text=CRNN: top tags", timeout=60_000)  # the track's tags come from CRNN
        assert p.get_by_label("PCA").is_checked()
        no_traceback(p)

    page.reload()
    same_view(page)
    fresh = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        other = fresh.new_page()
        other.goto(url)
        same_view(other)
    finally:
        fresh.close()


def test_a_link_to_a_missing_tagger_falls_back_with_a_note(server, page) -> None:
    page.goto(f"{server[0]}/explore?tagger=nosuch&track=nowhere")
    page.wait_for_selector("text=/The link's tagger “nosuch” is not available here/", timeout=120_000)
    settle(page)
    no_traceback(page)


def test_library_roots_refuse_outside_and_missing_alike(server, page) -> None:
    base, music = server
    page.goto(base)
    settle(page)
    seen = {}
    for name, path in (("outside", "/usr/share"), ("missing", str(music / "nope"))):
        type_folder(page, path)
        error = page.locator("[data-testid='stSidebar'] [data-testid='stAlertContentError']").inner_text()
        seen[name] = error.strip().replace(path, "PATH")
    assert seen["outside"] == seen["missing"] == "PATH: not allowed or not found"
    no_traceback(page)
    type_folder(page, str(music))
    page.wait_for_selector("text=music: 1 tracks, 1 labels", timeout=60_000)
