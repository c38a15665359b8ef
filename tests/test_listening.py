"""The blind listening test's library and CLI (`shrooms.listening`, `shrooms listening`): votes are stored one
transaction each and read back as cast, a process killed mid-vote leaves the whole vote or nothing, the
per-pair summary and its Wilson interval are exact on constructed votes, trials name each tagger's nearest
other track, and `shrooms listening --json` prints one strict JSON object."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from shrooms import listening
from shrooms.collections import folder_collection
from shrooms.errors import ShroomsError
from shrooms.listening import Trial
from shrooms.neighbours import knn_sets
from shrooms.space import in_space
from shrooms.store import DB_NAME, Store, StoredResults

from .conftest import DATA
from .helpers import assert_no_traceback, run_cli


@pytest.fixture
def music(tmp_path: Path) -> Path:
    """A small folder of real recordings (links to ../shared/data/formats): votes only need its key."""
    folder = tmp_path / "music"
    folder.mkdir()
    for name in ("rwc_jazz_m01.wav", "jamendo_948.mp3", "fma_000010.mp3", "candombe_ansina.flac"):
        (folder / name).symlink_to(DATA / "formats" / name)
    return folder


def trial(i: int = 0, a: str = "fcn", b: str = "musicnn") -> Trial:
    return Trial(f"seed{i}", a, b, f"near_a{i}", f"near_b{i}")


def vote(a: str, b: str, choice: str) -> dict:
    return {"tagger_a": a, "tagger_b": b, "choice": choice}


# -- summary ---------------------------------------------------------------------------------------------
def test_summary_counts_and_wilson_interval_exact() -> None:
    """7 decided votes of 10 for FCN (whichever side it played on), 3 for Musicnn, 2 'same'; a pair with
    only 'same' has no share (None, not NaN); pairs and taggers come in registry order."""
    rows = ([vote("fcn", "musicnn", "a")] * 4 + [vote("musicnn", "fcn", "b")] * 3      # FCN wins 7
            + [vote("musicnn", "fcn", "a")] * 2 + [vote("fcn", "musicnn", "b")]         # Musicnn wins 3
            + [vote("fcn", "musicnn", "same"), vote("musicnn", "fcn", "same")]
            + [vote("crnn", "fcn", "same")] * 3)
    pairs = listening.summary(rows)
    assert [(p["a"], p["b"]) for p in pairs] == [("fcn", "musicnn"), ("fcn", "crnn")]
    first, second = pairs
    assert (first["votes"], first["wins_a"], first["wins_b"], first["same"]) == (12, 7, 3, 2)
    ci = binomtest(7, 10).proportion_ci(0.95, method="wilson")
    assert first["fraction_a"] == 0.7
    assert (first["ci_low"], first["ci_high"]) == (ci.low, ci.high)
    assert (round(first["ci_low"], 4), round(first["ci_high"], 4)) == (0.3968, 0.8922)  # Wilson, 7 of 10
    assert first["p_value"] == binomtest(7, 10, 0.5).pvalue == pytest.approx(0.34375)
    assert (second["votes"], second["wins_a"], second["wins_b"], second["same"]) == (3, 0, 0, 3)
    assert second["fraction_a"] is second["ci_low"] is second["ci_high"] is second["p_value"] is None
    assert listening.summary([]) == []


def test_win_interval_bounds() -> None:
    """All won: the share is 1 and the interval's upper end 1; none decided: nothing to estimate."""
    all_won = listening.win_interval(5, 5)
    assert all_won["fraction"] == 1.0 and all_won["ci_high"] == pytest.approx(1.0) and 0 < all_won["ci_low"] < 1
    assert listening.win_interval(0, 0) == {"fraction": None, "ci_low": None, "ci_high": None, "p_value": None}


# -- recording -------------------------------------------------------------------------------------------
def test_votes_are_stored_as_cast(music: Path, private_cache: Path) -> None:
    coll = folder_collection(music)
    assert listening.votes(coll) == []  # no database yet: no votes, and no file made by reading
    assert not (private_cache / DB_NAME).exists()
    session = listening.new_session()
    ids = [listening.record_vote(coll, trial(i), choice, session) for i, choice in enumerate(["a", "b", "same"])]
    stored = listening.votes(coll)
    assert [v["id"] for v in stored] == ids
    assert [(v["seed"], v["tagger_a"], v["tagger_b"], v["track_a"], v["track_b"], v["choice"]) for v in stored] == [
        (f"seed{i}", "fcn", "musicnn", f"near_a{i}", f"near_b{i}", c) for i, c in enumerate(["a", "b", "same"])]
    assert {v["session"] for v in stored} == {session} and {v["collection"] for v in stored} == {coll.key}
    assert all(isinstance(v["created_at"], float) for v in stored)
    # the votes sit in the store's own database file, in their own table
    with sqlite3.connect(private_cache / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM listening_votes").fetchone()[0] == 3
    # another collection's votes are its own
    other = music.parent / "other"
    other.mkdir()
    (other / "x.wav").symlink_to(DATA / "formats" / "rwc_jazz_m01.wav")
    assert listening.votes(folder_collection(other)) == []


@pytest.mark.parametrize("bad, message", [
    (dict(choice="c"), "a vote is one of a, b, same"),
    (dict(trial=trial(0, "fcn", "fcn")), "two different taggers"),
    (dict(trial=trial(0, "fcn", "nope")), "nope"),
    (dict(session=""), "session id"),
])
def test_a_wrong_vote_is_one_error_and_stores_nothing(music: Path, private_cache: Path, bad, message) -> None:
    coll = folder_collection(music)
    args = {"trial": trial(), "choice": "a", "session": "s1"} | bad
    with pytest.raises(ShroomsError, match=message):
        listening.record_vote(coll, **args)
    assert listening.votes(coll) == []


KILLED_VOTER = textwrap.dedent("""
    import random, sys, time
    from pathlib import Path
    from shrooms import listening
    from shrooms.collections import folder_collection
    from shrooms.listening import Trial

    music, flag, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    coll = folder_collection(music)
    if mode == "hang":  # stop between the INSERT and the COMMIT, and say so
        listening._in_transaction = lambda: (flag.write_text("inside"), time.sleep(120))
    else:               # vote on and on, pausing at random inside each transaction
        listening._in_transaction = lambda: time.sleep(random.random() * 0.004)
    for i in range(100000):
        vid = listening.record_vote(coll, Trial(f"seed{i}", "fcn", "crnn", f"a{i}", f"b{i}"),
                                    ("a", "b", "same")[i % 3], f"session{i}")
        print(i, vid, flush=True)
        if i == 5:
            flag.write_text("voting")
""")


def start_voter(music: Path, flag: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", KILLED_VOTER, str(music), str(flag), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def wait_for(flag: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "the voting process never got there"
        time.sleep(0.02)


def assert_whole(v: dict) -> None:
    """Every field of a stored vote belongs to the same vote (number i)."""
    i = int(v["seed"][4:])
    assert (v["tagger_a"], v["tagger_b"], v["track_a"], v["track_b"], v["choice"], v["session"]) == (
        "fcn", "crnn", f"a{i}", f"b{i}", ("a", "b", "same")[i % 3], f"session{i}")


def test_a_process_killed_inside_the_vote_stores_nothing(music: Path, private_cache: Path) -> None:
    """SIGKILL between BEGIN IMMEDIATE and COMMIT (the row inserted, not committed): no vote, a sound
    database, and the next vote goes in at once (the dead writer's lock went with it)."""
    coll = folder_collection(music)
    listening.record_vote(coll, trial(99), "same", "before")
    flag = private_cache.parent / "flag"
    proc = start_voter(music, flag, "hang")
    wait_for(flag, proc)
    assert flag.read_text() == "inside"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stdout.read() == ""  # it never got past its first vote
    assert [v["seed"] for v in listening.votes(coll)] == ["seed99"]
    with sqlite3.connect(private_cache / DB_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    listening.record_vote(coll, trial(100), "a", "after")
    assert [v["seed"] for v in listening.votes(coll)] == ["seed99", "seed100"]


@pytest.mark.parametrize("after", [0.3, 0.7, 1.1])
def test_votes_cast_until_killed_are_whole(music: Path, private_cache: Path, after: float) -> None:
    """A process voting as fast as it can, killed at some moment: every vote it reported is stored, at
    most one more (committed, not yet reported), and every stored vote is whole."""
    coll = folder_collection(music)
    flag = private_cache.parent / "flag"
    proc = start_voter(music, flag, "run")
    wait_for(flag, proc)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    reported = [int(line.split()[1]) for line in out.splitlines() if len(line.split()) == 2]
    stored = listening.votes(coll)
    assert len(reported) >= 6
    assert set(reported) <= {v["id"] for v in stored}
    assert len(reported) <= len(stored) <= len(reported) + 1
    for v in stored:
        assert_whole(v)
    with sqlite3.connect(private_cache / DB_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- trials ----------------------------------------------------------------------------------------------
def stored(ids: list[str], embeddings: np.ndarray) -> StoredResults:
    tracks = pd.DataFrame({"id": ids, "path": [f"/x/{i}.wav" for i in ids], "label": [None] * len(ids),
                           "duration": [30.0] * len(ids)})
    return StoredResults(tracks, embeddings.astype(np.float32), np.zeros((len(ids), 50), np.float32))


def test_a_trial_plays_each_taggers_nearest_other_track() -> None:
    """Two taggers of the same 8 tracks, in which track 1 and track 2 (a near copy of the seed in one tagger
    each) are the seed's nearest: every trial on seed 0 pairs them; the same generator state gives the
    same trial; the order they play in is drawn at random."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(8, 16))
    x, y = base.copy(), base.copy()
    x[1] = x[0] + 1e-3 * rng.normal(size=16)
    y[2] = y[0] + 1e-3 * rng.normal(size=16)
    ids = [f"t{i}" for i in range(8)]
    results = {"fcn": stored(ids, x), "crnn": stored(ids, y)}
    trials = [listening.pick_trial(results, np.random.default_rng([7, n])) for n in range(40)]
    assert trials == [listening.pick_trial(results, np.random.default_rng([7, n])) for n in range(40)]
    orders = set()
    for t in trials:
        assert t is not None and {t.tagger_a, t.tagger_b} == {"fcn", "crnn"}
        assert t.seed not in (t.track_a, t.track_b) and t.track_a != t.track_b
        mine = {"fcn": x, "crnn": y}
        for tagger, track in ((t.tagger_a, t.track_a), (t.tagger_b, t.track_b)):  # nearest in its own space
            assert track == ids[knn_sets(in_space(mine[tagger]), 1)[ids.index(t.seed), 0]]
        if t.seed == "t0":
            assert {(t.tagger_a, t.track_a), (t.tagger_b, t.track_b)} == {("fcn", "t1"), ("crnn", "t2")}
        orders.add(t.tagger_a)
    assert orders == {"fcn", "crnn"}


def test_no_trial_when_the_taggers_agree() -> None:
    """Two taggers that hear alike name the same nearest track for every seed: nothing to compare. A third
    one that differs is drawn instead; a single tagger is no pair."""
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(6, 8))
    ids = [f"t{i}" for i in range(6)]
    same = {"fcn": stored(ids, emb), "musicnn": stored(ids, emb * 2.0)}
    assert listening.pick_trial(same, np.random.default_rng(0)) is None
    other = rng.normal(size=(6, 8))
    t = listening.pick_trial(same | {"crnn": stored(ids, other)}, np.random.default_rng(0), attempts=200)
    assert t is not None and "crnn" in (t.tagger_a, t.tagger_b)
    assert listening.pick_trial({"fcn": stored(ids, emb)}, np.random.default_rng(0)) is None


def test_trials_only_among_tracks_both_taggers_have() -> None:
    """A track one tagger lacks is never a seed nor a neighbour of the pair."""
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(6, 8))
    ids = [f"t{i}" for i in range(6)]
    a = emb.copy()
    a[5] = a[0] + 1e-3  # t5, only stored for fcn, would be t0's nearest there
    results = {"fcn": stored(ids, a), "crnn": stored(ids[:5], rng.normal(size=(5, 8)))}
    for n in range(30):
        t = listening.pick_trial(results, np.random.default_rng(n))
        if t is not None:
            assert "t5" not in (t.seed, t.track_a, t.track_b)


# -- the CLI ---------------------------------------------------------------------------------------------
def test_cli_listening_json_and_text(music: Path, private_cache: Path) -> None:
    empty = run_cli("listening", "--collection", str(music))
    assert empty.returncode == 0 and "no listening votes yet" in empty.stdout
    coll = folder_collection(music)
    for i, (a, b, choice) in enumerate([("fcn", "crnn", "a")] * 7 + [("crnn", "fcn", "a")] * 3
                                       + [("crnn", "fcn", "same")] + [("musicnn", "crnn", "same")]):
        listening.record_vote(coll, trial(i, a, b), choice, "s1" if i < 6 else "s2")
    proc = run_cli("listening", "--collection", str(music), "--json")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)

    def no_nan(name):
        raise AssertionError(f"{name} in strict JSON")

    result = json.loads(proc.stdout, parse_constant=no_nan)  # one object
    assert (result["collection"], result["votes"], result["sessions"]) == (coll.key, 12, 2)
    fcn_crnn, musicnn_crnn = result["pairs"]
    ci = binomtest(7, 10).proportion_ci(0.95, method="wilson")
    assert fcn_crnn == {"a": "fcn", "b": "crnn", "votes": 11, "wins_a": 7, "wins_b": 3, "same": 1,
                        "fraction_a": 0.7, "ci_low": ci.low, "ci_high": ci.high,
                        "p_value": binomtest(7, 10).pvalue}
    assert musicnn_crnn["votes"] == musicnn_crnn["same"] == 1 and musicnn_crnn["ci_low"] is None
    assert '"ci_low": null' in proc.stdout
    text = run_cli("listening", "--collection", str(music))
    assert text.returncode == 0
    assert "12 votes from 2 listening sessions" in text.stdout
    assert any(line.startswith("FCN vs CRNN") and "7 – 3" in line and "0.70" in line and "0.40–0.89" in line
               for line in text.stdout.splitlines()), text.stdout


def test_cli_listening_missing_folder_is_one_line(tmp_path: Path, private_cache: Path) -> None:
    proc = run_cli("listening", "--collection", str(tmp_path / "nowhere"))
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("shrooms: error:")


def test_repair_keeps_the_votes(music: Path, private_cache: Path) -> None:
    """The store's salvage copies the tables other modules keep in its database: a repair loses no vote."""
    coll = folder_collection(music)
    session = listening.new_session()
    cast = [listening.record_vote(coll, trial(i), choice, session) for i, choice in enumerate(["a", "b", "same"])]
    before = listening.votes(coll)
    store = Store(coll)
    store.close()
    old = private_cache / "damaged.sqlite3"
    with sqlite3.connect(private_cache / DB_NAME) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (private_cache / DB_NAME).rename(old)
    for suffix in ("-wal", "-shm"):
        (private_cache / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
    Store(coll)._salvage(old)
    assert [v["id"] for v in listening.votes(coll)] == cast
    assert listening.votes(coll) == before
