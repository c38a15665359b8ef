"""`shrooms export` on a real precomputed collection: CSV, JSON and Parquet rows that match the maps."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from shrooms.collections import folder_collection
from shrooms.maps import get_map
from shrooms.precompute import precompute

from .debian_music import debian_collection
from .helpers import run_cli


@pytest.fixture(scope="module")
def debian():
    collection = folder_collection(debian_collection(clips_per_label=12, seconds=30.0)[0])
    assert not precompute(collection, ["fcn"], show_bar=False).failed
    return collection


def test_export_csv_json_and_parquet(debian, tmp_path) -> None:
    proc = run_cli("export", "--collection", str(debian.root), "--models", "fcn")
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(io.StringIO(proc.stdout))
    assert list(frame.columns[:6]) == ["model", "id", "label", "path", "x", "y"]
    assert {"cluster", "top_tags"} <= set(frame.columns) and len(frame) == 36
    assert frame["id"].tolist() == [t.id for t in debian.tracks]
    assert frame["label"].tolist() == [t.label for t in debian.tracks]
    tsne = get_map(debian, "fcn", "tsne", 2)
    assert np.allclose(frame[["x", "y"]].to_numpy(), tsne.embedding_[[tsne.ids_.index(i) for i in frame["id"]]])
    assert frame["cluster"].nunique() == 3 and all(len(t.split(";")) == 3 for t in frame["top_tags"])
    out = tmp_path / "tracks.json"
    assert run_cli("export", "--collection", str(debian.root), "--models", "fcn", "--out", str(out)).returncode == 0
    records = json.loads(out.read_text())
    assert [r["id"] for r in records] == frame["id"].tolist() and records[0]["top_tags"] == frame["top_tags"][0]
    parquet = tmp_path / "tracks.parquet"
    assert run_cli("export", "--collection", str(debian.root), "--models", "fcn", "--out", str(parquet)).returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), frame, check_dtype=False)
    binary = run_cli("export", "--collection", str(debian.root), "--format", "parquet")
    assert binary.returncode == 1 and binary.stderr == "shrooms: error: parquet is binary: give --out FILE\n"
