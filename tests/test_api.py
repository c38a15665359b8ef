"""The notebook API: inputs checked at the edge with one clear error, `sr=` honoured, `cache_dir=` used,
one `status` for every state, and `import shrooms` without Streamlit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import shrooms
from shrooms.errors import ShroomsError

from .audio_files import COUNTRY, FORMATS
from .conftest import SHARED


def test_import_shrooms_does_not_import_streamlit() -> None:
    proc = subprocess.run([sys.executable, "-c", "import shrooms, sys; assert 'streamlit' not in sys.modules; "
                           "print(len(shrooms.__all__))"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 10


@pytest.mark.parametrize("audio, sr, message", [
    (np.zeros(16000, np.float32), None, "an audio array needs its sample rate: pass sr= (in Hz)"),
    (np.zeros(16000, np.float32), 0, "sr must be a whole number of Hz from 1,000 to 768,000, got 0"),
    (np.zeros(16000, np.float32), 44100.0, "sr must be a whole number of Hz from 1,000 to 768,000, got 44100.0"),
    (np.zeros(16000, np.float32), 4_000_000_000, "sr must be a whole number of Hz from 1,000 to 768,000, got 4000000000"),
    (np.zeros(16000, np.int16), 16000, "audio must be floating point (e.g. float32 in [-1, 1]), got dtype int16"),
    (np.zeros((2, 2, 100), np.float32), 16000, "audio must have shape (n,), (n, channels) or (channels, n), got shape (2, 2, 100)"),
    (np.zeros(0, np.float32), 16000, "audio is empty (0 samples)"),
    (np.array([0.0, np.nan, 0.0], np.float32), 16000, "audio contains NaN or infinite samples"),
    ([0.0, 0.1], 16000, "audio must be a numpy array, got list"),
])
def test_tag_rejects_bad_arrays_with_one_clear_error(audio, sr, message) -> None:
    with pytest.raises(ShroomsError) as err:
        shrooms.tag(audio, sr=sr, models="fcn")
    assert str(err.value) == message


def test_tag_rejects_sr_with_a_file_and_unknown_taggers() -> None:
    with pytest.raises(ShroomsError, match="sr= is for audio arrays"):
        shrooms.tag(COUNTRY, sr=22050, models="fcn")
    with pytest.raises(ShroomsError, match="unknown tagger 'vgg': choose one of fcn, musicnn"):
        shrooms.tag(COUNTRY, models="vgg")


def test_tag_resamples_arrays_at_their_own_rate() -> None:
    """A 44.1-kHz array tagged with sr=44100 equals the same file tagged from disk; claiming 16 kHz for
    it (the mistake `sr=` exists to prevent) gives different tags."""
    path = FORMATS / "rwc_jazz_m01.wav"
    samples, sr = sf.read(path, dtype="float32")
    assert sr == 44100
    from_file = shrooms.tag(path, models="musicnn")["musicnn"]
    from_array = shrooms.tag(samples, sr=sr, models="musicnn")["musicnn"]
    np.testing.assert_allclose(from_array.tags, from_file.tags, rtol=0, atol=1e-6)
    assert from_array.chunk_tags.shape == from_file.chunk_tags.shape
    wrong = shrooms.tag(samples, sr=16000, models="musicnn")["musicnn"]
    assert wrong.chunk_tags.shape[0] > from_file.chunk_tags.shape[0]  # 2.75x longer as "16 kHz"


def labelled_folder(root: Path) -> Path:
    """Real recordings in two label folders (links, not copies)."""
    for label, names in {"indian": ["carnatic_varnam_abhogi.mp3", "hindustani_raag_bairagi.mp3",
                                    "carnatic_saraga_bhuvini_dasudane.mp3"],
                         "western": ["rwc_jazz_m01.wav", "fma_000010.mp3", "jamendo_948.mp3"]}.items():
        (root / label).mkdir(parents=True)
        for name in names:
            (root / label / name).symlink_to(FORMATS / name)
    return root


def test_embed_uses_the_cache_dir_given_and_reuses_it(tmp_path, monkeypatch) -> None:
    folder = labelled_folder(tmp_path / "music")
    cache = tmp_path / "my-cache"
    result = shrooms.embed(folder, models=["fcn"], cache_dir=cache, progress=False)
    assert result.embeddings["fcn"].shape == (6, 64) and result.tags["fcn"].shape == (6, 50)
    assert sorted(set(result.labels)) == ["indian", "western"]
    assert any(cache.rglob("*")), "nothing was written to the cache_dir given"
    from shrooms.taggers import Tagger

    def no_model_work(*args, **kwargs):
        raise AssertionError("recomputed although the cache_dir holds the results")

    monkeypatch.setattr(Tagger, "predict_chunks", no_model_work)
    again = shrooms.embed(folder, models="fcn", cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again.embeddings["fcn"], result.embeddings["fcn"])


def test_embed_of_files_is_in_memory_and_lists_failures(tmp_path) -> None:
    bad = tmp_path / "notes.mp3"
    bad.write_text("not audio")
    result = shrooms.embed([FORMATS / "rwc_jazz_m01.wav", bad, COUNTRY], models="fcn")
    assert list(result.tracks["id"]) == ["rwc_jazz_m01", "country.00000"]
    assert result.embeddings["fcn"].shape == (2, 64)
    assert [f["id"] for f in result.failed] == ["notes"]


def weights_folder(root: Path, corrupt: str | None = None) -> Path:
    for key in ("fcn", "musicnn", "crnn"):
        dest = root / "jamendo" / key / "best_model.pth"
        dest.parent.mkdir(parents=True)
        if key == corrupt:
            dest.write_bytes(b"this is not a checkpoint")
        else:
            dest.symlink_to(SHARED / "weights" / "jamendo" / key / "best_model.pth")
    return root


def test_status_names_each_state(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(weights_folder(tmp_path / "weights", corrupt="crnn")))
    folder = labelled_folder(tmp_path / "music")
    cache = tmp_path / "cache"
    before = shrooms.statuses(str(folder), cache_dir=cache)
    assert {k: s.state for k, s in before.items()} == {
        "fcn": "not computed", "musicnn": "not computed", "crnn": "bad weights", "sample": "no weights",
        "se": "no weights", "attention": "no weights", "hcnn": "no weights"}
    assert before["fcn"].message.endswith(f"(0 of 6 tracks): run `shrooms precompute --collection {folder} "
                                          "--models fcn`")
    assert before["crnn"].message.endswith("best_model.pth: sha256 differs from the released crnn checkpoint")
    with pytest.raises(ShroomsError, match=r"is not computed for FCN \(0 of 6 tracks\)"):
        shrooms.load_embeddings(str(folder), "fcn", cache_dir=cache)  # not an empty frame
    # a corrupt checkpoint stops that tagger only
    from shrooms.precompute import precompute
    with shrooms.using_cache(cache):
        summary = precompute(shrooms.load_collection(str(folder)), None, show_bar=False)
    assert summary.computed == 6 and sorted(summary.unavailable) == ["attention", "crnn", "hcnn", "sample", "se"]
    assert [line for line in summary.lines() if "tagger crnn" in line] == [
        f"  skipped tagger crnn: {tmp_path}/weights/jamendo/crnn/best_model.pth: sha256 differs from the "
        "released crnn checkpoint"]
    embedded = shrooms.embed(folder, models=["fcn"], cache_dir=cache, progress=False)
    assert embedded.embeddings["fcn"].shape[0] == 6
    after = shrooms.status(str(folder), "fcn", cache_dir=cache)
    assert (after.state, after.stored, after.total, after.ready) == ("ready", 6, 6, True)
    with pytest.raises(ShroomsError, match="CRNN: bad weights: "):
        shrooms.load_embeddings(str(folder), "crnn", cache_dir=cache)
    tracks, emb = shrooms.load_embeddings(str(folder), "fcn", cache_dir=cache)
    assert emb.shape == (6, 64) and len(tracks) == 6


def test_default_cache_is_per_user_outside_a_checkout(tmp_path, monkeypatch) -> None:
    """Installed normally (no checkout), the cache is the per-user folder, never the working directory."""
    from shrooms import config
    monkeypatch.delenv("SHROOMS_CACHE", raising=False)
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == tmp_path / "xdg" / "shrooms"
    with config.using_cache(tmp_path / "chosen"):
        assert config.cache_dir() == tmp_path / "chosen"
    assert config.cache_dir() == tmp_path / "xdg" / "shrooms"


def test_report_header_counts_the_labels_the_scores_used(tmp_path) -> None:
    """A label folder whose only file is unreadable is not a label of the scores: k and chance follow
    the tracks that were scored."""
    folder = labelled_folder(tmp_path / "music")
    (folder / "broken").mkdir()
    (folder / "broken" / "notes.wav").write_text("not audio")
    from shrooms.analysis import report
    with shrooms.using_cache(tmp_path / "cache"):
        coll = shrooms.load_collection(str(folder))
        shrooms.embed(coll, models="fcn", progress=False)
        result = report(coll, ["fcn"], seeds=(0,))
    assert len(coll.labels) == 3
    assert (result["labels"], result["k"], result["chance"]) == (2, 2, 0.5)
    assert result["models"]["fcn"]["n_tracks"] == 6
