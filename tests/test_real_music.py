"""On real embeddings of real, labelled music (Debian's game and media music, one label per package):
scores well above chance, placement next to the right source, identical reruns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shrooms.maps import get_map

from .conftest import RELEASED
from .audio_files import COUNTRY, FORMATS
from .helpers import assert_no_traceback, run_cli


def test_report_is_well_above_chance(debian) -> None:
    collection, _ = debian
    proc = run_cli("report", "--collection", str(collection.root), "--json", "--seeds", "3")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["k"] == 3 and result["chance"] == pytest.approx(1 / 3)
    assert set(result["models"]) == set(RELEASED)  # the four without weights are not pretended
    for key, scores in result["models"].items():
        assert scores["n_tracks"] == 36
        assert scores["hungarian_kmeans"]["mean"] > 0.6, key
        assert scores["knn_accuracy"] > 0.75, key
        assert scores["probe_accuracy"] > 0.75, key
        assert 0 < scores["nmi"]["mean"] <= 1 and scores["ari"]["mean"] > 0.2, key
    table = run_cli("report", "--collection", str(collection.root), "--seeds", "3")
    assert table.returncode == 0 and table.stdout.splitlines()[2].startswith("FCN")


def test_impossible_cluster_counts_are_one_line_errors(debian) -> None:
    collection, _ = debian
    too_many = run_cli("report", "--collection", str(collection.root), "--clusters", "50", "--models", "fcn")
    assert too_many.returncode == 1 and too_many.stdout == ""
    assert too_many.stderr == "shrooms: error: cannot make 50 clusters of 36 tracks: choose 2 to 36\n"
    zero = run_cli("report", "--collection", str(collection.root), "--clusters", "0")
    assert zero.returncode == 1 and "--clusters: expected a whole number of at least 1" in zero.stderr
    assert_no_traceback(zero)


def test_same_inputs_and_seed_give_identical_scores(debian) -> None:
    collection, _ = debian
    runs = [run_cli("report", "--collection", str(collection.root), "--json", "--seeds", "2").stdout for _ in range(2)]
    assert runs[0] == runs[1] and json.loads(runs[0])["models"]


def test_held_out_clip_lands_among_its_own_source(debian) -> None:
    collection, held_out = debian
    files = [str(held_out[label]) for label in sorted(held_out)]
    proc = run_cli("place", *files, "--collection", str(collection.root), "--json", "--neighbours", "5")
    assert proc.returncode == 0, proc.stderr
    placed = json.loads(proc.stdout)
    for label, path in zip(sorted(held_out), files):
        for key in RELEASED:
            neighbours = placed[path][key]["neighbours"]
            same = sum(n["label"] == label for n in neighbours)
            assert same >= 3, (label, key, [n["label"] for n in neighbours])
        assert "weights not available" in placed[path]["hcnn"]["unavailable"]


def test_placement_lands_near_its_neighbours_on_the_map(debian) -> None:
    collection, held_out = debian
    proc = run_cli("place", str(held_out["lounge"]), "--collection", str(collection.root), "--json",
                   "--models", "musicnn", "--neighbours", "3")
    where = json.loads(proc.stdout)[str(held_out["lounge"])]["musicnn"]
    tsne = get_map(collection, "musicnn", "tsne", 2)
    near_xy = tsne.embedding_[[tsne.ids_.index(n["id"]) for n in where["neighbours"]]]
    spread = np.ptp(tsne.embedding_, axis=0).max()
    assert np.linalg.norm(near_xy - np.array(where["xy"]), axis=1).min() < 0.25 * spread


def test_placing_on_a_collection_not_yet_computed_says_the_command_to_run(tmp_path, private_cache) -> None:
    """The hint is a command the user can paste: the folder's path, not the cache's internal name."""
    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / COUNTRY.name).symlink_to(COUNTRY)
    place = run_cli("place", str(COUNTRY), "--collection", str(folder), "--models", "fcn,crnn")
    report = run_cli("report", "--collection", str(folder), "--models", "fcn,crnn")
    for proc in (place, report):
        assert_no_traceback(proc)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
        assert f"run `shrooms precompute --collection {folder}" in proc.stderr, proc.stderr
    assert place.stderr.strip().endswith(f"--collection {folder} --models fcn,crnn` first")


def test_placing_on_a_small_unlabelled_folder_is_clean(private_cache) -> None:
    """Eleven real recordings, no labels: placement works, neighbours carry no label, and nothing leaks
    to stderr (openTSNE would warn about its default perplexity on a map this small)."""
    folder = FORMATS
    assert run_cli("precompute", "--collection", str(folder), "--models", "fcn").returncode == 0
    proc = run_cli("place", str(COUNTRY), "--collection", str(folder), "--models", "fcn", "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    neighbours = json.loads(proc.stdout)[str(COUNTRY)]["fcn"]["neighbours"]
    assert len(neighbours) == 5 and all(n["label"] is None for n in neighbours)
    assert [n["distance"] for n in neighbours] == sorted(n["distance"] for n in neighbours)
