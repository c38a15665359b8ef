"""Weights resolution: found on disk, downloaded (from a server this test starts on 127.0.0.1) with a
sha256 check and strict loading, or reported as unavailable with instructions."""

from __future__ import annotations

import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from shrooms.errors import ShroomsError, WeightsUnavailable
from shrooms.taggers import TAGGERS, download_weights, find_weights, load_tagger, missing_message
from shrooms.taggers.registry import TaggerSpec
from shrooms.taggers.weights import load_model

from .conftest import RELEASED, SHARED
from .helpers import run_cli


@pytest.fixture
def server(tmp_path: Path):
    """A static file server on 127.0.0.1 over `tmp_path/www`; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()


def test_released_weights_are_found_in_the_weights_dir() -> None:
    for key in RELEASED:
        found = find_weights(TAGGERS[key])
        assert found.resolve() == (SHARED / "weights" / "jamendo" / key / "best_model.pth").resolve()
    assert find_weights(TAGGERS["hcnn"]) is None


def test_registry_sha256_matches_the_published_sums() -> None:
    sums = dict(line.split()[::-1] for line in (SHARED / "weights" / "SHA256SUMS").read_text().splitlines())
    for key in RELEASED:
        assert TAGGERS[key].sha256 == sums[f"jamendo/{key}/best_model.pth"]


def test_download_checks_sha_loads_strictly_and_is_then_used(server, private_cache, monkeypatch) -> None:
    base, www = server
    src = SHARED / "weights" / "jamendo" / "crnn" / "best_model.pth"
    (www / "jamendo" / "crnn").mkdir(parents=True)
    shutil.copy(src, www / "jamendo" / "crnn" / "best_model.pth")
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(private_cache / "nowhere"))
    with pytest.raises(WeightsUnavailable, match="shrooms data weights crnn"):
        load_model(TAGGERS["crnn"])
    path = download_weights(TAGGERS["crnn"])
    assert path == private_cache / "weights" / "jamendo" / "crnn" / "best_model.pth"
    assert path.read_bytes() == src.read_bytes() and not list(path.parent.glob("*.part"))
    assert find_weights(TAGGERS["crnn"]) == path
    model, digest = load_model(TAGGERS["crnn"])
    assert isinstance(model, torch.nn.Module) and digest == TAGGERS["crnn"].sha256


def test_download_with_wrong_checksum_is_rejected(server, private_cache, monkeypatch) -> None:
    base, www = server
    (www / "jamendo" / "fcn").mkdir(parents=True)
    (www / "jamendo" / "fcn" / "best_model.pth").write_bytes(b"not the weights" * 100)
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    with pytest.raises(ShroomsError, match="sha256"):
        download_weights(TAGGERS["fcn"])
    assert not (private_cache / "weights" / "jamendo" / "fcn").exists() or \
        not any((private_cache / "weights" / "jamendo" / "fcn").iterdir())


def test_download_of_a_file_that_does_not_fit_the_model_is_rejected(server, private_cache, monkeypatch) -> None:
    """No sha256 is known for the four unreleased models: strict loading is the guard."""
    base, www = server
    (www / "jamendo" / "hcnn").mkdir(parents=True)
    shutil.copy(SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth", www / "jamendo" / "hcnn" / "best_model.pth")
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    with pytest.raises(ShroomsError, match="does not fit Harmonic CNN"):
        download_weights(TAGGERS["hcnn"])
    assert find_weights(TAGGERS["hcnn"]) is None


def test_offline_download_is_a_clear_error_via_the_cli(private_cache) -> None:
    proc = run_cli("data", "weights", "sample", env={"SHROOMS_WEIGHTS_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("shrooms: error: download of http://127.0.0.1:9/jamendo/sample/best_model.pth failed")


def test_missing_weights_message_names_model_and_remedy() -> None:
    message = missing_message(TAGGERS["attention"])
    assert "Self-attention CNN (attention): weights not available" in message
    assert "shrooms data weights attention" in message and "\n" not in message


def test_model_loads_are_cached_per_process() -> None:
    assert load_tagger("fcn") is load_tagger("fcn")


def test_weights_urls_point_upstream_unless_overridden(monkeypatch) -> None:
    from shrooms.taggers.weights import weights_url
    spec: TaggerSpec = TAGGERS["se"]
    monkeypatch.delenv("SHROOMS_WEIGHTS_URL", raising=False)
    assert weights_url(spec) == ("https://github.com/minzwon/sota-music-tagging-models/raw/master/"
                                 "models/jamendo/se/best_model.pth")
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", "http://127.0.0.1:9/mirror/")
    assert weights_url(spec) == "http://127.0.0.1:9/mirror/jamendo/se/best_model.pth"
