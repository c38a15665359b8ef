"""Weights resolution: found on disk and verified, downloaded (from a server this test starts on 127.0.0.1:
upstream first, the study's repository as the fallback) with a sha256 or git blob id check and strict
loading, or reported as unavailable with instructions."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import subprocess
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from shrooms.download import git_blob_id
from shrooms.errors import ShroomsError, WeightsUnavailable
from shrooms.taggers import TAGGERS, download_weights, find_weights, load_tagger, missing_message
from shrooms.taggers.registry import TaggerSpec
from shrooms.taggers.weights import load_model, weights_urls

from .conformance_models import manifest, synthetic_state_dict
from .conftest import RELEASED, SHARED
from .helpers import assert_no_traceback, run_cli


@pytest.fixture
def server(tmp_path: Path):
    """A static file server on 127.0.0.1 over `tmp_path/www`; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(Recording, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Recording.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()


class Recording(http.server.SimpleHTTPRequestHandler):
    """A static file server that records (path, status) of every request (404 for a missing file)."""

    requests: list[tuple[str, int]] = []

    def log_message(self, *args) -> None:
        pass

    def log_request(self, code="-", size="-") -> None:
        self.requests.append((self.path, int(code)))


def serve(www: Path, source: str, key: str, data: bytes) -> None:
    """Put `data` where `source` (a folder of the server) serves `key`'s checkpoint."""
    dest = www / source / "jamendo" / key / "best_model.pth"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def nothing_kept(cache: Path, key: str) -> bool:
    """No file at all (not even a partial download) in the cache's folder for `key`'s weights."""
    folder = cache / "weights" / "jamendo" / key
    return not folder.exists() or not any(folder.iterdir())


FCN = SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth"


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
    """Strict loading is the guard behind the digest: a file whose digest the registry expects (here, by a
    test's registry entry, the FCN checkpoint for hcnn) but that does not fit the network is not kept."""
    base, www = server
    serve(www, "", "hcnn", FCN.read_bytes())
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    spec = dataclasses.replace(TAGGERS["hcnn"], git_blob=git_blob_id(FCN))
    with pytest.raises(ShroomsError, match="does not fit Harmonic CNN"):
        download_weights(spec)
    assert find_weights(TAGGERS["hcnn"]) is None and nothing_kept(private_cache, "hcnn")


def test_registry_blob_ids_are_what_git_hash_object_prints() -> None:
    """The three released files in ../shared/weights hash (real `git hash-object`, and shrooms' own
    git_blob_id) to the ids the study's repository lists, so its ids for the other four are trusted too."""
    for key in RELEASED:
        path = SHARED / "weights" / "jamendo" / key / "best_model.pth"
        printed = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True,
                                 check=True).stdout.strip()
        assert TAGGERS[key].git_blob == printed == git_blob_id(path)
    assert all(len(spec.git_blob) == 40 and int(spec.git_blob, 16) >= 0 for spec in TAGGERS.values())
    assert len({spec.git_blob for spec in TAGGERS.values()}) == 7


def test_a_file_with_the_released_blob_id_is_accepted(server, private_cache, monkeypatch) -> None:
    """FCN's real checkpoint checked by its git blob id alone (the registry entry without its sha256, as
    for the four taggers without one); it is kept, loads, and is then the one found."""
    base, www = server
    serve(www, "upstream", "fcn", FCN.read_bytes())
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", f"{base}/upstream,{base}/study")
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(private_cache / "nowhere"))
    spec = dataclasses.replace(TAGGERS["fcn"], sha256=None)
    path = download_weights(spec)
    assert path.read_bytes() == FCN.read_bytes() and find_weights(spec) == path
    assert Recording.requests == [("/upstream/jamendo/fcn/best_model.pth", 200)]  # the fallback is not asked
    model, digest = load_model(spec)
    assert isinstance(model, torch.nn.Module) and digest == TAGGERS["fcn"].sha256


@pytest.mark.parametrize("checked_by", ["git blob id", "sha256"])
def test_one_byte_changed_is_refused_and_not_kept(server, private_cache, monkeypatch, checked_by) -> None:
    base, www = server
    data = bytearray(FCN.read_bytes())
    data[len(data) // 2] ^= 1
    serve(www, "", "fcn", bytes(data))
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    spec = TAGGERS["fcn"] if checked_by == "sha256" else dataclasses.replace(TAGGERS["fcn"], sha256=None)
    expected = spec.sha256 or spec.git_blob
    (www / "changed").write_bytes(bytes(data))
    actual = git_blob_id(www / "changed") if checked_by == "git blob id" else sha256_hex(bytes(data))
    with pytest.raises(ShroomsError) as refused:
        download_weights(spec)
    assert str(refused.value) == (f"FCN (fcn) weights: download of {base}/jamendo/fcn/best_model.pth gave another "
                                  f"file than expected ({checked_by} {actual}, expected {expected}): it was not kept")
    assert nothing_kept(private_cache, "fcn")


def sha256_hex(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def test_the_fallback_is_used_when_the_first_source_answers_404(server, private_cache, monkeypatch) -> None:
    base, www = server
    crnn = SHARED / "weights" / "jamendo" / "crnn" / "best_model.pth"
    serve(www, "study", "crnn", crnn.read_bytes())
    (www / "upstream").mkdir()
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", f"{base}/upstream,{base}/study")
    path = download_weights(TAGGERS["crnn"])
    assert path == private_cache / "weights" / "jamendo" / "crnn" / "best_model.pth"
    assert path.read_bytes() == crnn.read_bytes() and not list(path.parent.glob("*.part"))
    assert Recording.requests == [("/upstream/jamendo/crnn/best_model.pth", 404),
                                  ("/study/jamendo/crnn/best_model.pth", 200)]


def test_a_wrong_file_at_the_first_source_falls_back_and_every_failure_is_one_line(server, private_cache,
                                                                                   monkeypatch) -> None:
    base, www = server
    serve(www, "upstream", "fcn", b"a page that is not the checkpoint")
    serve(www, "study", "fcn", FCN.read_bytes())
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", f"{base}/upstream,{base}/study")
    assert download_weights(TAGGERS["fcn"]).read_bytes() == FCN.read_bytes()
    monkeypatch.setenv("SHROOMS_CACHE", str(private_cache.parent / "other-cache"))
    (www / "study" / "jamendo" / "fcn" / "best_model.pth").unlink()
    with pytest.raises(ShroomsError) as failed:
        download_weights(TAGGERS["fcn"])
    message = str(failed.value)
    assert "\n" not in message and message.startswith(
        f"FCN (fcn) weights: no source served the released file — download of {base}/upstream/jamendo/fcn/"
        f"best_model.pth gave another file than expected (sha256 ")
    assert message.endswith(f"expected {TAGGERS['fcn'].sha256}): it was not kept; download of {base}/study/jamendo/"
                            "fcn/best_model.pth failed: HTTP 404 File not found")
    assert nothing_kept(private_cache.parent / "other-cache", "fcn")


def test_a_checkpoint_on_disk_is_verified_by_blob_id_unless_the_user_opts_out(server, private_cache, tmp_path,
                                                                             monkeypatch) -> None:
    """The conformance fixtures' synthetic Sample-level CNN loads strictly but is not the released file: it
    is refused in one line, accepted for `SHROOMS_WEIGHTS_UNVERIFIED=sample` (own checkpoints) and, when
    served with its blob id registered as the expected one, downloaded, kept and loaded."""
    base, www = server
    weights = tmp_path / "weights"
    synthetic = weights / "jamendo" / "sample" / "best_model.pth"
    synthetic.parent.mkdir(parents=True)
    torch.save(synthetic_state_dict(manifest()["models"]["sample"]["synthetic_state_dict"]), synthetic)
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(weights))
    monkeypatch.delenv("SHROOMS_WEIGHTS_UNVERIFIED", raising=False)
    with pytest.raises(ShroomsError) as refused:
        load_model(TAGGERS["sample"])
    assert str(refused.value) == (f"{synthetic}: git blob id differs from the released sample checkpoint "
                                  f"({git_blob_id(synthetic)[:12]}…, expected db5bedf34a0e…; "
                                  "SHROOMS_WEIGHTS_UNVERIFIED=sample loads your own)")
    for opt_out in ("sample", "fcn,sample", "all"):
        monkeypatch.setenv("SHROOMS_WEIGHTS_UNVERIFIED", opt_out)
        assert isinstance(load_model(TAGGERS["sample"])[0], torch.nn.Module)
    monkeypatch.setenv("SHROOMS_WEIGHTS_UNVERIFIED", "1")
    with pytest.raises(ShroomsError, match=r"SHROOMS_WEIGHTS_UNVERIFIED names unknown taggers \(1\)"):
        load_model(TAGGERS["sample"])
    monkeypatch.delenv("SHROOMS_WEIGHTS_UNVERIFIED")
    # served, with its blob id as the registry's: the download is accepted and the file loads verified
    serve(www, "", "sample", synthetic.read_bytes())
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", base)
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(tmp_path / "nowhere"))
    spec = dataclasses.replace(TAGGERS["sample"], git_blob=git_blob_id(synthetic))
    path = download_weights(spec)
    assert path.read_bytes() == synthetic.read_bytes() and load_model(spec)[1] == sha256_hex(path.read_bytes())
    with pytest.raises(ShroomsError, match="git blob id differs from the released sample checkpoint"):
        load_model(TAGGERS["sample"])  # the real registry's id: still refused


def test_data_weights_gets_every_missing_tagger_and_names_each_failure(server, private_cache, tmp_path) -> None:
    """`shrooms data weights` (no keys): the taggers whose weights are found are left alone, the others are
    downloaded from the fallback when upstream lacks them; one error line per tagger no source has."""
    base, www = server
    weights = tmp_path / "weights"
    for key in ("fcn", "musicnn"):
        (weights / "jamendo" / key).mkdir(parents=True)
        (weights / "jamendo" / key / "best_model.pth").symlink_to(
            SHARED / "weights" / "jamendo" / key / "best_model.pth")
    serve(www, "study", "crnn", (SHARED / "weights" / "jamendo" / "crnn" / "best_model.pth").read_bytes())
    (www / "upstream").mkdir()
    proc = run_cli("data", "weights", env={"SHROOMS_WEIGHTS_URL": f"{base}/upstream,{base}/study",
                                           "SHROOMS_WEIGHTS_DIR": str(weights)})
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"fcn: already here, {weights / 'jamendo' / 'fcn' / 'best_model.pth'}",
                                        f"musicnn: already here, {weights / 'jamendo' / 'musicnn' / 'best_model.pth'}",
                                        f"crnn: {private_cache / 'weights' / 'jamendo' / 'crnn' / 'best_model.pth'}"]
    errors = proc.stderr.splitlines()
    assert [e.split(" weights: ")[0] for e in errors] == [
        "shrooms: error: Sample-level CNN (sample)", "shrooms: error: Sample-level CNN + SE (se)",
        "shrooms: error: Self-attention CNN (attention)", "shrooms: error: Harmonic CNN (hcnn)"]
    assert all(e.count("HTTP 404") == 2 for e in errors)
    assert (private_cache / "weights" / "jamendo" / "crnn" / "best_model.pth").is_file()


def test_data_weights_reports_a_wrong_file_it_finds(private_cache, tmp_path) -> None:
    """A file found in the weights folder that is not the released one is named in one line (not 'already
    here'), unless the user opted out for that tagger."""
    weights = tmp_path / "weights"
    wrong = weights / "jamendo" / "se" / "best_model.pth"
    wrong.parent.mkdir(parents=True)
    shutil.copy(FCN, wrong)
    env = {"SHROOMS_WEIGHTS_DIR": str(weights), "SHROOMS_WEIGHTS_URL": "http://127.0.0.1:9"}
    proc = run_cli("data", "weights", "se", env=env)
    assert_no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"shrooms: error: {wrong}: git blob id differs from the released se checkpoint "
                           "(d236c42b7757…, expected a4b55509c3af…; SHROOMS_WEIGHTS_UNVERIFIED=se loads your own)\n")
    proc = run_cli("data", "weights", "se", env={**env, "SHROOMS_WEIGHTS_UNVERIFIED": "se"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"se: already here, {wrong}\n", "")


def test_offline_download_is_a_clear_error_via_the_cli(private_cache) -> None:
    proc = run_cli("data", "weights", "sample", env={"SHROOMS_WEIGHTS_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("shrooms: error: Sample-level CNN (sample) weights: download of "
                                  "http://127.0.0.1:9/jamendo/sample/best_model.pth failed")
    assert len(proc.stderr.splitlines()) == 1 and "partial file" not in proc.stderr  # nothing came


def test_missing_weights_message_names_model_and_remedy() -> None:
    message = missing_message(TAGGERS["attention"])
    assert "Self-attention CNN (attention): weights not available" in message
    assert "shrooms data weights attention" in message and "\n" not in message


def test_model_loads_are_cached_per_process() -> None:
    assert load_tagger("fcn") is load_tagger("fcn")


def test_weights_urls_are_upstream_then_the_study_unless_overridden(monkeypatch) -> None:
    spec: TaggerSpec = TAGGERS["se"]
    monkeypatch.delenv("SHROOMS_WEIGHTS_URL", raising=False)
    assert weights_urls(spec) == [
        "https://github.com/minzwon/sota-music-tagging-models/raw/master/models/jamendo/se/best_model.pth",
        "https://raw.githubusercontent.com/Adhithyan8/musical-shrooms/master/models/jamendo/se/best_model.pth"]
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", "http://127.0.0.1:9/mirror/")
    assert weights_urls(spec) == ["http://127.0.0.1:9/mirror/jamendo/se/best_model.pth"]
    monkeypatch.setenv("SHROOMS_WEIGHTS_URL", "http://127.0.0.1:9/a, http://127.0.0.1:9/b/")
    assert weights_urls(spec) == ["http://127.0.0.1:9/a/jamendo/se/best_model.pth",
                                  "http://127.0.0.1:9/b/jamendo/se/best_model.pth"]
