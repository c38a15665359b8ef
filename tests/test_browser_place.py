"""Placing new music, in Chromium (Playwright, Debian's browser) against `streamlit run` on 127.0.0.1.

On a collection of real music (Debian's packaged music, `debian` fixture). Place page: two real recordings
uploaded at once are drawn as two pink diamonds on ONE map per tagger, at
the very coordinates `shrooms.place.place` gives them (locally linear placement among their nearest
collection tracks), apart from each other and among the points of the tracks listed as their nearest
neighbours; "Add my tracks to the map" redraws every map as a joint map with both diamonds still on it.
Study page: a folder of new music (one sub-folder per group) is drawn as star traces per group on the joint
map by default ("mapped with"), and "Placed only" redraws the collection's own map ("placed on")."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from shrooms.place import place
from shrooms.taggers import TAGGERS

from .audio_files import FORMATS
from .browser import chromium, no_traceback, skip_without_chromium, streamlit
from .conftest import CONFORMANCE, RELEASED

pytestmark = skip_without_chromium

# Two real recordings unlike each other: a 30-s ballroom waltz and a samba excerpt. (The 2-s snippets in
# data/formats are all heard alike by FCN, and on the generated demo collection they land within 0.5 % of the map
# of each other: no test of "two places".)
SONGS = [CONFORMANCE / "clips" / "ballroom_waltz.flac", FORMATS / "brid_samba_stereo.wav"]
WAIT = 300_000  # ms: tagging and t-SNE under a loaded machine

# Every drawn map: its title and its traces as decoded by Plotly (`_fullData`: typed arrays made plain).
MAPS = """prefix => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(gd => (gd._fullData || []).some(t => (t.name || '').startsWith(prefix)))
  .map(gd => ({
    title: ((gd._fullLayout.title && gd._fullLayout.title.text) || '').replace(/<[^>]*>/g, ''),
    traces: gd._fullData.map(t => ({
      name: t.name || '', symbol: (t.marker && typeof t.marker.symbol === 'string') ? t.marker.symbol : null,
      x: Array.from(t.x || []), y: Array.from(t.y || []),
      customdata: t.customdata ? Array.from(t.customdata).map(String) : null}))}))"""


def settle_long(page) -> None:
    """`settle`, with the run allowed WAIT ms (the study tags and maps under a loaded machine)."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stStatusWidget']\")", timeout=WAIT)


def maps(page, prefix: str) -> list[dict]:
    return page.evaluate(MAPS, prefix)


def wait_maps(page, prefix: str, count: int, per_map: int, title_has: str = "") -> list[dict]:
    """Wait until `count` maps each draw `per_map` traces named `prefix…` under a title containing
    `title_has`, let Streamlit finish its run, and return the maps."""
    page.wait_for_function(
        f"""([prefix, count, per, has]) => {{
              const m = ({MAPS})(prefix);
              return m.length === count && m.every(g => g.title.includes(has)
                  && g.traces.filter(t => t.name.startsWith(prefix)).length === per);
            }}""", arg=[prefix, count, per_map, title_has], timeout=WAIT)
    settle_long(page)
    no_traceback(page)
    drawn = maps(page, prefix)
    assert len(drawn) == count
    return drawn


@pytest.fixture(scope="module")
def server(debian):
    """(URL of the app with the Debian collection open, the browser)."""
    with streamlit() as (base, _, _), chromium() as browser:
        yield f"{base}/{{page}}?collection={quote(str(debian[0].source), safe='')}", browser


@pytest.fixture(scope="module")
def expected(debian) -> dict:
    """What the library says, in this process (same cache and weights as the server): for each tagger and
    song, the song's 2-D map point and its 5 listed nearest tracks, placed from the same bytes the browser
    uploads."""
    out: dict = {}
    for song in SONGS:
        [placed] = place([song.read_bytes()], debian[0], list(RELEASED), k=5, names=[song.name])
        assert placed.error is None and placed.models, placed
        for key, where in placed.models.items():
            out.setdefault(key, {})[song.name] = (np.asarray(where.xy, float), [n.id for n in where.neighbours])
    return out


@pytest.fixture(scope="module")
def place_page(server, expected):
    """The Place page with both songs uploaded at once and every tagger's map drawn."""
    context = server[1].new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(server[0].format(page="place"))
    page.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
    page.set_input_files("input[type=file]", [str(s) for s in SONGS])
    wait_maps(page, "upload: ", len(expected), 2)
    yield page
    context.close()


def collection_points(figure: dict) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,), xy (n, 2)) of the collection's tracks in one drawn map (not uploads, not trajectories)."""
    ids, xy = [], []
    for t in figure["traces"]:
        if not t["customdata"] or t["customdata"][0].startswith(("upload:", "chunk:")):
            continue
        ids += t["customdata"]
        xy += list(zip(t["x"], t["y"]))
    return np.array(ids), np.array(xy, float)


def diamonds(figure: dict) -> dict[str, np.ndarray]:
    """Upload name → its diamond's (x, y) in one drawn map."""
    out = {}
    for t in figure["traces"]:
        if t["name"].startswith("upload: "):
            assert t["symbol"] == "diamond" and len(t["x"]) == 1, t
            assert t["customdata"] == [f"upload:{t['name'].removeprefix('upload: ')}"], t
            out[t["name"].removeprefix("upload: ")] = np.array([t["x"][0], t["y"][0]], float)
    return out


def by_tagger(drawn: list[dict]) -> dict[str, dict]:
    names = {TAGGERS[key].name: key for key in RELEASED}
    out = {names[m["title"].split(" · ")[0]]: m for m in drawn}
    assert len(out) == len(drawn), [m["title"] for m in drawn]
    return out


def test_two_uploads_are_two_diamonds_where_the_library_places_them(place_page, expected) -> None:
    drawn = by_tagger(maps(place_page, "upload: "))
    assert set(drawn) == set(expected)
    for key, figure in drawn.items():
        ids, xy = collection_points(figure)
        extent = float(np.ptp(xy, axis=0).max())
        assert len(ids) >= 10 and extent > 0
        at = diamonds(figure)
        assert sorted(at) == sorted(s.name for s in SONGS), (key, list(at))
        first, second = (at[s.name] for s in SONGS)
        assert np.linalg.norm(first - second) > 0.01 * extent, (key, first, second)  # two songs, two places
        for song in SONGS:
            where, _ = expected[key][song.name]
            np.testing.assert_allclose(at[song.name], where, rtol=1e-6, atol=1e-6 * extent,
                                       err_msg=f"{key} {song.name}")
    # the neighbour lists under the maps name the tracks the library lists ("`<id>` · label · distance")
    shown = set(place_page.evaluate("() => [...document.querySelectorAll('code')].map(c => c.textContent)"))
    for key, songs in expected.items():
        for song, (_, listed) in songs.items():
            assert len(listed) == 5 and set(listed) <= shown, (key, song, sorted(set(listed) - shown))


def test_each_diamond_lands_among_its_listed_neighbours(place_page, expected) -> None:
    """At least 3 of the 5 tracks listed as a song's nearest are among the 10 map points nearest its diamond,
    on every tagger's map (the page's promise: "so it lands among the tracks listed for it")."""
    misses = []
    for key, figure in by_tagger(maps(place_page, "upload: ")).items():
        ids, xy = collection_points(figure)
        at = diamonds(figure)
        for song in SONGS:
            _, listed = expected[key][song.name]
            closest = set(ids[np.argsort(np.linalg.norm(xy - at[song.name], axis=1), kind="stable")[:10]])
            hits = sum(i in closest for i in listed)
            if hits < 3:
                misses.append(f"{key} {song.name}: {hits}/5 listed among the 10 nearest points")
    assert not misses, misses


def test_adding_my_tracks_draws_joint_maps_with_both_diamonds(place_page, expected) -> None:
    place_page.get_by_text("Add my tracks to the map", exact=True).click()
    drawn = by_tagger(wait_maps(place_page, "upload: ", len(expected), 2, title_has="joint map"))
    for key, figure in drawn.items():
        assert "joint map" in figure["title"]
        at = diamonds(figure)
        assert sorted(at) == sorted(s.name for s in SONGS), (key, list(at))
        _, xy = collection_points(figure)
        assert len(xy) >= 10 and all(np.isfinite(p).all() for p in at.values())


def test_study_draws_joint_maps_then_placed_only(server, tmp_path) -> None:
    groups = {"indian": [FORMATS / "carnatic_varnam_abhogi.mp3", FORMATS / "hindustani_raag_bairagi.mp3"],
              "clips": [CONFORMANCE / "clips" / "jtd_trio.flac", CONFORMANCE / "clips" / "simac_rallou.flac"]}
    for group, songs in groups.items():
        (tmp_path / group).mkdir()
        for song in songs:
            (tmp_path / group / song.name).symlink_to(song)
    context = server[1].new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(server[0].format(page="study"))
        box = page.get_by_label("Folder of new music (one sub-folder per group)", exact=True)
        box = box.and_(page.locator("input"))
        box.wait_for(timeout=120_000)
        box.fill(str(tmp_path))
        box.press("Enter")
        page.wait_for_timeout(1000)  # let the rerun start
        settle_long(page)
        page.get_by_role("button", name="Run the study").click()
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=WAIT)
        count = len(RELEASED)
        drawn = wait_maps(page, "new: ", count, len(groups))
        for figure in drawn:
            assert "mapped with" in figure["title"], figure["title"]
            stars = [t for t in figure["traces"] if t["name"].startswith("new: ")]
            assert sorted(t["name"].split()[1] for t in stars) == sorted(groups), [t["name"] for t in stars]
            assert all(t["symbol"] == "star" and len(t["x"]) == 2 for t in stars)
        page.get_by_text("Placed only (the collection's t-SNE map, unchanged)", exact=True).click()
        for figure in wait_maps(page, "new: ", count, len(groups), title_has="placed on"):
            assert "mapped with" not in figure["title"]
            assert sum(t["name"].startswith("new: ") for t in figure["traces"]) == len(groups)
    finally:
        context.close()
