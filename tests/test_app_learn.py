"""The app's "what do the taggers learn?" views, headless with AppTest on the demo collection and real
weights: the embedding/taggram switch, tag axes, the agreement heatmap, Place's grid and the study page."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

from shrooms.store import Store
from shrooms.taggers import TAGGERS

from .audio_files import FORMATS
from .conftest import ROOT

TIMEOUT = 300


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def values(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array form {dtype, bdata, shape}."""
    if isinstance(v, dict):
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return out.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else out
    return np.asarray(v)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def points(figure: dict) -> dict[str, tuple[float, float]]:
    """{track id: (x, y)} over the figure's track traces."""
    out = {}
    for trace in figure["data"]:
        for i, x, y in zip(trace.get("customdata", []), values(trace["x"]), values(trace["y"])):
            out[i] = (float(x), float(y))
    return out


def test_space_switch_changes_the_map_and_tag_axes_put_points_at_their_probabilities(demo_collection) -> None:
    at = page("app_pages/explore.py")
    at.selectbox(key="explore_tagger").set_value("musicnn").run()
    embedding = points(figures(at)[0])
    at.radio(key="explore_space").set_value("taggram").run()
    assert not at.exception
    taggram = points(figures(at)[0])
    assert embedding.keys() == taggram.keys() and len(embedding) == 48
    assert all(embedding[i] != taggram[i] for i in embedding)  # another map, not a relabelled one
    at.radio(key="explore_method").set_value("tags").run()
    at.selectbox(key="explore_tag_x").set_value("genre---jazz").run()
    at.selectbox(key="explore_tag_y").set_value("mood/theme---relaxing").run()
    assert not at.exception
    stored = Store(demo_collection).load("musicnn")
    names = list(TAGGERS["musicnn"].tags)
    expected = {i: (float(t[names.index("genre---jazz")]), float(t[names.index("mood/theme---relaxing")]))
                for i, t in zip(stored.tracks["id"], stored.tags)}
    assert points(figures(at)[0]) == expected  # exactly P(a), P(b)
    assert at.query_params["projection"] == "tags" and at.query_params["tag_x"] == "genre---jazz"


def test_cluster_captions_segments_and_the_label_tag_heatmap(demo_collection) -> None:
    at = page("app_pages/explore.py")
    at.selectbox(key="explore_colour").set_value("cluster").run()
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert len(names) == 8 and all(n.startswith("cluster ") and ": " in n for n in names), names
    heat = figures(at)[-1]["data"][0]
    assert heat["type"] == "heatmap" and values(heat["z"]).shape == (8, 50)  # labels × tags
    at.selectbox(key="explore_tagger").set_value("musicnn").run()
    at.radio(key="explore_show").set_value("segments").run()  # Musicnn: three 3-s chunks per demo track
    assert not at.exception
    traces = figures(at)[0]["data"]
    assert sum(len(values(t["x"])) for t in traces) == len(Store(demo_collection).segments("musicnn")[0]) == 48 * 10
    assert all("chunk " in h for t in traces for h in t["hovertext"])


def test_compare_shows_the_agreement_heatmap_with_ones_on_the_diagonal(demo_collection) -> None:
    at = page("app_pages/compare.py")
    heat = [f for f in figures(at) if f["data"][0].get("name") == "cka"][0]
    for trace in heat["data"]:
        z = values(trace["z"])
        assert z.shape == (3, 3) and np.allclose(np.diag(z), 1.0) and np.allclose(z, z.T)
        assert (z[~np.eye(3, dtype=bool)] < 1).all()
    assert len(at.get("audio")) == 5  # the pair's five most disagreed-on tracks, each playable


def test_place_shows_every_tagger_side_by_side_with_novelty_lines(demo_collection) -> None:
    at = page("app_pages/place.py")
    song = FORMATS / "brid_samba_stereo.wav"  # 5.7 s: two 3-s Musicnn chunks
    at.file_uploader[0].set_value((song.name, song.read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    grid = [c for c in at.get("plotly_chart") if "place_grid_" in c.proto.id]
    assert len(grid) == 3
    names = [[t.get("name") for t in json.loads(c.proto.spec)["data"]] for c in grid]
    assert all(f"upload: {song.name}" in n for n in names)
    assert f"trajectory: {song.name}" in names[1]  # Musicnn hears it in several 3-s chunks
    lines = [c.value for c in at.caption if "further from the collection than" in c.value]
    assert [line.split("**")[1] for line in lines] == ["FCN", "Musicnn", "CRNN"]
    assert len(at.get("audio")) == 1 + 3 * 5  # the upload's own player, then the neighbours


def test_study_page_shows_the_table_of_a_small_ood_folder(demo_collection, tmp_path) -> None:
    for group, songs in {"indian": ["carnatic_varnam_abhogi.mp3", "hindustani_raag_bairagi.mp3"],
                         "latin": ["brid_samba_stereo.wav", "candombe_ansina.flac"]}.items():
        (tmp_path / group).mkdir()
        for song in songs:
            (tmp_path / group / song).symlink_to(FORMATS / song)
    at = page("app_pages/study.py")
    at.text_input(key="study_folder").set_value(str(tmp_path)).run()
    at.button(key="study_run").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["group"]) == ["indian", "latin"] * 3 and set(table["tracks"]) == {2}
    assert table["novelty (median %)"].between(0, 100).all()
    assert len([c for c in at.get("plotly_chart") if "study_map_" in c.proto.id]) == 3
