"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run` on 127.0.0.1.
Clicking a map point plays it; an uploaded real recording appears as a marker on the map. Each page's
screenshot is saved under docs/screenshots/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .audio_files import FORMATS
from .conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

POINT_OF_FIRST_TRACE = """n => {
  const gd = document.querySelectorAll('.js-plotly-plot')[n];
  const full = gd._fullLayout, trace = gd._fullData[0], box = gd.getBoundingClientRect();
  return [box.left + full._size.l + full.xaxis.l2p(trace.x[0]), box.top + full._size.t + full.yaxis.l2p(trace.y[0])];
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_collection):
    """`streamlit run app.py` on 127.0.0.1, sharing the test session's cache and weights."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address",
                             "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    yield context.new_page()
    context.close()


def settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def test_home_page(server, page) -> None:
    page.goto(server)
    page.wait_for_selector("text=How well does each tagger", timeout=120_000)
    settle(page)
    assert page.locator("text=weights not available").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)


def test_clicking_a_point_plays_it(server, page) -> None:
    page.goto(f"{server}/explore")
    page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas", timeout=120_000)
    settle(page)
    page.wait_for_timeout(500)
    x, y = page.evaluate(POINT_OF_FIRST_TRACE, 0)
    page.mouse.click(x, y)
    player = page.wait_for_selector("audio", timeout=60_000)
    source = player.get_attribute("src") or page.evaluate("el => el.currentSrc || el.querySelector('source')?.src", player)
    assert source, "the audio player has no source"
    settle(page)  # the clicked track and its five neighbours, each playable
    page.wait_for_function("() => [...document.querySelectorAll('audio')].filter(a => a.src).length === 6",
                           timeout=60_000)
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)


def test_uploaded_track_appears_on_the_map(server, page) -> None:
    page.goto(f"{server}/place")
    page.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
    song = FORMATS / "carnatic_varnam_abhogi.mp3"
    page.set_input_files("input[type=file]", str(song))
    page.wait_for_function(
        """name => [...document.querySelectorAll('.js-plotly-plot')].some(
               gd => (gd.data || []).some(t => t.name === 'upload: ' + name))""", arg=song.name, timeout=180_000)
    settle(page)
    page.screenshot(path=str(SHOTS / "place.png"), full_page=True)


HIGHLIGHTED_PER_MAP = """() => [...document.querySelectorAll('.js-plotly-plot')].slice(0, 3).map(
    gd => gd._fullData.reduce((n, t) => n + (typeof t.marker.size === 'number' ? 0
          : Array.from(t.marker.size).filter(s => s > 7).length), 0))"""


def test_compare_page_links_a_selection_across_maps(server, page) -> None:
    page.goto(f"{server}/compare")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 6", timeout=180_000)
    settle(page)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)
    x, y = page.evaluate(POINT_OF_FIRST_TRACE, 1)  # a point in the second map (Musicnn)
    page.mouse.click(x, y)
    page.wait_for_selector("text=tracks selected", timeout=60_000)
    settle(page)
    page.wait_for_function(f"() => {{ const n = ({HIGHLIGHTED_PER_MAP})(); return n[0] >= 1 && n.every(c => c === n[0]); }}",
                           timeout=60_000)
    counts = page.evaluate(f"() => ({HIGHLIGHTED_PER_MAP})()")
    assert len(counts) == 3 and counts[0] == counts[1] == counts[2] >= 1  # the same tracks, in every map
