"""Precompute on real recordings: fills the cache, never redoes finished work, resumes a killed run to
the bit-identical result, skips unreadable files with a reason."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from shrooms.audio import load_audio
from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.store import Store, load_embeddings
from shrooms.taggers import Tagger, load_tagger

from .audio_files import make_folder
from .conftest import RELEASED, SHARED
from .helpers import run_cli


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("music"), 10, seconds=8.0)


def test_precompute_fills_the_cache_and_matches_direct_tagging(music, private_cache) -> None:
    coll = folder_collection(music)
    summary = precompute(coll, ["fcn", "musicnn"], show_bar=False)
    assert (summary.computed, summary.cached, summary.failed) == (10, 0, [])
    frame, emb = load_embeddings(coll, "musicnn")
    assert list(frame["id"]) == [t.id for t in coll.tracks] and emb.shape == (10, 200)
    assert set(frame["label"]) == {p.name for p in music.iterdir()}
    direct = load_tagger("musicnn").tag(load_audio(coll.tracks[3].path))
    stored = Store(coll).read("musicnn", coll.tracks[3].id)
    np.testing.assert_array_equal(stored.embedding, direct.embedding)
    np.testing.assert_array_equal(stored.chunk_embeddings, direct.chunk_embeddings)
    assert stored.chunk_embeddings.shape == (3, 200)  # 8 s in 3-s windows: round(8/3) = 3
    np.testing.assert_array_equal(emb[3], direct.embedding)


def test_second_run_does_no_model_work_and_a_changed_file_only_is_redone(music, private_cache, monkeypatch, tmp_path) -> None:
    local = Path(shutil.copytree(music, tmp_path / "m"))
    coll = folder_collection(local)
    precompute(coll, ["crnn"], show_bar=False)

    def refuse(self, chunks):
        raise AssertionError("model work on a cached collection")
    with monkeypatch.context() as patch:
        patch.setattr(Tagger, "predict_chunks", refuse)
        again = precompute(folder_collection(local), ["crnn"], show_bar=False)
    assert (again.computed, again.cached) == (0, 10)
    changed = coll.tracks[0].path
    changed.write_bytes(changed.read_bytes()[:-3200])  # shorter: a new size and mtime
    redo = precompute(folder_collection(local), ["crnn"], show_bar=False)
    assert (redo.computed, redo.cached) == (1, 9)


def test_stored_results_are_only_those_of_the_weights_found_now(music, private_cache, monkeypatch, tmp_path) -> None:
    """Swapping a weights file hides the embeddings of the old one (maps, scores and the app read these)
    until they are recomputed; putting the file back shows them again without recomputing."""
    coll = folder_collection(music)
    precompute(coll, ["fcn"], show_bar=False)
    assert len(Store(coll).load("fcn").tracks) == 10
    released = SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth"
    other = tmp_path / "weights" / "jamendo" / "fcn" / "best_model.pth"
    other.parent.mkdir(parents=True)
    other.write_bytes(released.read_bytes() + b"\0")
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert len(Store(coll).load("fcn").tracks) == 0
    other.unlink()  # no weights anywhere
    assert len(Store(coll).load("fcn").tracks) == 0
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(SHARED / "weights"))
    assert len(Store(coll).load("fcn").tracks) == 10


def test_unreadable_files_are_reported_and_skipped(music, private_cache, tmp_path) -> None:
    local = Path(shutil.copytree(music, tmp_path / "m"))
    label = sorted(p for p in local.iterdir())[0]
    good = sorted(label.glob("*.wav"))[0]
    (label / "jazz.00054.wav").write_bytes(good.read_bytes()[:44])  # a header and no data, like GTZAN's
    (label / "cover.mp3").write_text("<html>not audio</html>")
    coll = folder_collection(local)
    summary = precompute(coll, ["fcn"], show_bar=False)
    assert summary.computed == 10
    assert sorted(f["id"] for f in summary.failed) == sorted([f"{label.name}/jazz.00054", f"{label.name}/cover"])
    assert all(f["reason"] for f in summary.failed)
    assert Store(coll).failures() == summary.failed
    assert any("skipped" in line and "cover" in line for line in summary.lines())
    frame, emb = load_embeddings(coll, "fcn")
    assert len(frame) == 10 and emb.shape == (10, 64)


def stored_rows(cache: Path, key: str) -> int:
    """Rows of tagger `key` committed to the store so far (0 before the database exists)."""
    db = cache / "store.sqlite3"
    if not db.is_file():
        return 0
    with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=30)) as conn:
        try:
            return conn.execute("SELECT count(*) FROM results WHERE tagger = ?", (key,)).fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_killed_run_resumes_to_the_bit_identical_result(tmp_path, monkeypatch) -> None:
    music = make_folder(tmp_path / "music", 32, seconds=12.0)
    args = ["precompute", "--collection", str(music), "--models", "musicnn,fcn"]
    killed_cache, clean_cache = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "SHROOMS_CACHE": str(killed_cache)}
    proc = subprocess.Popen([sys.executable, "-m", "shrooms.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while stored_rows(killed_cache, "fcn") < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = stored_rows(killed_cache, "fcn")
    assert 8 <= done_before < 32, "the run must be killed midway"
    resumed = run_cli(*args, env={"SHROOMS_CACHE": str(killed_cache)})
    assert resumed.returncode == 0 and f"{32 - done_before} tracks computed" in resumed.stdout
    assert run_cli(*args, env={"SHROOMS_CACHE": str(clean_cache)}).returncode == 0
    coll = folder_collection(music)
    for key in ("musicnn", "fcn"):
        monkeypatch.setenv("SHROOMS_CACHE", str(killed_cache))
        a = Store(coll).load(key)
        monkeypatch.setenv("SHROOMS_CACHE", str(clean_cache))
        b = Store(coll).load(key)
        assert list(a.tracks["id"]) == list(b.tracks["id"]) and len(a.tracks) == 32
        assert np.array_equal(a.embeddings, b.embeddings) and np.array_equal(a.tags, b.tags)


def test_demo_precomputes_end_to_end(demo_collection) -> None:
    store = Store(demo_collection)
    for key in RELEASED:
        results = store.load(key)
        assert len(results.tracks) == 48 and np.isfinite(results.embeddings).all()
        assert results.tracks["label"].nunique() == 8
    assert store.failures() == []


def test_precompute_cli_prints_the_summary(music, private_cache) -> None:
    proc = run_cli("precompute", "--collection", str(music), "--models", "crnn")
    assert proc.returncode == 0 and "10 tracks computed, 0 already cached, 0 unreadable" in proc.stdout
    assert "skipped tagger" not in proc.stdout
    missing = run_cli("precompute", "--collection", str(music), "--models", "crnn,hcnn")
    assert "0 tracks computed, 10 already cached" in missing.stdout
    assert "skipped tagger hcnn: weights not available" in missing.stdout
    bad = run_cli("precompute", "--collection", str(music / "nope"))
    assert bad.returncode == 1 and bad.stderr.startswith("shrooms: error:") and "no such folder" in bad.stderr
