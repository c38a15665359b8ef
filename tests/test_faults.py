"""Fault injection on a small real-music collection: precompute SIGKILLed at every stage, a file replaced
while it is decoded, the database truncated or overwritten, two precomputes at once, a read-only cache.
After each, `report --json` is byte-identical to an uninterrupted run's. And: a killed run's claims taken
over from another host (or a reused pid) within the lease, repair refused under a live process, a salvage
that keeps every row readable by rowid, one snapshot per report, a read-only reader that sees later commits."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

import shrooms.precompute
from shrooms.cli import main
from shrooms.collections import folder_collection
from shrooms.precompute import precompute
from shrooms.store import RESULT_COLUMNS, Store, checksum

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


# -- issue 20: leases, repair under a live process, salvage by rowid, one snapshot per answer, read-only --

def claims_in(cache: Path) -> list[tuple]:
    with closing(sqlite3.connect(cache / "store.sqlite3")) as conn:
        return conn.execute("SELECT host, pid FROM claims").fetchall()


def test_a_rerun_on_another_host_takes_over_a_killed_runs_claims_within_the_lease(music, clean, tmp_path) -> None:
    """A run SIGKILLed after claiming 3 tracks in one container (hostname `old-container`), rerun in
    another: the dead run's pid means nothing there, its lease runs out within seconds, and the rerun
    says so and computes everything."""
    cache = tmp_path / "cache"
    proc = run_cli("precompute", "--collection", str(music), *MODELS,
                   env={"SHROOMS_CACHE": str(cache), "SHROOMS_TEST_KILL_AT": "claimed:3",
                        "SHROOMS_HOSTNAME": "old-container"})
    assert proc.returncode == -9, proc.stderr
    claims = claims_in(cache)
    assert len(claims) == 3 and {host for host, _ in claims} == {"old-container"}
    rerun = run_cli("precompute", "--collection", str(music), *MODELS, timeout=120,
                    env={"SHROOMS_CACHE": str(cache), "SHROOMS_HOSTNAME": "new-container"})
    assert rerun.returncode == 0, rerun.stderr
    assert summary_line(rerun.stdout) == f"music: {N} tracks computed, 0 already cached, 0 unreadable"
    assert f"  taking over 3 tracks claimed by a run that stopped (host old-container pid {claims[0][1]})" \
        in rerun.stdout.splitlines()
    assert claims_in(cache) == []
    assert run_cli(*REPORT, "--collection", str(music), env={"SHROOMS_CACHE": str(cache)}).stdout == clean[1]


def test_a_dead_runs_claim_whose_pid_a_live_process_reuses_is_taken_over_once_its_lease_ran_out(music, clean, tmp_path) -> None:
    """The pid of a run that stopped a minute ago now belongs to another live process on this host: the
    lease, not the pid, decides, and the rerun takes the claims over at once."""
    cache = Path(shutil.copytree(clean[0], tmp_path / "cache"))
    coll = folder_collection(music)
    squatter = subprocess.Popen(["sleep", "300"])
    try:
        with closing(sqlite3.connect(cache / "store.sqlite3")) as conn, conn:
            conn.execute("DELETE FROM results WHERE track IN ('jazz/jazz0', 'country/country1')")
            for track in ("jazz/jazz0", "country/country1"):
                conn.execute("INSERT INTO claims (collection, track, pid, host, heartbeat) VALUES (?, ?, ?, ?, ?)",
                             (coll.key, track, squatter.pid, socket.gethostname(), time.time() - 60))
        rerun = run_cli("precompute", "--collection", str(music), *MODELS, timeout=120,
                        env={"SHROOMS_CACHE": str(cache)})
    finally:
        squatter.kill()
        squatter.wait()
    assert rerun.returncode == 0, rerun.stderr
    assert summary_line(rerun.stdout) == f"music: 2 tracks computed, {N - 2} already cached, 0 unreadable"
    assert f"  taking over 2 tracks claimed by a run that stopped (host {socket.gethostname()} pid {squatter.pid})" \
        in rerun.stdout.splitlines()


HOLDER = """
import sys
from shrooms.collections import folder_collection
from shrooms.store import Store
store = Store(folder_collection(sys.argv[1]))
store.connection(write=True)
print(len(store.load("musicnn").tracks), flush=True)
sys.stdin.readline()
"""


def garble_middle(db: Path) -> None:
    """4 KiB of random bytes over the middle leaf page of the results table (found with dbstat)."""
    with closing(sqlite3.connect(db)) as conn:
        pages = [p for p, in conn.execute("SELECT pageno FROM dbstat WHERE name = 'results' AND pagetype = 'leaf' "
                                          "ORDER BY pageno")]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * size)
        f.write(os.urandom(4096))


def test_repair_refuses_while_another_process_has_the_store_open(music, clean, tmp_path) -> None:
    cache = Path(shutil.copytree(clean[0], tmp_path / "cache"))
    env = {"SHROOMS_CACHE": str(cache)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(music)], env={**os.environ, **env}, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == f"{N}\n"  # a live process with the store open for writing
        db = cache / "store.sqlite3"
        garble_middle(db)
        damaged = db.read_bytes()
        proc = run_cli("precompute", "--repair", "--collection", str(music), *MODELS, env=env)
        assert_no_traceback(proc)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (f"shrooms: error: {db} is open in another process (a precompute, report or the app): "
                               f"stop it, then run `shrooms precompute --repair --collection {music}` again\n")
        assert db.read_bytes() == damaged and not list(cache.glob("store.sqlite3.damaged-*"))  # nothing moved
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    proc = run_cli("precompute", "--repair", "--collection", str(music), *MODELS, env=env)
    assert proc.returncode == 0 and "the damaged database was set aside as" in proc.stdout, proc.stderr


def test_repair_keeps_every_row_readable_by_rowid_of_every_collection(music, tmp_path, monkeypatch) -> None:
    """Two collections in one store, 4 KiB of garbage over a page in the middle of the results table: the
    repair keeps exactly the rows a rowid-by-rowid read of the damaged file finds with valid checksums,
    in both collections (a scan stops at the damaged page and loses every row after it)."""
    other = make_music(tmp_path / "two")
    work = tmp_path / "work"
    monkeypatch.setenv("SHROOMS_CACHE", str(work))
    for folder in (music, other):
        precompute(folder_collection(folder), ["musicnn", "fcn"], show_bar=False)
    with closing(sqlite3.connect(work / "store.sqlite3")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        last = conn.execute("SELECT max(rowid) FROM results").fetchone()[0]
        assert last == 4 * N
    cache = tmp_path / "cache"
    cache.mkdir()
    db = cache / "store.sqlite3"
    shutil.copyfile(work / "store.sqlite3", db)
    garble_middle(db)
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(db, copy)
    readable, scanned = Counter(), 0
    with closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as conn:
        for rowid in range(1, last + 1):
            try:
                row = conn.execute("SELECT collection, tags, embedding, chunk_tags, chunk_embeddings, checksum "
                                   "FROM results WHERE rowid = ?", (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                continue
            if row is not None and checksum(*row[1:5]) == row[5]:
                readable[row[0]] += 1
        try:
            for _ in conn.execute("SELECT checksum FROM results NOT INDEXED"):  # a scan of the table
                scanned += 1
        except sqlite3.DatabaseError:
            pass
    assert scanned < sum(readable.values()) < last  # the garbage cost rows, and a scan loses more
    assert len(readable) == 2
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    aside, kept = Store(folder_collection(music)).repair()
    assert kept == sum(readable.values()) and aside.read_bytes() == copy.read_bytes()
    with closing(sqlite3.connect(db)) as conn:
        assert Counter(dict(conn.execute("SELECT collection, count(*) FROM results GROUP BY collection"))) == readable
    for folder in (music, other):  # the kept rows are valid rows: a precompute computes only the rest
        coll = folder_collection(folder)
        summary = precompute(coll, ["musicnn", "fcn"], show_bar=False)
        both = len(set(Store(coll).load("musicnn").tracks["id"]) & set(Store(coll).load("fcn").tracks["id"]))
        assert summary.computed + summary.cached == N and both == N


def test_a_report_reads_one_snapshot_while_rows_are_committed_between_its_reads(music, tmp_path, monkeypatch, capsys) -> None:
    """Rows committed by another connection right after the report's first read of the store (as a
    running precompute does): the report describes the store as it was at that first read, and equals
    a report of that store taken with nothing running."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    coll = folder_collection(music)
    precompute(coll, ["musicnn", "fcn"], show_bar=False)
    with closing(sqlite3.connect(cache / "store.sqlite3")) as conn, conn:
        later = conn.execute("SELECT rowid, * FROM results WHERE track IN ('jazz/jazz2', 'dance/dance0')").fetchall()
        conn.execute("DELETE FROM results WHERE track IN ('jazz/jazz2', 'dance/dance0')")
    args = ["report", "--json", "--seeds", "2", "--models", "musicnn,fcn", "--collection", str(music)]
    code, before, err = cli(capsys, monkeypatch, cache, *args)
    assert code == 0, err
    load, loads = Store.load, []

    def load_then_commit(self, key, precision=None):
        out = load(self, key, precision)
        loads.append(key)
        if len(loads) == 1:  # a precompute commits the two tracks now
            with closing(sqlite3.connect(cache / "store.sqlite3")) as conn, conn:
                conn.executemany(f"INSERT INTO results (rowid, {', '.join(RESULT_COLUMNS)}) VALUES "
                                 f"({', '.join('?' * (len(RESULT_COLUMNS) + 1))})", later)
        return out
    with monkeypatch.context() as patch:
        patch.setattr(Store, "load", load_then_commit)
        code, during, err = cli(capsys, monkeypatch, cache, *args)
    assert code == 0, err
    assert len(loads) >= 2  # there were reads after the commit
    ours, theirs = json.loads(during), json.loads(before)
    for key in ("musicnn", "fcn"):  # the note on what the scores left out is read after them: the 2 tracks
        assert [t["id"] for t in ours["models"][key].pop("left_out")["tracks"]] == ["dance/dance0", "jazz/jazz2"]
        theirs["models"][key].pop("left_out")
    assert ours == theirs  # every score, map and profile from the store as it was at the first read
    code, after, err = cli(capsys, monkeypatch, cache, *args)
    assert code == 0 and after != before  # the commit did land: the next report sees it


READER = """
import sys
from shrooms.collections import folder_collection
from shrooms.store import Store
store = Store(folder_collection(sys.argv[1]))
print(len(store.load("musicnn").tracks), flush=True)
sys.stdin.readline()
print(len(store.load("musicnn").tracks), flush=True)
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root's override")
def test_a_reader_of_a_read_only_cache_sees_what_a_writer_commits_later(music, clean, tmp_path) -> None:
    """A process that cannot write the cache opens the store while nobody writes (no -wal file: SQLite
    reads it only as immutable); then a process that may write it commits a row and stays open. The
    reader's next read sees the new row (an immutable connection kept would not, or worse)."""
    cache = Path(shutil.copytree(clean[0], tmp_path / "cache"))
    db = cache / "store.sqlite3"
    with closing(sqlite3.connect(db)) as conn, conn:
        row = conn.execute("SELECT rowid, * FROM results WHERE track = 'jazz/jazz1'").fetchone()
        conn.execute("DELETE FROM results WHERE track = 'jazz/jazz1'")
    assert not Path(f"{db}-wal").exists()
    subprocess.run(["chmod", "-R", "a-w", str(cache)], check=True)
    caps = "-dac_override,-dac_read_search,-fowner"
    reader = subprocess.Popen(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", sys.executable, "-c",
                               READER, str(music)], env={**os.environ, "SHROOMS_CACHE": str(cache)}, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer = sqlite3.connect(db)  # this process keeps root's override: it may write the cache
    try:
        assert reader.stdout.readline() == f"{N - 1}\n"
        with writer:
            writer.execute(f"INSERT INTO results (rowid, {', '.join(RESULT_COLUMNS)}) VALUES "
                           f"({', '.join('?' * (len(RESULT_COLUMNS) + 1))})", row)
        assert Path(f"{db}-wal").exists()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline() == f"{N}\n", reader.stderr.read()
        assert reader.wait(timeout=60) == 0
    finally:
        reader.kill()
        writer.close()
        subprocess.run(["chmod", "-R", "u+w", str(cache)], check=True)
