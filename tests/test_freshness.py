"""What the app shows is what the store holds (issue #20).

One read of the store per answer: a file of the collection changes while a view, an export or a report is
being made (after the store was read, before the map is fitted: the fault injection below); the answer
still describes one consistent set of rows. Fresh views: files added to a folder and computed by another
process (a real `shrooms precompute` subprocess) show up on the Home page's next run, and the page says
when new or changed files wait for a precompute. Real recordings (excerpts of ../shared clips), the FCN
tagger only (fast)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.store import Store

from .audio_files import CLIPS, COUNTRY, write_excerpt
from .conftest import ROOT, SHARED
from .helpers import assert_no_traceback, run_cli

SOURCES = {"dance": [CLIPS / "ballroom_waltz.flac", CLIPS / "vocadito_1.flac", CLIPS / "simac_rallou.flac"],
           "jazz": [CLIPS / "jtd_trio.flac", CLIPS / "hainsworth_001.flac", CLIPS / "hainsworth_001.flac"],
           "country": [COUNTRY, CLIPS / "gtzan_country_00000.flac", COUNTRY]}
N = 9


def make_music(root: Path, seconds: float = 4.0) -> Path:
    """`N` real excerpts in 3 label folders."""
    for label, srcs in SOURCES.items():
        for i, src in enumerate(srcs):
            write_excerpt(src, root / label / f"{label}{i}.wav", seconds, offset=1.0 + 2.5 * i)
    return root


def add_music(root: Path, per_label: int, seconds: float = 4.0) -> list[Path]:
    """`per_label` new real excerpts in each label folder of `root` (later in the same recordings)."""
    return [write_excerpt(srcs[1], root / label / f"{label}_new{j}.wav", seconds, offset=9.0 + 2.0 * j)
            for label, srcs in SOURCES.items() for j in range(per_label)]  # srcs[1]: 30-s recordings


@pytest.fixture
def fcn_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A weights folder holding FCN's weights only: the other taggers say 'no weights'."""
    weights = tmp_path / "weights" / "jamendo" / "fcn"
    weights.mkdir(parents=True)
    (weights / "best_model.pth").symlink_to(SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth")
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(tmp_path / "weights"))
    return tmp_path / "weights"


@pytest.fixture
def computed(private_cache: Path, tmp_path: Path):
    """A folder collection of `N` real excerpts with FCN computed."""
    coll = folder_collection(make_music(tmp_path / "music"))
    summary = precompute(coll, ["fcn"], show_bar=False)
    assert not summary.failed and len(Store(coll).load("fcn").tracks) == N
    return coll


@pytest.fixture
def file_changes_after_first_read(computed, monkeypatch: pytest.MonkeyPatch):
    """Fault injection: right after the store's FIRST read of the FCN rows, one track's file changes on disk
    (its modification time moves on), so any later read no longer counts that track's row as valid. An
    answer made of one read is unaffected; one made of two reads mixes two sets of rows."""
    reads = []
    load = Store.load
    changed = computed.tracks[2].path

    def load_then_change(self, key, precision=None):
        out = load(self, key, precision)
        reads.append(len(out.tracks))
        if len(reads) == 1:
            stat = changed.stat()
            os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        return out

    monkeypatch.setattr(Store, "load", load_then_change)
    return computed, reads


def test_a_map_is_fitted_on_the_rows_its_table_lists(file_changes_after_first_read) -> None:
    """views.map_frame: the table and the map's positions come from one read (it read the store, then
    `get_map` read it again: a KeyError when a row went in between)."""
    from shrooms.views import map_frame
    coll, reads = file_changes_after_first_read
    frame = map_frame(coll, "fcn", "tsne", 2)
    assert len(frame) == N and frame[["x", "y"]].notna().all().all()
    assert reads == [N], "the store was read more than once for one map"


def test_an_export_is_one_read(file_changes_after_first_read) -> None:
    from shrooms.export import export_frame
    coll, reads = file_changes_after_first_read
    frame = export_frame(coll, "fcn")
    assert len(frame) == N and reads == [N]


def test_a_report_is_one_read_per_tagger(file_changes_after_first_read) -> None:
    """analysis.report: scores, the t-SNE map, the tag profiles and the agreement all of the same rows (the
    report read the store four times per tagger: a ValueError from the map's ids, or profiles of another
    set of tracks)."""
    from shrooms.analysis import report
    coll, reads = file_changes_after_first_read
    result = report(coll, ["fcn"], seeds=(0,))
    assert result["models"]["fcn"]["n_tracks"] == N and reads == [N]
    assert sum(g["n"] for g in result["models"]["fcn"]["tag_profiles"]["labels"].values()) == N


def home(source: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "home.py"), default_timeout=240)
    at.session_state["collection_spec"] = source
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def waiting_lines(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "wait for a precompute" in w.value]


def test_home_says_when_new_files_wait_and_refreshes_after_a_precompute_elsewhere(
        fcn_only, private_cache, tmp_path, monkeypatch) -> None:
    """Files added to a computed folder: the Home page's next run (same server, same caches) counts them
    as waiting, with the command; once another process has computed them, the next run shows every track
    stored and no waiting line. The taggers' status is computed once per store revision: a rerun with
    nothing changed reads no stored rows. (The collection was cached forever and the views were keyed
    without the store's revision: the page kept showing the old count, with no word about the new files;
    and every run read every tagger's rows for the status table.)"""
    st.cache_data.clear()
    st.cache_resource.clear()
    music = make_music(tmp_path / "music")
    proc = run_cli("precompute", "--collection", str(music), "--models", "fcn")
    assert proc.returncode == 0, proc.stderr
    reads = []
    load = Store.load
    monkeypatch.setattr(Store, "load", lambda self, *a, **k: reads.append(a[0]) or load(self, *a, **k))
    at = home(str(music))
    fcn = at.dataframe[0].value.set_index("key").loc["fcn"]
    assert fcn["embeddings"] == f"{N} / {N}" and not waiting_lines(at)
    assert "fcn" in reads
    reads.clear()
    at.run()
    assert not at.exception and reads == [], "a rerun with nothing changed read the store again"

    add_music(music, 1)  # 3 new files, one per label
    at.run()
    assert not at.exception and "fcn" in reads  # a new revision: read once more
    assert waiting_lines(at) == [f"3 new or changed files wait for a precompute: the maps show the tracks computed "
                                 f"so far. Press **Compute embeddings** below, or run `shrooms precompute "
                                 f"--collection {music}`."]
    assert at.dataframe[0].value.set_index("key").loc["fcn", "embeddings"] == f"{N} / {N + 3}"

    proc = run_cli("precompute", "--collection", str(music), "--models", "fcn")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    at.run()
    assert not at.exception
    assert at.dataframe[0].value.set_index("key").loc["fcn", "embeddings"] == f"{N + 3} / {N + 3}"
    assert not waiting_lines(at)
    st.cache_data.clear()
    st.cache_resource.clear()
