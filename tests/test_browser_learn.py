"""The "what do the taggers learn?" views in Chromium (Playwright, Debian's browser) against `streamlit run`
on 127.0.0.1: a clicked point draws its trajectory (one point per chunk); a box selection downloads as an
M3U8 playlist of exactly the boxed tracks' files. Screenshots (1400×900) of each new view go to
docs/screenshots/."""

from __future__ import annotations

import pytest

from shrooms.store import Store

from .audio_files import FORMATS
from .browser import SHOTS, chromium, no_traceback, settle, skip_without_chromium, streamlit

pytestmark = skip_without_chromium

FIRST_POINT = """() => {
  const gd = document.querySelector('.js-plotly-plot'), full = gd._fullLayout, t = gd._fullData[0];
  const box = gd.getBoundingClientRect();
  return [box.left + full._size.l + full.xaxis.l2p(t.x[0]), box.top + full._size.t + full.yaxis.l2p(t.y[0]),
          t.customdata[0]];
}"""
TRAJECTORY = """() => (document.querySelector('.js-plotly-plot')._fullData || [])
  .filter(t => (t.name || '').startsWith('trajectory: ')).map(t => [t.name, t.x.length, t.mode])"""
BOX = """() => {
  const gd = document.querySelector('.js-plotly-plot'), full = gd._fullLayout, s = full._size;
  const box = gd.getBoundingClientRect();
  return [box.left + s.l + 0.3 * s.w, box.top + s.t + 0.3 * s.h, box.left + s.l + 0.7 * s.w, box.top + s.t + 0.7 * s.h];
}"""
INSIDE = """([x0, y0, x1, y1]) => {
  const gd = document.querySelector('.js-plotly-plot'), full = gd._fullLayout, s = full._size;
  const box = gd.getBoundingClientRect(), ids = [];
  for (const t of gd._fullData) {
    if (!t.customdata) continue;
    for (let i = 0; i < t.x.length; i++) {
      const px = box.left + s.l + full.xaxis.l2p(t.x[i]), py = box.top + s.t + full.yaxis.l2p(t.y[i]);
      if (px > x0 && px < x1 && py > y0 && py < y1 && !String(t.customdata[i]).startsWith('chunk:')) ids.push(t.customdata[i]);
    }
  }
  return ids;
}"""


@pytest.fixture(scope="module")
def server(demo_collection):
    with streamlit() as (base, _, _), chromium() as browser:
        yield base, browser


@pytest.fixture
def page(server):
    context = server[1].new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def open_map(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    settle(page)
    page.evaluate("() => document.querySelector('.js-plotly-plot').scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)


def test_clicking_a_point_draws_its_trajectory(server, page, demo_collection) -> None:
    open_map(page, f"{server[0]}/explore?tagger=musicnn")
    x, y, track = page.evaluate(FIRST_POINT)
    page.mouse.click(x, y)
    page.wait_for_function(f"() => ({TRAJECTORY})().length === 1", timeout=120_000)
    settle(page)
    [(name, points, mode)] = page.evaluate(TRAJECTORY)
    clicked = name.removeprefix("trajectory: ")  # the point under the cursor (a tight cluster may overlap)
    assert clicked.split("/")[0] == track.split("/")[0], (clicked, track)
    chunks = len(Store(demo_collection).read("musicnn", clicked).chunk_embeddings)
    assert chunks == 10  # a 29-s demo clip: ten 3-s Musicnn windows
    assert (points, mode) == (chunks, "lines+markers")
    page.wait_for_selector("text=Play from chunk", timeout=60_000)
    no_traceback(page)
    shot(page, "explore-trajectory")


def test_a_box_selection_downloads_as_m3u8_of_the_boxed_tracks(server, page, demo_collection) -> None:
    open_map(page, f"{server[0]}/explore?tagger=fcn")
    page.evaluate("() => Plotly.relayout(document.querySelector('.js-plotly-plot'), {dragmode: 'select'})")
    x0, y0, x1, y1 = page.evaluate(BOX)
    inside = page.evaluate(INSIDE, [x0, y0, x1, y1])
    assert len(inside) >= 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    button = page.get_by_role("button", name=f"Download {len(inside)} tracks as M3U8")
    button.wait_for(timeout=120_000)
    settle(page)
    with page.expect_download() as download:
        button.click()
    text = open(download.value.path(), encoding="utf-8").read()
    paths = {t.id: str(t.path) for t in demo_collection.tracks}
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert text.startswith("#EXTM3U\n")
    assert sorted(entries) == sorted(paths[i] for i in inside)
    no_traceback(page)
    shot(page, "explore-selection")


def test_screenshots_of_tag_axes_compare_place_and_study(server, page, tmp_path) -> None:
    open_map(page, f"{server[0]}/explore?tagger=musicnn&projection=tags&tag_x=genre---rock"
                   "&tag_y=genre---electronic&colour=cluster")
    assert page.locator("text=x = P(tag)").count() == 1
    shot(page, "explore-tag-axes")
    page.goto(f"{server[0]}/compare")
    page.wait_for_selector("text=Do they hear the collection alike?", timeout=300_000)
    settle(page)
    page.locator("text=Do they hear the collection alike?").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    shot(page, "compare-agreement")
    page.goto(f"{server[0]}/place")
    page.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
    page.set_input_files("input[type=file]", str(FORMATS / "brid_samba_stereo.wav"))
    page.wait_for_selector("text=further from the collection than", timeout=300_000)
    settle(page)
    page.wait_for_timeout(800)
    shot(page, "place-grid")
    for group, songs in {"indian": ["carnatic_varnam_abhogi.mp3", "hindustani_raag_bairagi.mp3"],
                         "latin": ["brid_samba_stereo.wav", "candombe_ansina.flac"]}.items():
        (tmp_path / group).mkdir()
        for song in songs:
            (tmp_path / group / song).symlink_to(FORMATS / song)
    page.goto(f"{server[0]}/study")
    box = page.get_by_label("Folder of new music (one sub-folder per group)", exact=True).and_(page.locator("input"))
    box.fill(str(tmp_path))
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Run the study").click()
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=300_000)
    settle(page)
    page.wait_for_timeout(800)
    no_traceback(page)
    shot(page, "study")
