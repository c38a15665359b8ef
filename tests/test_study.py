"""On real music: a style the collection's maps never saw (Wesnoth's orchestral score, Debian's
wesnoth-1.16-music) placed on a collection of three other Debian packages is far from it and keeps to
itself; the study command's table, JSON and maps; report's taggram space, tag profiles and agreement; place's
novelty and neighbour labels."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from shrooms.collections import folder_collection
from shrooms.precompute import precompute

from .debian_music import debian_collection, debian_ood
from .helpers import assert_no_traceback, run_cli

MODELS = ("fcn", "musicnn")


@pytest.fixture(scope="module")
def debian():
    root, held_out = debian_collection(clips_per_label=12, seconds=30.0)
    collection = folder_collection(root)
    assert not precompute(collection, list(MODELS), show_bar=False).failed
    return collection, held_out, debian_ood(clips=12)


def test_a_held_out_style_is_novel_and_its_tracks_are_each_others_neighbours(debian) -> None:
    collection, _, ood = debian
    runs = [run_cli("study", "--collection", str(collection.root), "--ood", str(ood), "--models", ",".join(MODELS),
                    "--json", "--seed", "0") for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout  # same inputs and seed: identical
    result = json.loads(runs[0].stdout)
    assert set(result["models"]) == set(MODELS) and result["unreadable"] == []
    for key in MODELS:
        model = result["models"][key]
        group = model["groups"]["orchestral"]
        assert group["n"] == 12
        # the collection's own tracks sit at about the 50th percentile; the unseen style far above
        assert 35 <= model["collection_novelty_median"] <= 65, key
        assert group["novelty_median"] > model["collection_novelty_median"] + 25, key
        assert group["own_neighbour_fraction"] > 0.5, (key, group)
        assert 0 < group["silhouette"] <= 1, key
        assert set(group["neighbour_labels"]) <= {"electronic", "lounge", "themed"}
        assert sum(group["neighbour_labels"].values()) == pytest.approx(1.0, abs=1e-3)


def test_study_prints_the_table_and_writes_json_and_maps(debian, tmp_path) -> None:
    collection, _, ood = debian
    proc = run_cli("study", "--collection", str(collection.root), "--ood", str(ood), "--models", "fcn",
                   "--out", str(tmp_path / "study"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["tagger", "group", "n"])
    assert lines[header].split()[3:7] == ["novelty", "own", "joint", "placed"]
    assert lines[header + 1].split()[:2] == ["FCN", "(collection)"]
    assert lines[header + 2].split()[:2] == ["orchestral", "12"]
    written = json.loads((tmp_path / "study" / "study.json").read_text())
    group = written["models"]["fcn"]["groups"]["orchestral"]
    assert {"novelty_median", "own_neighbour_fraction", "neighbour_labels"} <= set(group)
    placed = written["models"]["fcn"]["tracks"]
    assert len(placed) == 12 and all(len(t["xy"]) == 2 for t in placed)
    html = (tmp_path / "study" / "map-fcn.html").read_text()
    assert written["figures"]["fcn"] == str(tmp_path / "study" / "map-fcn.html")
    assert "plotly" in html and placed[0]["id"].split("/")[-1] in html and "new: orchestral" in html


def test_study_without_groups_is_a_one_line_error(debian, tmp_path) -> None:
    collection, _, _ = debian
    (tmp_path / "flat").mkdir()
    proc = run_cli("study", "--collection", str(collection.root), "--ood", str(tmp_path / "flat"), "--models", "fcn")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("shrooms: error: ")


def test_report_in_taggram_space_has_tag_profiles_and_model_agreement(debian) -> None:
    collection, _, _ = debian
    proc = run_cli("report", "--collection", str(collection.root), "--models", ",".join(MODELS), "--seeds", "1",
                   "--space", "taggram", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["space"] == "taggram" and result["split"] == "cv"
    for key in MODELS:
        scores = result["models"][key]
        assert scores["knn_accuracy"] > 0.6, key  # 50 tag probabilities still separate the packages
        profiles = scores["tag_profiles"]
        assert len(profiles["tags"]) == 50 and set(profiles["labels"]) == {"electronic", "lounge", "themed"}
        assert all(len(row["lift"]) == 50 and row["n"] == 12 for row in profiles["labels"].values())
        assert all(c["caption"].startswith("cluster ") for c in profiles["clusters"].values())
        assert sum(c["n"] for c in profiles["clusters"].values()) == 36
    (pair,) = result["agreement"]["pairs"]
    assert {pair["a"], pair["b"]} == set(MODELS) and pair["n_tracks"] == 36
    assert 0 < pair["cka"] <= 1 and 0 < pair["knn_overlap"] < 1 and len(pair["disagree"]) == 5
    overlaps = [d["overlap"] for d in pair["disagree"]]
    assert overlaps == sorted(overlaps) and overlaps[0] <= pair["knn_overlap"]
    text = run_cli("report", "--collection", str(collection.root), "--models", ",".join(MODELS), "--seeds", "1",
                   "--space", "taggram")
    assert "Model agreement" in text.stdout and "  cluster 0: " in text.stdout, text.stdout
    split = run_cli("report", "--collection", str(collection.root), "--models", "fcn", "--split", "filtered")
    assert split.returncode == 1 and split.stderr.endswith("is not GTZAN\n") and split.stderr.count("\n") == 1


def test_place_explains_its_neighbours_and_novelty(debian) -> None:
    collection, held_out, _ = debian
    proc = run_cli("place", str(held_out["lounge"]), "--collection", str(collection.root), "--models", "fcn", "--json")
    assert proc.returncode == 0, proc.stderr
    where = json.loads(proc.stdout)[str(held_out["lounge"])]["fcn"]
    assert 0 <= where["novelty"] <= 100
    counts = Counter(n["label"] for n in where["neighbours"])
    assert where["neighbour_labels"] == {label: count / 5 for label, count in counts.items()}
    assert max(where["neighbour_labels"], key=where["neighbour_labels"].get) == "lounge"
