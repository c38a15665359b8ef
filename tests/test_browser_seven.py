"""Compare with all seven taggers in Chromium: the three released checkpoints plus the four synthetic
state_dicts of ../shared/conformance, on a small labelled folder of real recordings. Every map draws its
points (SVG: no WebGL context is used, so the browser's cap of ~16 cannot blank one), and a selection in
one map is highlighted in all seven."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch

from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.taggers import TAGGERS
from shrooms.views import map_frame

from .audio_files import FORMATS
from .browser import SHOTS, chromium, no_traceback, settle, skip_without_chromium, streamlit
from .conftest import RELEASED, SHARED
from .conformance_models import manifest, synthetic_state_dict

pytestmark = skip_without_chromium
SECONDS = 6


def seven_weights(folder):
    """`folder/jamendo/<key>/best_model.pth` for all seven taggers: released files linked, the other four
    built by the conformance README's rule."""
    info = manifest()["models"]
    for key in TAGGERS:
        dest = folder / "jamendo" / key / "best_model.pth"
        dest.parent.mkdir(parents=True)
        if key in RELEASED:
            dest.symlink_to(SHARED / "weights" / "jamendo" / key / "best_model.pth")
        else:
            torch.save(synthetic_state_dict(info[key]["synthetic_state_dict"]), dest)
    return folder


def small_collection(folder):
    """Six real recordings (6-s excerpts) in three labels."""
    songs = sorted(FORMATS.iterdir())[:6]
    for n, song in enumerate(songs):
        samples, sr = sf.read(song, dtype="float32", frames=SECONDS * 44100, always_2d=True)
        (folder / f"set{n % 3}").mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"set{n % 3}" / f"{song.stem}.wav", samples.mean(axis=1), sr)
    return folder


@pytest.fixture(scope="module")
def app(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("seven")
    env = {"SHROOMS_WEIGHTS_DIR": str(seven_weights(root / "weights")), "SHROOMS_CACHE": str(root / "cache"),
           "SHROOMS_WEIGHTS_UNVERIFIED": "sample,se,attention,hcnn"}  # synthetic, not the released files
    for name, value in env.items():
        monkeypatch_module.setenv(name, value)
    music = small_collection(root / "music")
    coll = folder_collection(music)
    summary = precompute(coll, list(TAGGERS), show_bar=False)
    assert not summary.unavailable and not summary.failed
    for key in TAGGERS:  # fit (and cache) the seven t-SNE maps here, not inside the page's run
        map_frame(coll, key, "tsne", 2)
    with streamlit(env) as (base, _, _), chromium() as browser:
        yield base, music, browser


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


MAPS = "() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._fullData?.[0]?.type === 'scatter')"
HEATMAPS = "() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._fullData?.[0]?.type === 'heatmap')"
DRAWN = f"""() => ({MAPS})().map(gd => [gd.calcdata.reduce((n, t) => n + t.length, 0),
                                        gd.querySelectorAll('.scatterlayer path.point').length])"""
HIGHLIGHTED = f"""() => ({MAPS})().map(gd => gd._fullData.reduce((n, t) => n + (typeof t.marker.size === 'number'
                                        ? 0 : Array.from(t.marker.size).filter(s => s > 7).length), 0))"""
FIRST_POINT = f"""n => {{
  const gd = ({MAPS})()[n];
  gd.scrollIntoView({{block: 'center'}});
  const full = gd._fullLayout, trace = gd._fullData[0], box = gd.getBoundingClientRect();
  return [box.left + full._size.l + full.xaxis.l2p(trace.x[0]), box.top + full._size.t + full.yaxis.l2p(trace.y[0])];
}}"""


def test_compare_draws_seven_maps_and_links_a_selection(app) -> None:
    base, music, browser = app
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/compare?collection={music}")
    try:
        # seven maps, then the agreement heatmap and seven confusion heatmaps below them
        page.wait_for_function(f"() => ({MAPS})().length === 7 && ({HEATMAPS})().length === 8", timeout=400_000)
    finally:
        page.screenshot(path=str(SHOTS.parent.parent / ".pytest_cache" / "compare-seven-wait.png"), full_page=True)
    settle(page)
    no_traceback(page)
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length") == 15
    assert page.get_by_text("Place your track").count() == 1  # a deep link as the first request is routed by app.py
    drawn = page.evaluate(DRAWN)
    assert drawn == [[6, 6]] * 7, drawn  # every map has drawn every point
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot canvas.gl-canvas').length") == 0
    page.screenshot(path=str(SHOTS / "compare-seven.png"), full_page=True)
    page.evaluate(FIRST_POINT, 1)  # scrolls the map into view
    page.wait_for_timeout(300)
    x, y = page.evaluate(FIRST_POINT, 1)
    page.mouse.click(x, y)
    page.wait_for_selector("text=tracks selected", timeout=60_000)
    settle(page)
    page.wait_for_function(f"() => {{ const n = ({HIGHLIGHTED})(); return n.length === 7 && n[0] >= 1 "
                           "&& n.every(c => c === n[0]); }", timeout=60_000)
    assert "taggers=fcn%2Cmusicnn%2Ccrnn%2Csample%2Cse%2Cattention%2Chcnn" in page.url or \
        "taggers=fcn,musicnn,crnn,sample,se,attention,hcnn" in page.url
    page.close()
