"""The SQLite store: shapes when empty, per-chunk segments with their start times, the revision,
precisions kept apart, rows whose arrays fail their checksum recomputed; only corruption called damage, a
failed commit rolled back, the schema versioned and migrated."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.store import Store

from .audio_files import CLIPS, write_excerpt
from .helpers import run_cli


@pytest.fixture
def music(tmp_path) -> Path:
    """Three real excerpts in two labels: 8 s, 8 s, and 2 s (shorter than Musicnn's 3-s window)."""
    write_excerpt(CLIPS / "ballroom_waltz.flac", tmp_path / "m" / "dance" / "waltz.wav", 8.0)
    write_excerpt(CLIPS / "vocadito_1.flac", tmp_path / "m" / "dance" / "vocal.wav", 8.0, offset=3.0)
    write_excerpt(CLIPS / "jtd_trio.flac", tmp_path / "m" / "jazz" / "trio.wav", 2.0)
    return tmp_path / "m"


def test_an_empty_store_reads_empty_arrays_of_the_right_shape_and_creates_nothing(music, private_cache) -> None:
    store = Store(folder_collection(music))
    results = store.load("musicnn")
    assert len(results.tracks) == 0 and results.embeddings.shape == (0, 200) and results.tags.shape == (0, 50)
    frame, embs, tags = store.segments("fcn")
    assert list(frame.columns) == ["id", "label", "path", "chunk", "start"] and len(frame) == 0
    assert embs.shape == (0, 64) and tags.shape == (0, 50)
    assert store.read("musicnn", "dance/waltz") is None and store.failures() == []
    assert not (private_cache / "store.sqlite3").exists()


def test_segments_are_one_row_per_chunk_with_its_start_and_the_revision_follows_changes(music, private_cache) -> None:
    coll = folder_collection(music)
    store = Store(coll)
    empty = store.revision()
    precompute(coll, ["musicnn"], show_bar=False)
    after = store.revision()
    assert after != empty
    frame, embs, tags = store.segments("musicnn")
    # 8 s at 16 kHz in 3-s windows: round(8/3) = 3 windows from 0 to 5 s; 2 s: one zero-padded window at 0
    assert frame[["id", "chunk", "start"]].values.tolist() == [
        ["dance/vocal", 0, 0.0], ["dance/vocal", 1, 2.5], ["dance/vocal", 2, 5.0],
        ["dance/waltz", 0, 0.0], ["dance/waltz", 1, 2.5], ["dance/waltz", 2, 5.0], ["jazz/trio", 0, 0.0]]
    assert list(frame["label"]) == ["dance"] * 6 + ["jazz"] and frame["path"][6] == str(music / "jazz" / "trio.wav")
    out = store.read("musicnn", "dance/waltz")
    np.testing.assert_array_equal(embs[3:6], out.chunk_embeddings)
    np.testing.assert_array_equal(tags[3:6], out.chunk_tags)
    assert store.revision() == after  # reading changes nothing
    write_excerpt(CLIPS / "jtd_trio.flac", music / "jazz" / "trio.wav", 2.5)
    assert store.revision() != after  # a file changed: what is valid changed
    assert len(store.load("musicnn").tracks) == 2


def test_precisions_are_stored_apart_and_never_mixed(music, private_cache, monkeypatch) -> None:
    coll = folder_collection(music)
    with monkeypatch.context() as patch:
        patch.setenv("SHROOMS_PRECISION", "bf16")  # what `--precision bf16` sets
        assert precompute(coll, ["musicnn"], show_bar=False).computed == 3
        assert len(Store(coll).load("musicnn").tracks) == 3  # read back in the precision asked for
    store = Store(coll)
    assert len(store.load("musicnn").tracks) == 0 and len(store.load("musicnn", "bf16").tracks) == 3
    assert precompute(coll, ["musicnn"], show_bar=False).computed == 3  # float32: its own rows
    assert len(store.load("musicnn").tracks) == 3 and len(store.load("musicnn", "bf16").tracks) == 3
    bf16, f32 = store.load("musicnn", "bf16").embeddings, store.load("musicnn").embeddings
    assert not np.array_equal(bf16, f32)  # really two computations, never mixed


def test_a_row_whose_arrays_fail_their_checksum_is_invalid_and_recomputed(music, private_cache) -> None:
    coll = folder_collection(music)
    precompute(coll, ["musicnn"], show_bar=False)
    store = Store(coll)
    good = store.read("musicnn", "dance/vocal")
    with closing(sqlite3.connect(private_cache / "store.sqlite3")) as conn, conn:
        conn.execute("UPDATE results SET embedding = zeroblob(800) WHERE track = 'dance/vocal'")
    assert store.read("musicnn", "dance/vocal") is None
    assert list(store.load("musicnn").tracks["id"]) == ["dance/waltz", "jazz/trio"]
    again = precompute(coll, ["musicnn"], show_bar=False)
    assert (again.computed, again.cached) == (1, 2)
    np.testing.assert_array_equal(store.read("musicnn", "dance/vocal").embedding, good.embedding)
    assert store.read("musicnn", "dance/vocal").chunk_embeddings.shape == (3, 200)


def test_only_corruption_is_damage_and_a_failed_commit_leaves_nothing_open(music, private_cache) -> None:
    """A constraint or a misuse is a bug, raised as itself (not "damaged, run --repair"); a COMMIT that
    fails (here on a deferred foreign key, which SQLite leaves the transaction open after) is rolled
    back, and the thread's connection works afterwards."""
    store = Store(folder_collection(music))
    conn = store.connection(write=True)
    with pytest.raises(sqlite3.ProgrammingError):
        store.query("SELECT ?", ())  # a wrong number of bindings
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with store.transaction() as c:
            c.execute("INSERT INTO child VALUES (1)")  # accepted now, refused at COMMIT
    assert not conn.in_transaction
    with store.transaction() as c:
        c.execute("INSERT INTO parent VALUES (7)")
    assert store.query("SELECT id FROM temp.parent") == [(7,)] and store.query("SELECT * FROM temp.child") == []


SCHEMA_0 = """
CREATE TABLE results (
    collection TEXT NOT NULL, tagger TEXT NOT NULL, track TEXT NOT NULL, precision TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, weights_sha256 TEXT NOT NULL,
    tagger_version TEXT NOT NULL, chunking_version TEXT NOT NULL,
    n_samples INTEGER NOT NULL, n_chunks INTEGER NOT NULL, n_tags INTEGER NOT NULL, dim INTEGER NOT NULL,
    tags BLOB NOT NULL, embedding BLOB NOT NULL, chunk_tags BLOB NOT NULL, chunk_embeddings BLOB NOT NULL,
    checksum TEXT NOT NULL, computed_by INTEGER NOT NULL, computed_at REAL NOT NULL,
    PRIMARY KEY (collection, tagger, track, precision));
CREATE TABLE failures (
    collection TEXT NOT NULL, track TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, PRIMARY KEY (collection, track));
CREATE TABLE claims (
    collection TEXT NOT NULL, track TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    heartbeat REAL NOT NULL, PRIMARY KEY (collection, track));
CREATE TABLE revisions (collection TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


def test_a_store_of_the_previous_schema_is_read_migrated_and_a_newer_one_refused(music, tmp_path, monkeypatch) -> None:
    """Schema 0 (shrooms before `PRAGMA user_version`): read as it is, migrated to the current version
    by the first run that writes (its rows kept, a dead run's claim taken over); a store written by a
    newer shrooms is one line."""
    coll = folder_collection(music)
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "new"))
    precompute(coll, ["musicnn"], show_bar=False)
    expected = Store(coll).load("musicnn")
    old = tmp_path / "old"
    old.mkdir()
    with closing(sqlite3.connect(old / "store.sqlite3")) as conn, conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA_0)
        conn.execute("ATTACH ? AS new", (str(tmp_path / "new" / "store.sqlite3"),))
        conn.execute("INSERT INTO results SELECT * FROM new.results WHERE track != 'jazz/trio'")
        conn.execute("INSERT INTO revisions SELECT * FROM new.revisions")
        conn.execute("INSERT INTO claims VALUES (?, 'jazz/trio', 999999999, 'gone', 0.0)", (coll.key,))
    monkeypatch.setenv("SHROOMS_CACHE", str(old))
    assert list(Store(coll).load("musicnn").tracks["id"]) == ["dance/vocal", "dance/waltz"]  # read as it is
    summary = precompute(coll, ["musicnn"], show_bar=False)
    assert (summary.computed, summary.cached) == (1, 2)
    assert "  taking over 1 tracks claimed by a run that stopped (host gone pid 999999999)" in summary.lines()
    with closing(sqlite3.connect(old / "store.sqlite3")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert [r[1] for r in conn.execute("PRAGMA table_info(claims)")] == [
            "collection", "track", "pid", "host", "heartbeat", "run"]
    migrated = Store(coll).load("musicnn")
    np.testing.assert_array_equal(migrated.embeddings, expected.embeddings)
    with closing(sqlite3.connect(old / "store.sqlite3")) as conn:
        conn.execute("PRAGMA user_version = 7")
    for args in (["report", "--models", "musicnn"], ["precompute", "--models", "musicnn"]):
        proc = run_cli(*args, "--collection", str(music), env={"SHROOMS_CACHE": str(old)})
        assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
        assert proc.stderr == (f"shrooms: error: {old / 'store.sqlite3'} was written by a newer shrooms (store "
                               "schema 7; this one knows up to 1): upgrade shrooms, or point SHROOMS_CACHE elsewhere\n")
