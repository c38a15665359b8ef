"""The library's edges (issue #20): audio arrays in soundfile's (n, channels) and librosa's (channels, n)
layouts, strict JSON (null and a note where a score is undefined, never a bare NaN), ShroomsError as a
ValueError, `cache_dir=` on every public function that uses the cache, argparse's errors as one line with
exit code 1, a missing pyarrow as one line, and a read-only cache as one line naming the file."""

from __future__ import annotations

import inspect
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import shrooms
from shrooms.cli import main
from shrooms.errors import ShroomsError
from shrooms.export import write_frame

from .audio_files import CLIPS, FORMATS, write_excerpt
from .helpers import assert_no_traceback, run_cli

STEREO = FORMATS / "brid_samba_stereo.wav"


def test_a_stereo_array_in_either_layout_is_tagged_as_its_file() -> None:
    """`sf.read` gives (n, 2), `librosa.load(mono=False)` gives (2, n): both equal the file's own tags."""
    assert sf.info(STEREO).channels == 2
    y, sr = sf.read(STEREO)
    assert y.shape[1] == 2 and y.shape[0] > 100_000
    from_file = shrooms.tag(STEREO, models="fcn")["fcn"]
    for layout in (y, y.T, y.astype(np.float32), np.asfortranarray(y.T)):
        out = shrooms.tag(layout, sr=sr, models="fcn")["fcn"]
        assert out.chunk_tags.shape == from_file.chunk_tags.shape
        np.testing.assert_allclose(out.tags, from_file.tags, rtol=0, atol=1e-5)
        np.testing.assert_allclose(out.embedding, from_file.embedding, rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", [(8, 8), (2, 6), (100, 100), (40, 50), (32, 32)])
def test_an_ambiguous_two_dimensional_shape_is_one_clear_error(shape) -> None:
    with pytest.raises(ShroomsError) as err:
        shrooms.tag(np.zeros(shape, np.float32), sr=16000, models="fcn")
    assert str(err.value) == (f"audio of shape {shape} is ambiguous: pass (n, channels) as soundfile.read returns it "
                              "or (channels, n) as librosa.load(mono=False) does, with more than 32 samples and at "
                              "most 32 channels")


@pytest.mark.parametrize("shape", [(0, 2), (2, 0), (0, 0)])
def test_an_empty_array_is_called_empty(shape) -> None:
    with pytest.raises(ShroomsError) as err:
        shrooms.valid_audio(np.zeros(shape, np.float32), 16000)
    assert str(err.value) == f"audio is empty (0 samples, shape {shape})"


def test_shrooms_errors_are_value_errors() -> None:
    """scikit-learn-style callers catch ValueError around input checks: they catch shrooms' errors too."""
    assert issubclass(ShroomsError, ValueError) and issubclass(shrooms.AudioError, ValueError)
    with pytest.raises(ValueError, match="audio must be floating point"):
        shrooms.tag(np.zeros(16000, np.int16), sr=16000, models="fcn")
    with pytest.raises(ValueError, match="must be a 2-D array"):
        shrooms.TagMap().fit(np.zeros(10))
    try:
        shrooms.tag(np.zeros((4, 4), np.float32), sr=16000)
    except ValueError as exc:  # the way a scikit-learn user writes it
        assert "ambiguous" in str(exc)


def no_nan(name: str):
    raise AssertionError(f"bare {name} in JSON")


def strict(text: str):
    return json.loads(text, parse_constant=no_nan)


@pytest.fixture(scope="module")
def lonely(tmp_path_factory) -> tuple[Path, Path]:
    """Real 4-s excerpts in three labels, one of them with a single track (no probe fold can hold it out),
    precomputed for FCN in a cache of its own: (folder, cache)."""
    root = tmp_path_factory.mktemp("lonely")
    clips = sorted(CLIPS.glob("*.flac"))
    for n, (label, i) in enumerate([("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2), ("c", 0)]):
        write_excerpt(clips[n % len(clips)], root / "music" / label / f"{label}{i}.wav", 4.0, offset=1.0 + i)
    cache = root / "cache"
    assert run_cli("precompute", "--collection", str(root / "music"), "--models", "fcn",
                   env={"SHROOMS_CACHE": str(cache)}).returncode == 0
    return root / "music", cache


def cli(capsys, monkeypatch, cache: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_json_has_null_and_a_note_where_the_probe_is_undefined(lonely, capsys, monkeypatch) -> None:
    music, cache = lonely
    code, out, err = cli(capsys, monkeypatch, cache, "report", "--json", "--models", "fcn", "--seeds", "2",
                         "--collection", str(music))
    assert code == 0, err
    fcn = strict(out)["models"]["fcn"]
    assert fcn["probe_accuracy"] is None and fcn["probe_accuracy_std"] is None
    assert fcn["notes"]["probe_accuracy"] == ("not computed: label 'c' has 1 track; the probe's stratified "
                                              "cross-validation needs at least 2 tracks in every label")
    assert fcn["n_tracks"] == 7 and isinstance(fcn["knn_accuracy"], float)
    code, text, _ = cli(capsys, monkeypatch, cache, "report", "--models", "fcn", "--seeds", "2",
                        "--collection", str(music))
    assert code == 0 and f"FCN probe accuracy: {fcn['notes']['probe_accuracy']}" in text.splitlines()
    assert text.splitlines()[2].split()[-1] == "n/a"  # the table's probe cell
    # the library answer is the same dict: no NaN in it either
    lib = shrooms.report(str(music), models="fcn", seeds=(0,), cache_dir=cache)
    assert lib["models"]["fcn"]["probe_accuracy"] is None


def test_place_study_and_export_json_are_strict(lonely, capsys, monkeypatch, tmp_path) -> None:
    music, cache = lonely
    song = write_excerpt(sorted(CLIPS.glob("*.flac"))[-1], tmp_path / "song.wav", 4.0)
    code, out, err = cli(capsys, monkeypatch, cache, "place", str(song), "--json", "--models", "fcn",
                         "--collection", str(music))
    assert code == 0, err
    assert set(strict(out)[str(song)]["fcn"]) >= {"xy", "novelty", "neighbours"}
    code, out, err = cli(capsys, monkeypatch, cache, "export", "--format", "json", "--collection", str(music))
    assert code == 0 and len(strict(out)) == 7
    code, out, err = cli(capsys, monkeypatch, cache, "study", "--json", "--models", "fcn", "--collection",
                         str(music), "--ood", str(music), "--out", str(tmp_path / "study"))
    assert code == 0, err
    assert set(strict(out)["models"]["fcn"]["groups"]) == {"a", "b"}  # c's one track is no group
    assert strict((tmp_path / "study" / "study.json").read_text()) == strict(out)


def test_json_safe_turns_every_non_finite_number_into_null_with_a_note() -> None:
    from shrooms.export import json_safe
    value = {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": np.float32("nan"), "notes": {"d": "why"}},
             "e": 0.5}
    safe = json_safe(value)
    assert safe == {"a": None, "b": [1.0, None], "c": {"d": None, "notes": {"d": "why"}}, "e": 0.5,
                    "notes": {"a": "not a number: undefined for these tracks"}}
    json.dumps(safe, allow_nan=False)


def test_every_public_function_that_uses_the_cache_takes_cache_dir(lonely, tmp_path, monkeypatch) -> None:
    """README: "Every function that touches the cache takes `cache_dir=`" -- and uses it."""
    for name in ("tag", "embed", "load_embeddings", "report", "status", "statuses", "place", "get_map",
                 "load_collection"):
        assert "cache_dir" in inspect.signature(getattr(shrooms, name)).parameters, name
    music, cache = lonely
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "elsewhere"))  # the default cache holds nothing
    coll = shrooms.load_collection(music, cache_dir=cache)
    assert len(coll.tracks) == 7
    shutil.rmtree(cache / "maps", ignore_errors=True)
    fitted = shrooms.get_map(str(music), "fcn", cache_dir=cache)
    assert fitted.embedding_.shape == (7, 2) and list((cache / "maps").rglob("*.pkl"))
    placed = shrooms.place([music / "a" / "a0.wav"], str(music), ["fcn"], k=3, cache_dir=cache)
    assert placed[0].error is None and len(placed[0].models["fcn"].neighbours) == 3
    assert {n.id for n in placed[0].models["fcn"].neighbours} <= {t.id for t in coll.tracks}
    with pytest.raises(ShroomsError, match="needs at least 4 tracks with embeddings"):
        shrooms.place([music / "a" / "a0.wav"], str(music), ["fcn"])  # the default cache: nothing there
    assert not (tmp_path / "elsewhere" / "maps").exists()


@pytest.mark.parametrize("args, message", [
    (["report", "--bogus"], "shrooms: error: unrecognized arguments: --bogus (see `shrooms --help`)"),
    (["report", "--seeds", "0"], "shrooms: error: argument --seeds: expected a whole number of at least 1, got '0' "
                                 "(see `shrooms report --help`)"),
    (["export", "--format", "xls"], "shrooms: error: argument --format: invalid choice: 'xls' (choose from 'csv', "
                                    "'json', 'parquet') (see `shrooms export --help`)"),
    ([], "shrooms: error: the following arguments are required: command (see `shrooms --help`)"),
])
def test_usage_errors_are_one_line_with_exit_code_1(args, message) -> None:
    """README: every error the user can cause is one line, exit code 1 -- argparse's too (it exits 2)."""
    proc = run_cli(*args)
    assert (proc.returncode, proc.stderr, proc.stdout) == (1, message + "\n", "")


def test_parquet_without_pyarrow_is_one_line() -> None:
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "import pandas as pd\n"
            "from shrooms.export import write_frame\n"
            "print(write_frame(pd.DataFrame({'id': ['a']}), 'csv').decode(), end='')\n"
            "write_frame(pd.DataFrame({'id': ['a']}), 'parquet')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout == "id\na\n"
    assert proc.stderr.strip().splitlines()[-1] == ("shrooms.errors.ShroomsError: Parquet export needs pyarrow: pip "
                                                    "install 'shrooms[parquet]' (or choose csv or json)")
    frame = pd.read_parquet(io.BytesIO(write_frame(pd.DataFrame({"id": ["a"]}), "parquet")))  # with pyarrow
    assert list(frame["id"]) == ["a"]


def unprivileged(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    """`shrooms ARGS…` as root without the capabilities that let root write to read-only files."""
    caps = "-dac_override,-dac_read_search,-fowner"
    return subprocess.run(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", sys.executable, "-m",
                           "shrooms.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SHROOMS_CACHE": str(cache)}, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root's override")
def test_a_read_only_cache_is_one_line_naming_the_file(lonely, tmp_path) -> None:
    """`data gtzan` and `precompute --repair` on a cache this user cannot write: one line, not
    "unexpected PermissionError"."""
    music, cache = lonely
    ro = Path(shutil.copytree(cache, tmp_path / "cache"))
    db = ro / "store.sqlite3"
    data = bytearray(db.read_bytes())
    data[8192:12288] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(data))
    subprocess.run(["chmod", "-R", "a-w", str(ro)], check=True)
    try:
        gtzan = unprivileged(["data", "gtzan", "--url", "http://127.0.0.1:9/genres.tar.gz"], ro)
        assert_no_traceback(gtzan)
        assert (gtzan.returncode, gtzan.stderr) == (1, f"shrooms: error: {ro}/downloads: Permission denied (the "
                                                       "folder or file is read-only for this user)\n")
        repair = unprivileged(["precompute", "--repair", "--models", "fcn", "--collection", str(music)], ro)
        assert_no_traceback(repair)
        assert repair.returncode == 1 and len(repair.stderr.splitlines()) == 1, repair.stderr
        assert repair.stderr.startswith("shrooms: error: ") and "unexpected" not in repair.stderr, repair.stderr
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(ro)], check=True)
