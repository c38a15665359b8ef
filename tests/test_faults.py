"""Fault injection on a small real-music collection: precompute SIGKILLed at every stage, a file replaced
while it is decoded, the database truncated or overwritten, two precomputes at once, a read-only cache.
After each, `report --json` is byte-identical to an uninterrupted run's."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

import shrooms.precompute
from shrooms.cli import main
from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.store import Store

from .audio_files import CLIPS, COUNTRY, write_excerpt
from .helpers import assert_no_traceback, run_cli

MODELS = ["--models", "musicnn"]
REPORT = ["report", "--json", "--seeds", "2", *MODELS]
SOURCES = {"dance": [CLIPS / "ballroom_waltz.flac", CLIPS / "vocadito_1.flac", CLIPS / "simac_rallou.flac"],
           "jazz": [CLIPS / "jtd_trio.flac", CLIPS / "hainsworth_001.flac", CLIPS / "hainsworth_001.flac"],
           "country": [COUNTRY, CLIPS / "gtzan_country_00000.flac"]}
N = 8


def make_music(root: Path) -> Path:
    """8 real 4-s excerpts in 3 label folders."""
    for label, srcs in SOURCES.items():
        for i, src in enumerate(srcs):
            write_excerpt(src, root / "music" / label / f"{label}{i}.wav", 4.0, offset=1.0 + 2.5 * i)
    return root / "music"


def summary_line(stdout: str) -> str:
    return stdout.splitlines()[0].split(", in ")[0]


def killed(music: Path, cache: Path, at: str, *extra: str) -> subprocess.CompletedProcess:
    """`shrooms precompute` SIGKILLed by its own fault hook at `at` (point:n)."""
    proc = run_cli("precompute", "--collection", str(music), *MODELS, *extra,
                   env={"SHROOMS_CACHE": str(cache), "SHROOMS_TEST_KILL_AT": at})
    assert proc.returncode == -9, (at, proc.stdout, proc.stderr)
    return proc


def cli(capsys, monkeypatch, cache: Path, *args: str) -> tuple[int, str, str]:
    """The `shrooms` command in this process (models stay loaded between calls)."""
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    return make_music(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def clean(music, tmp_path_factory) -> tuple[Path, str]:
    """An uninterrupted precompute's cache and its `report --json`."""
    cache = tmp_path_factory.mktemp("clean") / "cache"
    env = {"SHROOMS_CACHE": str(cache)}
    proc = run_cli("precompute", "--collection", str(music), *MODELS, env=env)
    assert summary_line(proc.stdout) == f"music: {N} tracks computed, 0 already cached, 0 unreadable"
    report = run_cli(*REPORT, "--collection", str(music), env=env)
    assert report.returncode == 0 and '"musicnn"' in report.stdout, report.stderr
    return cache, report.stdout


@pytest.mark.parametrize("at, left", [
    ("claimed:3", N),      # claims of a dead process, nothing stored: taken over
    ("decoding:2", N),     # mid-decode
    ("computed:1", N),     # model outputs in memory, nothing committed
    ("committed:1", N - 1),  # right after the first track's transaction
    ("committed:8", 0),    # every track committed, killed before the run's end
])
def test_a_killed_precompute_resumes_to_the_identical_report(at, left, music, clean, tmp_path, capsys, monkeypatch) -> None:
    cache = tmp_path / "cache"
    killed(music, cache, at)
    code, out, err = cli(capsys, monkeypatch, cache, "precompute", "--collection", str(music), *MODELS)
    assert code == 0 and summary_line(out) == f"music: {left} tracks computed, {N - left} already cached, 0 unreadable"
    code, out, err = cli(capsys, monkeypatch, cache, *REPORT, "--collection", str(music))
    assert code == 0 and out == clean[1]


def test_a_rerun_killed_while_rewriting_a_changed_track_resumes(tmp_path, capsys, monkeypatch) -> None:
    """A file changes after a full run; the rerun that recomputes it is killed before and then after
    its commit; each next run does exactly what is left, and the report equals a fresh cache's."""
    music = make_music(tmp_path)
    cache, fresh = tmp_path / "cache", tmp_path / "fresh"
    args = ["precompute", "--collection", str(music), *MODELS]
    assert cli(capsys, monkeypatch, cache, *args)[0] == 0
    write_excerpt(CLIPS / "hainsworth_001.flac", music / "jazz" / "jazz0.wav", 4.0, offset=9.0)
    killed(music, cache, "computed:1")
    assert summary_line(cli(capsys, monkeypatch, cache, *args)[1]) == \
        f"music: 1 tracks computed, {N - 1} already cached, 0 unreadable"
    write_excerpt(CLIPS / "simac_rallou.flac", music / "jazz" / "jazz1.wav", 4.0, offset=7.0)
    killed(music, cache, "committed:1")
    assert summary_line(cli(capsys, monkeypatch, cache, *args)[1]) == \
        f"music: 0 tracks computed, {N} already cached, 0 unreadable"
    assert cli(capsys, monkeypatch, fresh, *args)[0] == 0
    ours = cli(capsys, monkeypatch, cache, *REPORT, "--collection", str(music))
    theirs = cli(capsys, monkeypatch, fresh, *REPORT, "--collection", str(music))
    assert ours[0] == 0 and ours[1] == theirs[1]


def test_a_file_replaced_while_it_is_decoded_is_not_stored_and_recomputed(tmp_path, monkeypatch) -> None:
    music = make_music(tmp_path)
    target = music / "dance" / "dance1.wav"
    decode = shrooms.precompute.decode

    def replace_while_decoding(path):
        decoded = decode(path)
        if Path(path) == target:  # between the stat before decoding and the stat after it
            write_excerpt(CLIPS / "jtd_trio.flac", target, 4.0, offset=0.0)
        return decoded
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "cache"))
    coll = folder_collection(music)
    with monkeypatch.context() as patch:
        patch.setattr(shrooms.precompute, "decode", replace_while_decoding)
        first = precompute(coll, ["musicnn"], show_bar=False)
    assert (first.computed, first.changed) == (N - 1, ["dance/dance1"])
    assert "  not stored dance/dance1: the file changed while it was read (run precompute again)" in first.lines()
    assert "dance/dance1" not in set(Store(coll).load("musicnn").tracks["id"])
    second = precompute(coll, ["musicnn"], show_bar=False)
    assert (second.computed, second.cached) == (1, N - 1)
    ours = Store(coll).read("musicnn", "dance/dance1")
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "fresh"))
    precompute(coll, ["musicnn"], show_bar=False)
    fresh = Store(coll).read("musicnn", "dance/dance1")
    np.testing.assert_array_equal(ours.embedding, fresh.embedding)
    np.testing.assert_array_equal(ours.chunk_tags, fresh.chunk_tags)


@pytest.mark.parametrize("damage, reason", [
    ("truncate", "database disk image is malformed"),
    ("garbage", "file is not a database"),
])
def test_a_damaged_database_is_one_line_then_repaired(damage, reason, music, clean, tmp_path, capsys, monkeypatch) -> None:
    cache = Path(shutil.copytree(clean[0], tmp_path / "cache"))
    db = cache / "store.sqlite3"
    data = db.read_bytes()
    damaged = data[:len(data) // 2] if damage == "truncate" else os.urandom(len(data))
    db.write_bytes(damaged)
    message = (f"shrooms: error: {db} is damaged ({reason}): run `shrooms precompute --repair --collection "
               f"{music}` to set it aside and rebuild it from what is readable\n")
    for args in (["precompute", *MODELS], REPORT, ["place", str(music / "jazz" / "jazz1.wav"), *MODELS]):
        if damage == "truncate":  # real processes; the other kind in this one (the same code path)
            proc = run_cli(*args, "--collection", str(music), env={"SHROOMS_CACHE": str(cache)})
            assert_no_traceback(proc)
            assert (proc.returncode, proc.stderr, proc.stdout) == (1, message, ""), args
        else:
            assert cli(capsys, monkeypatch, cache, *args, "--collection", str(music)) == (1, "", message)
    code, out, err = cli(capsys, monkeypatch, cache, "precompute", "--repair", "--collection", str(music), *MODELS)
    aside = [p for p in cache.glob("store.sqlite3.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert code == 0 and len(aside) == 1 and aside[0].read_bytes() == damaged  # set aside, not deleted
    kept = int(out.splitlines()[1].split("; ")[1].split()[0])
    assert out.splitlines()[1] == f"  the damaged database was set aside as {aside[0]}; {kept} readable rows kept"
    assert summary_line(out) == f"music: {N - kept} tracks computed, {kept} already cached, 0 unreadable"
    assert cli(capsys, monkeypatch, cache, *REPORT, "--collection", str(music))[1] == clean[1]


def test_two_precomputes_started_together_share_the_work(music, clean, tmp_path, capsys, monkeypatch) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "SHROOMS_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "shrooms.cli", "precompute", "--collection", str(music), *MODELS]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    computed = [int(summary_line(o[0]).split(": ")[1].split()[0]) for o in outs]
    assert sum(computed) == N, outs  # no track computed twice, none left out
    for o, n in zip(outs, computed):
        assert summary_line(o[0]) == f"music: {n} tracks computed, {N - n} already cached, 0 unreadable"
    with closing(sqlite3.connect(cache / "store.sqlite3")) as conn:
        by = dict(conn.execute("SELECT computed_by, count(*) FROM results GROUP BY computed_by").fetchall())
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert by == {p.pid: n for p, n in zip(procs, computed) if n}
    assert cli(capsys, monkeypatch, cache, *REPORT, "--collection", str(music))[1] == clean[1]


def unprivileged(cmd: list[str], cache: Path) -> subprocess.CompletedProcess:
    """`cmd` as root without the capabilities that let root write to read-only files."""
    caps = "-dac_override,-dac_read_search,-fowner"
    return subprocess.run(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "SHROOMS_CACHE": str(cache)},
                          stdin=subprocess.DEVNULL)


def without_write_permission(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """`shrooms ARGS…` unable to write to the read-only cache."""
    return unprivileged([sys.executable, "-m", "shrooms.cli", *args], cache)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode() + (p.read_bytes() if p.is_file() else b"/"))
    return h.hexdigest()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root's override")
def test_a_read_only_cache_serves_report_place_and_an_idle_precompute(music, clean, tmp_path) -> None:
    cache = Path(shutil.copytree(clean[0], tmp_path / "cache"))
    shutil.rmtree(cache / "maps", ignore_errors=True)  # maps must then be fitted in memory
    subprocess.run(["chmod", "-R", "a-w", str(cache)], check=True)
    try:
        before = tree_digest(cache)
        probe = unprivileged(["touch", str(cache / "probe")], cache)
        assert probe.returncode == 1 and "Permission denied" in probe.stderr  # the cache really is read-only
        report = without_write_permission(*REPORT, "--collection", str(music), cache=cache)
        assert (report.returncode, report.stderr, report.stdout) == (0, "", clean[1])
        place = without_write_permission("place", str(music / "jazz" / "jazz1.wav"), "--json", *MODELS,
                                         "--collection", str(music), cache=cache)
        assert place.returncode == 0 and place.stderr == "", place.stderr
        assert "jazz/jazz1" in place.stdout  # its own track is its nearest neighbour
        idle = without_write_permission("precompute", "--collection", str(music), *MODELS, cache=cache)
        assert idle.returncode == 0 and summary_line(idle.stdout) == f"music: 0 tracks computed, {N} already cached, 0 unreadable"
        work = without_write_permission("precompute", "--collection", str(music), "--models", "fcn", cache=cache)
        assert (work.returncode, work.stdout, work.stderr) == (1, "", f"shrooms: error: {cache} is read-only: "
                                                               f"cannot store the {N} tracks of music that need computing\n")
        assert tree_digest(cache) == before and not (cache / "maps").exists()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(cache)], check=True)
