"""Maps on real music: a collection track's own audio placed on the map lands on its own point (2-D and
3-D, fresh and unpickled, every tagger with weights); the TagMap estimator's contract; taggram maps, tag
axes and trajectories."""

from __future__ import annotations


import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from shrooms.audio import load_audio
from shrooms.config import cache_dir
from shrooms.errors import ShroomsError
from shrooms.maps import TagMap, get_map, results_digest, segment_points, tag_axes, trajectory
from shrooms.neighbours import loo_nearest_distances
from shrooms.space import in_space
from shrooms.place import place_on
from shrooms.store import Store
from shrooms.taggers import JAMENDO_TAGS, available_taggers

from .conftest import RELEASED

OWN = [0, 7, 14, 21, 28]  # five tracks across the three labels


def extent(coords: np.ndarray) -> float:
    return float(np.ptp(coords, axis=0).max())


@pytest.fixture(scope="module")
def own_audio(debian):
    """Per released tagger: the stored embeddings, and the 5 tracks' own audio tagged anew."""
    collection, _ = debian
    taggers, _ = available_taggers(list(RELEASED))
    out = {}
    for key, tagger in taggers.items():
        results = Store(collection).load(key)
        fresh = np.stack([tagger.tag(load_audio(results.tracks["path"][i])).embedding for i in OWN])
        out[key] = (results, fresh)
    return out


@pytest.mark.parametrize("key", RELEASED)
@pytest.mark.parametrize("dims", [2, 3])
def test_own_audio_lands_on_its_own_point(debian, own_audio, key, dims) -> None:
    """Within 1% of the map's extent, on a freshly fitted map and on the cached (unpickled) one that the
    app draws: openTSNE's transform re-centres the embedding in place, which once moved every placement
    2-7% off on cached maps."""
    collection, _ = debian
    results, embeddings = own_audio[key]
    np.testing.assert_allclose(embeddings, results.embeddings[OWN], rtol=1e-4, atol=1e-5)
    fresh = TagMap("tsne", dims).fit(results.embeddings)
    get_map(collection, key, "tsne", dims)
    loaded = get_map(collection, key, "tsne", dims)  # now certainly read back from cache/maps
    assert loaded.ids_ == list(results.tracks["id"])
    np.testing.assert_array_equal(loaded.embedding_, fresh.embedding_)
    for tag_map in (fresh, loaded):
        before = tag_map.embedding_.copy()
        error = np.linalg.norm(tag_map.transform(embeddings) - tag_map.embedding_[OWN], axis=1)
        assert error.max() < 0.01 * extent(tag_map.embedding_), (key, dims, error / extent(tag_map.embedding_))
        np.testing.assert_array_equal(tag_map.embedding_, before)  # placing moved nothing


def test_tagmap_is_a_scikit_learn_estimator() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 1.0, (20, 8)) for c in (0, 6, 12)])
    tag_map = TagMap("tsne", 2, seed=1)
    assert tag_map.fit(x) is tag_map and tag_map.embedding_.shape == (60, 2)
    same = clone(tag_map)
    assert same.get_params() == {"method": "tsne", "dims": 2, "seed": 1, "perplexity": None}
    assert not hasattr(same, "tsne_")
    np.testing.assert_array_equal(same.fit(x).embedding_, tag_map.embedding_)  # same seed, same map
    assert not np.array_equal(TagMap("tsne", 2, seed=2).fit(x).embedding_, tag_map.embedding_)
    with pytest.raises(ValueError):
        tag_map.embedding_[0, 0] = 1.0  # read-only: nothing can move the map's points
    pipe = Pipeline([("scale", StandardScaler()), ("map", TagMap("pca", 3))])
    coords = pipe.fit_transform(x)
    assert coords.shape == (60, 3)
    np.testing.assert_allclose(pipe.transform(x[:4]), coords[:4], atol=1e-9)  # PCA places rows exactly
    placed = Pipeline([("scale", StandardScaler()), ("map", TagMap())]).fit(x).transform(x[:3] + 0.01)
    assert placed.shape == (3, 2) and np.isfinite(placed).all()


@pytest.mark.parametrize("bad,message", [
    (np.zeros(10), "must be a 2-D array"),
    (np.zeros((3, 5)), "at least 4 tracks, got 3"),
    (np.array([[np.nan, 1.0]] * 5), "NaN or infinite"),
    ([["a", "b"]] * 5, "numeric array"),
])
def test_tagmap_rejects_bad_input_with_one_clear_error(bad, message) -> None:
    with pytest.raises(ShroomsError, match=message):
        TagMap().fit(bad)


def test_transform_checks_the_fitted_width() -> None:
    tag_map = TagMap("pca").fit(np.random.default_rng(0).normal(size=(10, 6)))
    with pytest.raises(ShroomsError, match="has 5 features but the map was fitted on 6"):
        tag_map.transform(np.zeros((1, 5)))
    with pytest.raises(ShroomsError, match="unknown map 'isomap'"):
        TagMap("isomap").fit(np.zeros((10, 6)))


def test_taggram_map_is_fitted_on_the_50_tags(debian) -> None:
    collection, _ = debian
    results = Store(collection).load("musicnn")
    taggram = get_map(collection, "musicnn", "tsne", 2, space="taggram")
    assert taggram.n_features_in_ == 50 and taggram.embedding_.shape == (36, 2)
    np.testing.assert_array_equal(taggram.embedding_, TagMap("tsne", 2).fit(results.tags).embedding_)
    assert not np.array_equal(taggram.embedding_, get_map(collection, "musicnn", "tsne", 2).embedding_)
    assert get_map(collection, "musicnn", "pca", 3, space="taggram").embedding_.shape == (36, 3)
    with pytest.raises(ShroomsError, match="unknown map space 'chroma'"):
        get_map(collection, "musicnn", space="chroma")


def test_tag_axes_reads_two_tag_probabilities() -> None:
    tags = np.zeros((3, 50))
    rock, electronic = JAMENDO_TAGS.index("genre---rock"), JAMENDO_TAGS.index("genre---electronic")
    tags[:, rock], tags[:, electronic] = [0.9, 0.1, 0.5], [0.2, 0.8, 0.5]
    np.testing.assert_array_equal(tag_axes(tags, "rock", "genre---electronic"),
                                  [[0.9, 0.2], [0.1, 0.8], [0.5, 0.5]])
    with pytest.raises(ShroomsError, match="unknown tag 'polka'"):
        tag_axes(tags, "rock", "polka")
    with pytest.raises(ShroomsError, match=r"must be an \(n, 50\) array"):
        tag_axes(tags[:, :10], "rock", "electronic")


def test_trajectory_follows_the_chunks_and_a_one_chunk_track_is_its_placement(debian) -> None:
    collection, held_out = debian
    tagger = available_taggers(["musicnn"])[0]["musicnn"]
    tag_map = get_map(collection, "musicnn", "tsne", 2)
    song = load_audio(held_out["lounge"])
    chunks = tagger.tag(song).chunk_embeddings
    path = trajectory(tag_map, chunks)
    assert len(chunks) >= 2 and path.shape == (len(chunks), 2)
    np.testing.assert_array_equal(trajectory(tag_map, chunks[::-1]), path[::-1])  # row i is chunk i
    short = song[: tagger.spec.input_length // 2]  # one chunk
    out = tagger.tag(short)
    assert len(out.chunk_embeddings) == 1
    placed = place_on(collection, tagger, [short], k=3)[0]
    np.testing.assert_array_equal(trajectory(tag_map, out.chunk_embeddings)[0], placed.xy)
    np.testing.assert_array_equal(segment_points(tag_map, chunks[:1]), path[:1])  # a batch of one
    gap = np.linalg.norm(segment_points(tag_map, chunks) - path, axis=1)  # one call for all: to rounding
    assert gap.max() < 1e-9 * extent(tag_map.embedding_), gap / extent(tag_map.embedding_)


def test_a_map_that_cannot_be_cached_is_still_returned(debian) -> None:
    """Writing cache/maps fails (here: a folder squats the map's file name): the fit is returned anyway,
    and nothing that shrooms did not create is touched."""
    collection, _ = debian
    results = Store(collection).load("fcn")
    squatter = (cache_dir() / "maps" / collection.key / "fcn" /
                f"embedding-pca-2d-seed99-{results_digest(results, 'embedding')}.pkl")
    squatter.mkdir(parents=True, exist_ok=True)
    tag_map = get_map(collection, "fcn", "pca", 2, seed=99)
    np.testing.assert_array_equal(tag_map.embedding_, TagMap("pca", 2, seed=99).fit(results.embeddings).embedding_)
    assert squatter.is_dir() and not any(squatter.parent.glob(".*.pkl.*"))  # no temporary file left behind


def test_the_novelty_baseline_is_computed_once_per_set_of_rows(debian) -> None:
    """Placing ranks a song's nearest distance among every stored track's leave-one-out distance (n
    neighbour queries: minutes at 100,000 tracks): kept in cache/maps/ per set of rows and read back."""
    collection, held_out = debian
    tagger = available_taggers(["fcn"])[0]["fcn"]
    results = Store(collection).load("fcn")
    song = load_audio(held_out["lounge"])
    first = place_on(collection, tagger, [song], k=3)[0]
    cached = cache_dir() / "maps" / collection.key / "fcn" / f"novelty-baseline-{results_digest(results, 'embedding')}.npy"
    np.testing.assert_array_equal(np.load(cached), loo_nearest_distances(in_space(results.embeddings)))
    np.save(cached, np.full(len(results.tracks), 1e9))  # every track "far from the rest": the song is not novel
    assert place_on(collection, tagger, [song], k=3)[0].novelty == 0.0
    np.save(cached, np.zeros(len(results.tracks)))  # every track on another: the song is further than all
    assert place_on(collection, tagger, [song], k=3)[0].novelty == 100.0
    cached.unlink()
    assert place_on(collection, tagger, [song], k=3)[0].novelty == first.novelty
