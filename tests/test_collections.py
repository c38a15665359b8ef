"""Collections: GTZAN in both layouts, any folder, the generated demo, and GTZAN's download."""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import tarfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import soundfile as sf

from shrooms.collections import MARKER, find_gtzan, folder_collection, gtzan_collection, load_collection
from shrooms.demo import CLIPS_PER_STYLE, STYLES, ensure_demo
from shrooms.errors import ShroomsError

from .audio_files import CLIPS, COUNTRY, make_gtzan, write_excerpt
from .helpers import run_cli


@pytest.mark.parametrize("layout", ["genres", "Data/genres_original"])
def test_gtzan_is_found_in_both_layouts_with_labels_and_ids(tmp_path, layout, monkeypatch) -> None:
    make_gtzan(tmp_path / "GTZAN", layout)
    monkeypatch.setenv("SHROOMS_GTZAN", str(tmp_path / "GTZAN"))
    coll = gtzan_collection()
    assert [t.id for t in coll.tracks] == ["country.00000", "country.00001", "jazz.00000", "jazz.00001",
                                           "pop.00000", "pop.00001"]
    assert [t.label for t in coll.tracks] == ["country"] * 2 + ["jazz"] * 2 + ["pop"] * 2
    assert coll.labels == ["country", "jazz", "pop"]
    assert all(t.duration == pytest.approx(sf.info(t.path).duration) and 4.9 < t.duration <= 6.0 for t in coll.tracks)
    assert load_collection(str(tmp_path / "GTZAN")).key == "gtzan"  # a GTZAN folder given as a path


def test_gtzan_missing_is_a_clear_error(private_cache, monkeypatch) -> None:
    monkeypatch.delenv("SHROOMS_GTZAN", raising=False)
    with pytest.raises(ShroomsError, match="shrooms data gtzan"):
        gtzan_collection()


def test_folder_subfolders_are_labels_and_flat_is_unlabelled(tmp_path) -> None:
    root = tmp_path / "music"
    write_excerpt(CLIPS / "jtd_trio.flac", root / "jazz" / "trio.wav", 3.0)
    write_excerpt(CLIPS / "ballroom_waltz.flac", root / "dance" / "waltz.wav", 3.0)
    write_excerpt(CLIPS / "vocadito_1.flac", root / "loose.wav", 3.0)
    (root / "jazz" / "notes.txt").write_text("not music")
    coll = folder_collection(root)
    assert coll.kind == "folder" and coll.labels == ["dance", "jazz"]
    assert [(t.id, t.label) for t in coll.tracks] == [("dance/waltz", "dance"), ("jazz/trio", "jazz"),
                                                      ("loose", None)]
    assert coll.key == folder_collection(root).key  # stable
    flat = folder_collection(root / "jazz")
    assert flat.labels == [] and [t.id for t in flat.tracks] == ["trio"]
    with pytest.raises(ShroomsError, match="no such folder"):
        folder_collection(tmp_path / "nope")


def test_demo_is_generated_identically_twice(tmp_path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for f in sorted(root.rglob("*.wav")):
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
        return h.hexdigest()
    a, b = ensure_demo(tmp_path / "a"), ensure_demo(tmp_path / "b")
    assert len(list(a.rglob("*.wav"))) == len(STYLES) * CLIPS_PER_STYLE == 48
    assert digest(a) == digest(b)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one archive with HTTP Range support; the first request is cut off half-way."""

    payload = b""
    cut_first = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if RangeHandler.cut_first:
            RangeHandler.cut_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def gtzan_archive(tmp_path: Path) -> bytes:
    """A tiny GTZAN-layout tar.gz of real recordings."""
    make_gtzan(tmp_path / "src")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "genres", arcname="genres")
    return buffer.getvalue()


@contextmanager
def serving(payload: bytes, cut_first: bool):
    """The URL of `payload` served from 127.0.0.1 while the block runs."""
    RangeHandler.payload, RangeHandler.cut_first = payload, cut_first
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/genres.tar.gz"
    finally:
        server.shutdown()


def test_gtzan_download_resumes_checks_and_extracts(tmp_path, private_cache) -> None:
    payload = gtzan_archive(tmp_path)
    sha = hashlib.sha256(payload).hexdigest()
    with serving(payload, cut_first=True) as url:
        first = run_cli("data", "gtzan", "--url", url, "--sha256", sha)
        assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
        assert "cut off" in first.stderr
        partial = private_cache / "downloads" / "genres.tar.gz.part"
        assert 0 < partial.stat().st_size < len(payload)
        assert find_gtzan(private_cache / "datasets" / "gtzan") is None
        second = run_cli("data", "gtzan", "--url", url, "--sha256", sha)
        assert second.returncode == 0, second.stderr
    coll = gtzan_collection(private_cache / "datasets" / "gtzan")
    assert len(coll.tracks) == 6 and coll.labels == ["country", "jazz", "pop"]
    assert not partial.exists() and not list((private_cache / "datasets").glob(".gtzan-*"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_gtzan_download_never_replaces_a_folder_shrooms_did_not_make(tmp_path, private_cache) -> None:
    """`--to ~/Music` used to delete ~/Music: now a folder holding the user's files is refused with one line
    and left as it was; an empty folder is filled; a copy shrooms made is kept, or replaced when broken."""
    music = tmp_path / "Music"
    (music / "albums").mkdir(parents=True)
    (music / "song.mp3").write_bytes(COUNTRY.read_bytes()[:5000])
    (music / "albums" / "notes.txt").write_text("mine")
    before = snapshot(music)
    with serving(gtzan_archive(tmp_path), cut_first=False) as url:
        refused = run_cli("data", "gtzan", "--to", str(music), "--url", url)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr == (f"shrooms: error: {music}: not empty and not a GTZAN copy made by shrooms: "
                                  "choose a new or empty folder (nothing was changed)\n")
        assert snapshot(music) == before
        fresh = tmp_path / "empty"
        fresh.mkdir()
        made = run_cli("data", "gtzan", "--to", str(fresh), "--url", url)
        assert made.returncode == 0, made.stderr
        assert (fresh / MARKER).is_file() and len(gtzan_collection(fresh).tracks) == 6
        again = run_cli("data", "gtzan", "--to", str(fresh), "--url", url)
        assert again.returncode == 0 and again.stdout == made.stdout
        shutil.rmtree(fresh / "genres")  # a shrooms copy, broken: replaced by a fresh extraction
        (fresh / "genres").mkdir()
        replaced = run_cli("data", "gtzan", "--to", str(fresh), "--url", url)
        assert replaced.returncode == 0, replaced.stderr
    assert len(gtzan_collection(fresh).tracks) == 6
    assert snapshot(music) == before and not list(tmp_path.glob(".gtzan-*"))


def test_each_gtzan_copy_has_its_own_cache_key(tmp_path, monkeypatch) -> None:
    make_gtzan(tmp_path / "a")
    make_gtzan(tmp_path / "b", layout="Data/genres_original")
    monkeypatch.setenv("SHROOMS_GTZAN", str(tmp_path / "a"))
    assert load_collection("gtzan").key == "gtzan" == load_collection(str(tmp_path / "a")).key
    other = load_collection(str(tmp_path / "b"))
    assert other.kind == "gtzan" and other.key.startswith("gtzan-genres_original-")
    assert other.key == load_collection(str(tmp_path / "b" / "Data" / "genres_original")).key
    monkeypatch.setenv("SHROOMS_GTZAN", str(tmp_path / "b"))
    assert load_collection(str(tmp_path / "b")).key == "gtzan" != load_collection(str(tmp_path / "a")).key
