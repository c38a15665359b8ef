"""The app refreshes without a restart, in a real browser (Debian's Chromium, `streamlit run` on 127.0.0.1):
a folder collection of real recordings with FCN stored, opened on Explore; files added to the folder and
computed by `shrooms precompute` in another process; a reload of the page on the same server draws the new
points. (Before issue #20 the collection was cached for the server's life and every view was keyed without
the store's revision: the reload drew the old points until the server restarted.)"""

from __future__ import annotations

import os
from pathlib import Path

from .browser import chromium, no_traceback, settle, skip_without_chromium, streamlit
from .conftest import SHARED
from .helpers import run_cli
from .test_freshness import N, add_music, make_music

pytestmark = skip_without_chromium

POINTS = """() => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  return gd._fullData.filter(t => !String(t.name).startsWith('trajectory'))
                     .reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
}"""


def explore(page, base: str, music: Path) -> int:
    """Open Explore on `music` (FCN's t-SNE map) and count the points drawn."""
    page.goto(f"{base}/explore?collection={music}&tagger=fcn")
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=180_000)
    settle(page)
    no_traceback(page)
    return page.evaluate(POINTS)


def test_a_reload_shows_files_computed_by_another_process(tmp_path: Path) -> None:
    cache, weights = tmp_path / "cache", tmp_path / "weights"
    (weights / "jamendo" / "fcn").mkdir(parents=True)
    (weights / "jamendo" / "fcn" / "best_model.pth").symlink_to(SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth")
    env = {"SHROOMS_CACHE": str(cache), "SHROOMS_WEIGHTS_DIR": str(weights)}
    music = make_music(tmp_path / "music")
    first = run_cli("precompute", "--collection", str(music), "--models", "fcn", env=env)
    assert first.returncode == 0, first.stderr
    with streamlit(env) as (base, _, _), chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        assert explore(page, base, music) == N
        added = add_music(music, 2)  # 6 new real excerpts, two per label
        again = run_cli("precompute", "--collection", str(music), "--models", "fcn", env=env)
        assert again.returncode == 0, again.stderr
        assert explore(page, base, music) == N + len(added)  # the same server, a fresh page
        os.remove(added[0])  # a file removed: its point goes too
        assert explore(page, base, music) == N + len(added) - 1
