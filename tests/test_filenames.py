"""Files in a collection (issue #20): any name the filesystem allows is a track like any other (a name that
is not UTF-8 included), entries named like audio that are no files (a FIFO, a symbolic link loop, a folder
named *.wav) are listed as left out with why, a text file named .mp3 makes no libmpg123 noise, and a report
that leaves tracks out (files changed since computed, a damaged row, a label folder gone) says which and why."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from shrooms.audio import decode, fs_path, text_path
from shrooms.cli import main
from shrooms.collections import folder_collection

from .audio_files import CLIPS, write_excerpt
from .conftest import ROOT
from .helpers import assert_no_traceback

# (label folder, file name) as bytes: a label and a file whose names are not UTF-8, and a valid non-ASCII one
NAMES = [(b"dance", b"d0.wav"), (b"dance", b"d1.wav"), (b"dance", "dañce.wav".encode()),
         (b"jazz", b"j0.wav"), (b"jazz", b"j1.wav"), (b"jazz", b"caf\xe9 \xff.wav"),
         (b"c\xf6untry", b"c0.wav"), (b"c\xf6untry", b"c1.wav")]
ODD_ID, ODD_LABEL = "jazz/caf\\xe9 \\xff", "c\\xf6untry"   # how shrooms writes them: \xNN for each such byte


def write_names(root: Path, names=NAMES) -> Path:
    """Real 4-s excerpts under the exact byte names given (soundfile cannot write to a non-UTF-8 name)."""
    clips = sorted(CLIPS.glob("*.flac"))
    for n, (label, name) in enumerate(names):
        tmp = write_excerpt(clips[n % len(clips)], root / "tmp.wav", 4.0, offset=1.0 + 0.5 * n)
        folder = os.path.join(os.fsencode(root), b"music", label)
        os.makedirs(folder, exist_ok=True)
        os.replace(tmp, os.path.join(folder, name))
    return root / "music"


def shrooms_cli(*args: str | bytes, cache: Path) -> subprocess.CompletedProcess:
    """The real command with byte arguments (as a shell passes a name that is not UTF-8); output as bytes."""
    return subprocess.run([os.fsencode(sys.executable), b"-m", b"shrooms.cli", *map(os.fsencode, args)],
                          capture_output=True, timeout=600, stdin=subprocess.DEVNULL,
                          env={**os.environ, "SHROOMS_CACHE": str(cache), "PYTHONIOENCODING": "utf-8:strict"})


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> tuple[Path, Path]:
    """8 real tracks, one file and one label folder named with bytes that are not UTF-8, precomputed for
    FCN by the real command: (folder, cache)."""
    root = tmp_path_factory.mktemp("names")
    music, cache = write_names(root), root / "cache"
    proc = shrooms_cli("precompute", "--collection", music, "--models", "fcn", cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[0].startswith("music: 8 tracks computed, 0 already cached, 0 unreadable")
    return music, cache


def test_a_name_that_is_not_utf8_is_text_and_back() -> None:
    raw = b"/music/caf\xe9 \\x41 \xff.wav"
    assert text_path(os.fsdecode(raw)) == "/music/caf\\xe9 \\x41 \\xff.wav"  # only bytes that are not UTF-8
    assert text_path("/music/dañce.wav") == "/music/dañce.wav" and text_path(raw) == text_path(os.fsdecode(raw))


def test_every_track_is_stored_and_its_name_is_text(odd) -> None:
    music, cache = odd
    coll = folder_collection(music)
    ids = [t.id for t in coll.tracks]
    assert len(ids) == 8 and ODD_ID in ids and "dance/dañce" in ids  # a valid name keeps its id (old stores)
    assert sorted(coll.labels) == [ODD_LABEL, "dance", "jazz"]
    odd_track = next(t for t in coll.tracks if t.id == ODD_ID)
    assert os.fsencode(odd_track.path).endswith(b"jazz/caf\xe9 \xff.wav")  # the real file, read by its bytes
    assert fs_path(text_path(odd_track.path)) == odd_track.path
    assert len(decode(text_path(odd_track.path)).samples) == len(decode(odd_track.path).samples) > 0
    frame = coll.frame()
    assert text_path(odd_track.path) in list(frame["path"])
    with closing(sqlite3.connect(cache / "store.sqlite3")) as conn:
        stored = {r[0] for r in conn.execute("SELECT track FROM results WHERE tagger = 'fcn'")}
    assert stored == set(ids)


def test_report_place_and_export_count_it(odd, tmp_path) -> None:
    music, cache = odd
    report = shrooms_cli("report", "--json", "--models", "fcn", "--seeds", "1", "--collection", music, cache=cache)
    assert report.returncode == 0, report.stderr
    fcn = json.loads(report.stdout)["models"]["fcn"]
    assert (fcn["n_tracks"], fcn["labels"], fcn["left_out"]["n"]) == (8, 3, 0)
    assert ODD_LABEL in fcn["tag_profiles"]["labels"]
    text = shrooms_cli("report", "--models", "fcn", "--seeds", "1", "--collection", music, cache=cache)
    assert text.returncode == 0 and f"  {ODD_LABEL} ".encode() in text.stdout, text.stderr
    odd_file = os.path.join(os.fsencode(music), b"jazz", b"caf\xe9 \xff.wav")
    for extra in (["--json"], []):
        place = shrooms_cli("place", odd_file, "--models", "fcn", "--collection", music, *extra, cache=cache)
        assert place.returncode == 0 and place.stderr == b"", place.stderr
        if extra:
            placed = json.loads(place.stdout)[text_path(odd_file)]["fcn"]
            assert placed["neighbours"][0]["id"] == ODD_ID  # its own track is its nearest
        else:
            assert f"nearest: {ODD_ID} (jazz, 0.000)".encode() in place.stdout
    tagged = shrooms_cli("tag", odd_file, "--models", "fcn", cache=cache)
    assert tagged.returncode == 0 and tagged.stdout.decode().splitlines()[0] == text_path(odd_file)
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"export.{fmt}"
        proc = shrooms_cli("export", "--collection", music, "--out", out, cache=cache)
        assert proc.returncode == 0, proc.stderr
        rows = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](out)
        assert len(rows) == 8 and ODD_ID in set(rows["id"]) and ODD_LABEL in set(rows["label"]), fmt


def test_explore_shows_and_plays_it(odd, monkeypatch) -> None:
    """The app's Explore page on the collection: the odd track is a point, searchable, playable."""
    from streamlit.testing.v1 import AppTest
    music, cache = odd
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    at = AppTest.from_file(str(ROOT / "app_pages" / "explore.py"), default_timeout=240)
    at.query_params["collection"] = str(music)
    at.query_params["tagger"] = "fcn"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    at.selectbox(key="explore_search").set_value(ODD_ID).run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert at.subheader[0].value == f"{ODD_ID} · jazz"
    assert len(at.get("audio")) == 1 + 5  # the track and its five neighbours, each played from its file


def test_entries_that_are_no_files_are_named_precisely(tmp_path, capfd) -> None:
    """A FIFO, a symbolic link loop and a folder named *.wav: one precise line each (not "no such file"),
    and inside a collection listed as left out with why; a text file named .mp3 makes no libmpg123 noise."""
    music = write_names(tmp_path, NAMES[:3] + NAMES[3:5])
    os.mkfifo(music / "jazz" / "pipe.wav")
    (music / "jazz" / "loop1.wav").symlink_to("loop2.wav")
    (music / "jazz" / "loop2.wav").symlink_to("loop1.wav")
    (music / "jazz" / "folder.wav").mkdir()
    (music / "dance" / "notes.mp3").write_text("this is not audio\n" * 50)
    capfd.readouterr()
    coll = folder_collection(music)
    assert "MPEG" not in capfd.readouterr().err  # libmpg123's "Illegal Audio-MPEG-Header" lines
    assert [t.id for t in coll.tracks] == ["dance/d0", "dance/d1", "dance/dañce", "dance/notes", "jazz/j0", "jazz/j1"]
    assert coll.skipped == [
        {"id": "jazz/folder", "path": str(music / "jazz" / "folder.wav"), "label": "jazz",
         "reason": "a folder, not an audio file"},
        {"id": "jazz/loop1", "path": str(music / "jazz" / "loop1.wav"), "label": "jazz",
         "reason": "a symbolic link loop, not an audio file"},
        {"id": "jazz/loop2", "path": str(music / "jazz" / "loop2.wav"), "label": "jazz",
         "reason": "a symbolic link loop, not an audio file"},
        {"id": "jazz/pipe", "path": str(music / "jazz" / "pipe.wav"), "label": "jazz",
         "reason": "a FIFO (named pipe), not an audio file"}]
    proc = subprocess.run([sys.executable, "-m", "shrooms.cli", "tag", str(music / "jazz" / "pipe.wav"),
                           str(music / "jazz" / "loop1.wav"), str(music / "jazz" / "folder.wav"),
                           str(music / "dance" / "notes.mp3"), str(music / "jazz" / "gone.wav"), "--models", "fcn"],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert_no_traceback(proc)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        f"shrooms: error: {music}/jazz/pipe.wav: a FIFO (named pipe), not an audio file",
        f"shrooms: error: {music}/jazz/loop1.wav: a symbolic link loop, not an audio file",
        f"shrooms: error: {music}/jazz/folder.wav: a folder, not an audio file",
        f"shrooms: error: {music}/dance/notes.mp3: not a readable audio file (no MPEG audio stream)",
        f"shrooms: error: {music}/jazz/gone.wav: no such file"]


def run(capsys, monkeypatch, cache: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_report_that_leaves_tracks_out_says_which_and_why(tmp_path, capsys, monkeypatch) -> None:
    """After a precompute: a file changes, a stored row rots, a label folder is removed, and a FIFO, a link
    loop and an unreadable file sit in the folder. The report scores what is valid and names the rest."""
    music = write_names(tmp_path, NAMES[:5] + [(b"jazz", b"j2.wav"), (b"country", b"c0.wav"), (b"country", b"c1.wav")])
    (music / "dance" / "notes.mp3").write_text("this is not audio\n" * 50)
    os.mkfifo(music / "jazz" / "pipe.wav")
    (music / "jazz" / "loop.wav").symlink_to("loop.wav")
    cache = tmp_path / "cache"
    code, out, _ = run(capsys, monkeypatch, cache, "precompute", "--collection", str(music), "--models", "fcn")
    assert code == 0 and out.splitlines()[0].startswith("music: 8 tracks computed, 0 already cached, 1 unreadable")
    assert out.splitlines()[2:] == ["  left out jazz/loop: a symbolic link loop, not an audio file",
                                    "  left out jazz/pipe: a FIFO (named pipe), not an audio file"]
    os.utime(music / "jazz" / "j0.wav", ns=(1, 1))  # changed since computed
    with closing(sqlite3.connect(cache / "store.sqlite3")) as conn, conn:  # a row that fails its checksum
        conn.execute("UPDATE results SET embedding = zeroblob(length(embedding)) WHERE track = 'dance/d1'")
    shutil.rmtree(music / "country")  # a label folder gone
    code, out, err = run(capsys, monkeypatch, cache, "report", "--models", "fcn", "--seeds", "1",
                         "--collection", str(music))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("music: 2 labels, k = 2,")
    assert lines[1] == ("left out: 7 tracks (1 damaged row: dance/d1; 1 unreadable: dance/notes; 1 changed since "
                        "computed: jazz/j0; 1 a symbolic link loop, not an audio file: jazz/loop; 1 a FIFO (named "
                        "pipe), not an audio file: jazz/pipe; 2 file gone: country/c0, country/c1)")
    assert lines[2] == "labels left out entirely: country (2 tracks)"
    code, out, err = run(capsys, monkeypatch, cache, "report", "--json", "--models", "fcn", "--seeds", "1",
                         "--collection", str(music))
    left = json.loads(out)["models"]["fcn"]["left_out"]
    assert json.loads(out)["models"]["fcn"]["n_tracks"] == 4  # d0, dañce, j1, j2
    assert left["reasons"] == {"damaged row": 1, "unreadable": 1, "changed since computed": 1,
                               "a symbolic link loop, not an audio file": 1,
                               "a FIFO (named pipe), not an audio file": 1, "file gone": 2}
    assert left["tracks"][0] == {"id": "dance/d1", "label": "dance", "reason": "damaged row"}
    assert left["labels"] == {"country": 2}


def test_a_link_to_the_servers_working_directory_is_refused_without_naming_it(tmp_path, monkeypatch) -> None:
    """`?collection=/proc/self/cwd`: refused as a system folder; no line of the page names the server's working
    directory (the link's target), nor does a refused link to a folder without audio name its target."""
    from streamlit.testing.v1 import AppTest
    secret = tmp_path / "server-secret-folder"
    (secret / "notes").mkdir(parents=True)
    (tmp_path / "link").symlink_to(secret)
    monkeypatch.chdir(secret)
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "cache"))
    for wanted in ("/proc/self/cwd", str(tmp_path / "link")):
        at = AppTest.from_file(str(ROOT / "app_pages" / "explore.py"), default_timeout=240)
        at.query_params["collection"] = wanted
        at.query_params["tagger"] = "hcnn"  # no weights: the page stops early, after the collection picker
        at.run()
        shown = [e.value for kind in ("info", "error", "warning", "caption", "markdown") for e in getattr(at, kind)]
        shown += [e.value for e in at.sidebar.error] + [e.value for e in at.sidebar.info]
        assert any(wanted in str(v) for v in shown), shown  # the refusal is there, naming what was asked
        assert not any("server-secret-folder" in str(v) for v in shown), shown
