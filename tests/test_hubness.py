"""Hubness (issue #18 part 3): the k-occurrence, its skewness and the top hubs, checked by hand on a
constructed case with a known hub (the centre of a sphere is every point's nearest neighbour), the two
hubness-reduced neighbour lists against their definitions, and the three released taggers on real music
(Debian's packages) through `shrooms report`, recounted by brute force."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import skew

from shrooms import hubness
from shrooms.analysis import knn_accuracy
from shrooms.errors import ShroomsError
from shrooms.space import in_space
from shrooms.store import Store

from .conftest import RELEASED
from .helpers import run_cli


def sphere_with_centre(n: int = 100, dims: int = 100, seed: int = 0) -> np.ndarray:
    """`n` random points on the unit sphere in `dims` dimensions, then the origin (row n): every sphere
    point is at distance 1 from the centre and further than 1 from every other sphere point."""
    v = np.random.default_rng(seed).normal(size=(n, dims))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x = np.vstack([v, np.zeros(dims)])
    gaps = np.linalg.norm(v[:, None] - v[None], axis=2)[~np.eye(n, dtype=bool)]
    assert gaps.min() > 1.05  # the construction holds: the centre is each point's strict nearest neighbour
    return x


def brute_k_occurrence(x: np.ndarray, k: int) -> np.ndarray:
    """The k-occurrence by hand: every row's k nearest others by a full numpy distance matrix."""
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(d, np.inf)
    return np.bincount(np.argsort(d, axis=1, kind="stable")[:, :k].ravel(), minlength=len(x))


def test_k_occurrence_by_hand() -> None:
    """Points 0, 1, 3, 7 on a line, k = 1: 0→1, 1→0, 3→1, 7→3, so N_1 = [1, 2, 1, 0] (self excluded)."""
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert hubness.k_occurrence(x, k=1).tolist() == [1, 2, 1, 0]
    assert hubness.k_occurrence(hubness.distances(x), k=1, metric="precomputed").tolist() == [1, 2, 1, 0]
    assert hubness.k_occurrence(x, k=10).tolist() == [3, 3, 3, 3]  # k capped at n - 1: everyone lists everyone
    assert hubness.skewness(x, k=10) == 0.0
    order, counts = hubness.hubs(x, k=1, top=2)
    assert order.tolist() == [1, 0] and counts.tolist() == [2, 1]  # ties in row order


def test_the_centre_of_a_sphere_is_the_top_hub() -> None:
    n, k = 100, 10
    x = sphere_with_centre(n)
    counts = hubness.k_occurrence(x, k)
    assert counts[n] == n  # every sphere point lists the centre (first)
    assert counts.sum() == (n + 1) * k
    np.testing.assert_array_equal(counts[:n] > n / 4, False)  # (which 10 the centre lists is a 100-way tie)
    order, top = hubness.hubs(x, k, top=3)
    assert order[0] == n and top[0] == n and top[1] < n / 4
    s = hubness.skewness(x, k)
    assert s == pytest.approx(skew(counts)) and s > 5  # one value of 100 among ~9s: about sqrt(n)


def test_mutual_proximity_dissolves_the_hub() -> None:
    n, k = 100, 10
    x = sphere_with_centre(n)
    mp = hubness.reduced_distances(x, "mp")
    assert np.allclose(mp, mp.T) and mp.min() >= 0 and mp.max() <= 1 and not np.diag(mp).any()
    reduced = hubness.k_occurrence(mp, k, metric="precomputed")
    # the centre is at the same distance 1 from everyone: by its own standard nobody is close to it
    assert reduced[n] < n / 5
    assert hubness.skewness(mp, k, metric="precomputed") < hubness.skewness(x, k) / 5


def test_mutual_proximity_and_csls_follow_their_definitions() -> None:
    x = np.random.default_rng(1).normal(size=(12, 5))
    d = hubness.distances(x)
    n = len(x)
    mp = hubness.mutual_proximity(d)
    for i in range(n):
        for j in range(n):
            if i != j:
                shared = sum(d[i, m] > d[i, j] and d[j, m] > d[i, j] for m in range(n) if m not in (i, j))
                assert mp[i, j] == pytest.approx(1 - shared / (n - 2))
    cs = hubness.csls(d, k=3)
    r = np.sort(d + np.diag([np.inf] * n), axis=1)[:, :3].mean(axis=1)
    raw = 2 * d - r[:, None] - r[None, :]
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_allclose(cs[off], (raw - raw[off].min())[off])
    assert cs.min() == 0 and not np.diag(cs).any()


def test_csls_lowers_the_hubness_of_a_gaussian_cloud() -> None:
    """Hubs emerge near the mean of a high-dimensional Gaussian cloud (Radovanović et al. 2010)."""
    x = np.random.default_rng(0).normal(size=(300, 50))
    plain = hubness.skewness(x)
    assert plain > 1
    np.testing.assert_array_equal(hubness.k_occurrence(x), brute_k_occurrence(x, 10))
    assert hubness.skewness(hubness.reduced_distances(x, "csls"), metric="precomputed") < plain - 0.5
    assert hubness.skewness(hubness.reduced_distances(x, "mp"), metric="precomputed") < plain - 0.5


def test_reduced_knn_accuracy_on_separated_groups() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(20, 10)), rng.normal(size=(20, 10)) + 20])
    y = np.array(["a"] * 20 + ["b"] * 20)
    assert [knn_accuracy(x, y, reduction=r) for r in hubness.REDUCTIONS] == [1.0, 1.0, 1.0]
    # the sphere's centre, labelled apart, is every point's nearest: plain 1-NN votes it, MP does not
    hub = np.array(["sphere"] * 100 + ["centre"])
    assert knn_accuracy(sphere_with_centre(), hub, k=1) == 0.0
    assert knn_accuracy(sphere_with_centre(), hub, k=1, reduction="mp") > 0.9


def test_bad_inputs_are_one_line_errors(monkeypatch) -> None:
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ShroomsError, match="unknown hubness reduction 'lsh'"):
        hubness.reduced_distances(x, "lsh")
    with pytest.raises(ShroomsError, match="square matrix"):
        hubness.k_occurrence(x, metric="precomputed")
    monkeypatch.setattr(hubness, "MP_MAX_TRACKS", 5)
    with pytest.raises(ShroomsError, match="above 5; use csls"):
        hubness.mutual_proximity(hubness.distances(x))


def test_report_names_each_released_taggers_hubs_on_real_music(debian) -> None:
    """`report --json` on real music: a finite skewness and real top hubs per tagger, each hub's
    k-occurrence equal to a brute-force recount in the tagger's space; mutual proximity lowers the
    skewness; `--hubness-reduction mp` makes the kNN score vote with the reduced list."""
    collection, _ = debian
    proc = run_cli("report", "--collection", str(collection.root), "--json", "--seeds", "1")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["hubness_reduction"] == "none"
    ids = {t.id for t in collection.tracks}
    for key in RELEASED:
        scores = result["models"][key]
        hub = scores["hubness"]
        assert hub["k"] == 10 and isinstance(hub["skewness"], float) and math.isfinite(hub["skewness"]), key
        assert scores["knn_neighbours"] == "euclidean" and hub["knn_accuracy"] == scores["knn_accuracy"]
        stored = Store(collection).load(key)
        counts = brute_k_occurrence(in_space(stored.embeddings), 10)
        by_id = dict(zip(stored.tracks["id"], counts))
        assert len(hub["top"]) == 5 and {h["id"] for h in hub["top"]} <= ids, key
        assert [h["k_occurrence"] for h in hub["top"]] == sorted(counts, reverse=True)[:5], key
        for h in hub["top"]:
            assert h["k_occurrence"] == by_id[h["id"]] and h["label"] == h["id"].split("/")[0], (key, h)
        assert hub["skewness"] == pytest.approx(skew(counts), abs=1e-6), key
        mp = hub["reduced"]["mp"]
        assert mp["skewness"] < hub["skewness"], key  # 1.0-1.3 against 0.3-0.5 here
        assert 0 <= mp["knn_accuracy"] <= 1 and 0 <= hub["reduced"]["csls"]["knn_accuracy"] <= 1
    expected = result["models"]["fcn"]["hubness"]["reduced"]["mp"]["knn_accuracy"]
    table = run_cli("report", "--collection", str(collection.root), "--models", "fcn", "--seeds", "1",
                    "--hubness-reduction", "mp")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[2].startswith("FCN") and f"{expected:.3f}" in lines[2].split()[-2]  # the kNN accuracy column
    assert "k-NN neighbours ranked by mutual proximity" in table.stdout
    line = next(s for s in lines if s.startswith("FCN") and "skewness" in s)
    hub = result["models"]["fcn"]["hubness"]
    assert f"skewness {hub['skewness']:.2f} / {hub['reduced']['mp']['skewness']:.2f}" in line
    assert hub["top"][0]["id"] in line
