"""Home gets the data, in Chromium: "Get GTZAN" and "Get the weights" against a server this test starts on
127.0.0.1, with a progress bar; the weights come from the second source when the first has none, a file
that is not the released one is refused and not kept; a GTZAN download cut off half-way is one error line
and the next click resumes it (an HTTP Range request), extracts it, and offers GTZAN for computing."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
import time

import pytest
import soundfile as sf

from shrooms.taggers import TAGGERS

from .audio_files import FORMATS
from .browser import chromium, no_traceback, settle, skip_without_chromium, streamlit
from .conftest import SHARED

pytestmark = skip_without_chromium


class Files(http.server.BaseHTTPRequestHandler):
    """Serves `files` with Range support, slowly (so the progress bar shows), and can cut a response off
    half-way once per path in `cut`. Records the Range header of every request."""

    files: dict[str, bytes] = {}
    cut: set[str] = set()
    ranges: list[str | None] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers["Range"] else 0
        self.ranges.append(self.headers["Range"])
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        stop = len(body) // 2 if self.path in self.cut else len(body)
        self.cut.discard(self.path)
        for at in range(0, stop, 1 << 18):
            self.wfile.write(body[at:min(at + (1 << 18), stop)])
            time.sleep(0.15)
        self.close_connection = True


def gtzan_archive() -> bytes:
    """A GTZAN-layout tar.gz (genres/<genre>/<genre>.000NN.wav) of real recordings: 10-s excerpts."""
    out = io.BytesIO()
    songs = {"jazz": ["rwc_jazz_m01.wav", "brid_samba_stereo.wav"],
             "country": [SHARED / "data" / "gtzan-sample" / "country" / "country.00000.wav",
                         "billboard_james_brown.flac"]}
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for genre, files in songs.items():
            for n, song in enumerate(files):
                samples, sr = sf.read(FORMATS / song if isinstance(song, str) else song, dtype="int16",
                                      frames=220500, always_2d=True)
                wav = io.BytesIO()
                sf.write(wav, samples[:, 0], sr, format="WAV")
                info = tarfile.TarInfo(f"genres/{genre}/{genre}.{n:05d}.wav")
                info.size = len(wav.getvalue())
                tar.addfile(info, io.BytesIO(wav.getvalue()))
    return out.getvalue()


@pytest.fixture(scope="module")
def files_server():
    released = SHARED / "weights" / "jamendo"
    fcn = bytearray((released / "fcn" / "best_model.pth").read_bytes())
    fcn[1000] ^= 1  # one byte changed
    Files.files = {"/genres.tar.gz": gtzan_archive(),
                   "/upstream/jamendo/fcn/best_model.pth": bytes(fcn),  # the second source has no FCN
                   "/study/jamendo/crnn/best_model.pth": (released / "crnn" / "best_model.pth").read_bytes()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def app(files_server, tmp_path_factory, demo_collection):
    """The app with an empty cache (the session's demo linked in) and no weights, downloading from files_server."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "datasets").mkdir()
    (cache / "datasets" / "demo").symlink_to(demo_collection.root)
    env = {"SHROOMS_CACHE": str(cache), "SHROOMS_WEIGHTS_DIR": str(cache / "no-weights"),
           "SHROOMS_GTZAN_URL": f"{files_server}/genres.tar.gz", "SHROOMS_GTZAN": "",
           "SHROOMS_WEIGHTS_URL": f"{files_server}/upstream,{files_server}/study"}  # two sources, in order
    with streamlit(env) as (base, _, _), chromium() as browser:
        yield base, browser, cache


def test_get_the_weights_downloads_what_the_server_has_and_says_what_failed(files_server, app) -> None:
    base, browser, cache = app
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base)
    page.get_by_role("button", name="Get the weights (7 taggers without them)").click(timeout=120_000)
    page.wait_for_selector("text=/(FCN|CRNN) weights: [0-9.]+ \\/ [0-9.]+ MB · [0-9.]+ MB\\/s/", timeout=60_000)
    page.wait_for_selector("text=Downloaded: CRNN", timeout=180_000)
    settle(page)
    errors = [e.inner_text().strip() for e in page.query_selector_all("[data-testid='stAlertContentError']")]
    assert len(errors) == 6 and all("\n" not in e for e in errors), "\n".join(errors)
    fcn, others = errors[0], errors[1:]
    assert ("FCN (fcn) weights: no source served the released file — download of "
            f"{files_server}/upstream/jamendo/fcn/best_model.pth gave another file than expected (sha256 ") in fcn
    assert f"expected {TAGGERS['fcn'].sha256}): it was not kept; download of {files_server}/study/" in fcn
    assert all(e.count("HTTP 404") == 2 for e in others), others
    no_traceback(page)
    assert (cache / "weights" / "jamendo" / "crnn" / "best_model.pth").read_bytes() == \
        Files.files["/study/jamendo/crnn/best_model.pth"]
    assert not (cache / "weights" / "jamendo" / "fcn").exists() or \
        not any((cache / "weights" / "jamendo" / "fcn").iterdir()), "the refused file is not kept"
    label = page.get_by_role("button", name="Get the weights").inner_text()
    assert "6 taggers" in label  # CRNN is no longer missing
    page.close()


def test_get_gtzan_cut_off_then_resumed_then_offered_for_computing(app) -> None:
    base, browser, cache = app
    Files.cut.add("/genres.tar.gz")
    Files.ranges.clear()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base)
    page.get_by_role("button", name="Get GTZAN (1.2 GB)").click(timeout=120_000)
    page.wait_for_selector("text=/GTZAN: [0-9.]+ \\/ [0-9.]+ MB · [0-9.]+ MB\\/s/", timeout=60_000)  # the progress bar
    error = page.wait_for_selector("[data-testid='stAlertContentError']", timeout=120_000)
    assert "was cut off" in error.inner_text() and "\n" not in error.inner_text().strip()
    no_traceback(page)
    assert list((cache / "downloads").glob("*.part")), "the partial download is kept"
    settle(page)
    page.get_by_role("button", name="Get GTZAN (1.2 GB)").click()
    # offered for computing (with the weights the test before downloaded)
    page.wait_for_selector("text=/Compute embeddings for crnn/", timeout=90_000)
    settle(page)
    no_traceback(page)
    assert Files.ranges[0] is None and Files.ranges[1].startswith("bytes=") and Files.ranges[1] != "bytes=0-"
    assert "GTZAN: 4 tracks, 2 labels" in page.locator("[data-testid='stSidebar']").inner_text()
    assert sorted(p.name for p in (cache / "datasets" / "gtzan").rglob("*.wav")) == [
        "country.00000.wav", "country.00001.wav", "jazz.00000.wav", "jazz.00001.wav"]
    assert not list((cache / "datasets").glob(".gtzan-*")), "no staging folder left"
    assert "collection=gtzan" in page.url
    page.close()
