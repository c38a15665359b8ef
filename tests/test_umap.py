"""UMAP as a third projection (issue #18): `TagMap(method="umap")` in a scikit-learn Pipeline, seeded and
reproducible (also across processes, which cached maps rely on); on real music a collection track's own audio
lands on its own point (≤ 1% of the extent, 2-D and 3-D, fresh and cached) and a held-out style lands among
its listed neighbours as on t-SNE maps (same locally linear placement); bad input is one ShroomsError; the
CLI places on UMAP maps with `--projection umap`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shrooms.errors import ShroomsError
from shrooms.maps import METHODS, TagMap, get_map
from shrooms.place import place

from .conftest import RELEASED
from .helpers import assert_no_traceback, run_cli
from .test_maps import OWN, extent, own_audio  # noqa: F401 -- a fixture
from .test_placement import cases, listed_in_map, styles  # noqa: F401 -- a fixture


def blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, 1.0, (20, 8)) for c in (0, 6, 12)])


@pytest.mark.parametrize("dims", [2, 3])
def test_umap_tagmap_fits_and_transforms_in_a_pipeline(dims) -> None:
    x = blobs()
    pipe = make_pipeline(StandardScaler(), TagMap(method="umap", dims=dims))
    coords = pipe.fit_transform(x)
    tag_map = pipe[-1]
    assert "umap" in METHODS and coords.shape == (60, dims) and np.isfinite(coords).all()
    assert tag_map.n_neighbors_ == 15 and tag_map.tsne_ is None and tag_map.perplexity_ is None
    np.testing.assert_array_equal(coords, tag_map.embedding_)
    # a fitted row placed again lands on its own point; a nudged one stays near it
    np.testing.assert_allclose(pipe.transform(x[:5]), coords[:5], atol=1e-3 * extent(coords))
    nudged = pipe.transform(x[:5] + 0.01)
    assert nudged.shape == (5, dims) and np.abs(nudged - coords[:5]).max() < 0.05 * extent(coords)
    assert clone(tag_map).get_params() == {"method": "umap", "dims": dims, "seed": 0, "perplexity": None}


def test_same_seed_gives_identical_coordinates_across_processes() -> None:
    x = blobs(1)
    first = TagMap("umap", 2, seed=3).fit(x).embedding_
    np.testing.assert_array_equal(TagMap("umap", 2, seed=3).fit(x).embedding_, first)
    assert not np.array_equal(TagMap("umap", 2, seed=4).fit(x).embedding_, first)
    # a fresh process (numba compiled anew) draws the very same map: what a cached map is reused for
    code = ("import sys, numpy as np; from shrooms.maps import TagMap; from tests.test_umap import blobs; "
            "sys.stdout.write(TagMap('umap', 2, seed=3).fit(blobs(1)).embedding_.tobytes().hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    np.testing.assert_array_equal(np.frombuffer(bytes.fromhex(out.stdout), dtype=np.float64).reshape(60, 2), first)


def test_tiny_collections_get_a_umap_map() -> None:
    x = blobs()[::15]  # 4 rows: spectral initialisation cannot run, PCA's does
    for dims in (2, 3):
        coords = TagMap("umap", dims).fit(x).embedding_
        assert coords.shape == (4, dims) and np.isfinite(coords).all()


@pytest.mark.parametrize("key", RELEASED)
@pytest.mark.parametrize("dims", [2, 3])
def test_own_audio_lands_on_its_own_umap_point(debian, own_audio, key, dims) -> None:  # noqa: F811
    """A collection track's audio tagged anew lands within 1% of the extent of its own point, on a freshly
    fitted UMAP map and on the cached one (an identical map, read back without refitting)."""
    collection, _ = debian
    results, embeddings = own_audio[key]
    fresh = TagMap("umap", dims).fit(results.embeddings)
    get_map(collection, key, "umap", dims)
    loaded = get_map(collection, key, "umap", dims)  # read back from cache/maps
    assert loaded.ids_ == list(results.tracks["id"]) and loaded.method == "umap"
    np.testing.assert_array_equal(loaded.embedding_, fresh.embedding_)
    assert not np.allclose(loaded.embedding_, get_map(collection, key, "tsne", dims).embedding_)
    for tag_map in (fresh, loaded):
        error = np.linalg.norm(tag_map.transform(embeddings) - tag_map.embedding_[OWN], axis=1)
        assert error.max() < 0.01 * extent(tag_map.embedding_), (key, dims, error / extent(tag_map.embedding_))


def test_a_held_out_style_lands_among_its_listed_neighbours_on_umap_maps(styles) -> None:  # noqa: F811
    data, _, _ = styles
    figures = {}
    for key, (x, labels, wesnoth) in data.items():
        figures[key] = np.mean([listed_in_map(TagMap("umap").fit(ref), held)
                                for _, ref, held in cases(x, labels, wesnoth)], axis=0)
    # measured: 0.73 / 0.82 / 0.88 (fcn / musicnn / crnn); UMAP packs a style tighter than t-SNE (min_dist
    # 0.1), so a point's 10 nearest map points are a smaller neighbourhood. t-SNE's bar (0.75 each,
    # tests/test_placement.py) holds over the three; umap-learn's own transform put 0.59-0.90 there.
    assert np.mean([f[0] for f in figures.values()]) >= 0.75, figures
    assert all(f[0] >= 0.70 for f in figures.values()), figures


@pytest.mark.parametrize("make,message", [
    (lambda: TagMap("umap", 4).fit(blobs()), "unknown map 'umap' in 4-D"),
    (lambda: TagMap("umapp").fit(blobs()), "choose tsne, umap or pca"),
    (lambda: TagMap("umap").fit(blobs()[:3]), "at least 4 tracks, got 3"),
    (lambda: TagMap("umap").fit(np.full((10, 4), np.nan)), "NaN or infinite"),
    (lambda: TagMap("umap").fit(blobs()).transform(np.zeros((1, 5))), "has 5 features but the map was fitted on 8"),
    (lambda: TagMap("umap").fit(blobs()).partial_fit(blobs()[:2]), "partial_fit .* is t-SNE's and PCA's"),
    (lambda: place([b"x"], None, method="isomap"), "unknown map 'isomap'"),
])
def test_bad_umap_input_is_one_clear_error(make, message) -> None:
    with pytest.raises(ShroomsError, match=message):
        make()


def test_place_cli_places_on_the_umap_maps(debian) -> None:
    collection, held_out = debian
    proc = run_cli("place", str(held_out["lounge"]), "--collection", str(collection.root), "--models", "musicnn",
                   "--projection", "umap", "--json", "--neighbours", "5")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    where = json.loads(proc.stdout)[str(held_out["lounge"])]["musicnn"]
    assert where["projection"] == "umap" and len(where["xy"]) == 2 and len(where["xyz"]) == 3
    umap = get_map(collection, "musicnn", "umap", 2)
    ids = [n["id"] for n in where["neighbours"]]
    nearest = np.argsort(np.linalg.norm(umap.embedding_ - np.array(where["xy"]), axis=1))[:10]
    assert len(set(ids) & {umap.ids_[i] for i in nearest}) >= 3  # among its listed neighbours on the UMAP map
    bad = run_cli("place", str(held_out["lounge"]), "--projection", "isomap")
    assert bad.returncode == 1 and "invalid choice: 'isomap'" in bad.stderr


def test_place_page_draws_uploads_on_the_umap_maps(demo_collection) -> None:
    """The Place page with UMAP picked: every tagger's UMAP map, the upload on each, the joint map offered
    only on t-SNE."""
    from streamlit.testing.v1 import AppTest

    from .audio_files import FORMATS
    from .conftest import ROOT
    at = AppTest.from_file(str(ROOT / "app_pages" / "place.py"), default_timeout=240)
    at.run()
    song = FORMATS / "carnatic_saraga_bhuvini_dasudane.mp3"
    at.file_uploader[0].set_value((song.name, song.read_bytes(), "audio/mpeg")).run()
    at.radio(key="place_method").set_value("umap").run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert at.toggle(key="place_joint").disabled and at.query_params["projection"] in ("umap", ["umap"])
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")[:3]]
    assert titles == ["FCN · UMAP", "Musicnn · UMAP", "CRNN · UMAP"], titles
