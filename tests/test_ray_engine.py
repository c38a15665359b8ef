"""The Ray engine on a local Ray cluster started by the test (never a remote address): the same rows as
the local engine with as many torch threads as each actor, bit for bit, after a worker crashes and after the
driver is killed (and within 1e-5 of a local run with another thread count); claims shared with other runs;
`--repair` with the engine and taggers asked for."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

pytest.importorskip("ray")

from shrooms.collections import folder_collection  # noqa: E402
from shrooms.config import using_cache  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.store import Store  # noqa: E402
from shrooms.taggers import TAGGERS, load_tagger  # noqa: E402

from .audio_files import FORMATS  # noqa: E402
from .conftest import SHARED  # noqa: E402
from .conformance_models import manifest, synthetic_state_dict  # noqa: E402

# Two released taggers and the sample-level CNN with the conformance fixtures' synthetic weights: its
# results move with the torch thread count on every CPU tried (up to 3.3e-6 between 1 and 2 threads on an
# AMD EPYC, where FCN's and Musicnn's do not), so comparing equal thread counts matters on any machine
KEYS = ["fcn", "musicnn", "sample"]


@pytest.fixture(scope="module", autouse=True)
def weights(tmp_path_factory) -> Path:
    """A weights folder for this module's runs (and the Ray workers they start): the released FCN and
    Musicnn, the synthetic sample-level CNN (accepted unverified)."""
    import torch
    root = tmp_path_factory.mktemp("ray-weights")
    for key in ("fcn", "musicnn"):
        (root / TAGGERS[key].weights_path).parent.mkdir(parents=True)
        (root / TAGGERS[key].weights_path).symlink_to(SHARED / "weights" / TAGGERS[key].weights_path)
    (root / TAGGERS["sample"].weights_path).parent.mkdir(parents=True)
    torch.save(synthetic_state_dict(manifest()["models"]["sample"]["synthetic_state_dict"]),
               root / TAGGERS["sample"].weights_path)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHROOMS_WEIGHTS_DIR", str(root))
        env.setenv("SHROOMS_WEIGHTS_UNVERIFIED", "sample")
        yield root


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    """Eight real recordings (2-s excerpts and 30-s clips) in two label folders, as links."""
    root = tmp_path_factory.mktemp("ray-music")
    groups = {"asia": [FORMATS / "carnatic_varnam_abhogi.mp3", FORMATS / "hindustani_raag_bairagi.mp3",
                       FORMATS / "jingju_laosheng.wav", SHARED / "conformance" / "clips" / "simac_rallou.flac"],
              "west": [FORMATS / "rwc_jazz_m01.wav", FORMATS / "fma_000010.mp3", FORMATS / "jamendo_948.mp3",
                       SHARED / "conformance" / "clips" / "gtzan_country_00000.flac"]}
    for label, files in groups.items():
        (root / label).mkdir()
        for f in files:
            (root / label / f.name).symlink_to(f)
    return root


def rows(cache: Path, music: Path) -> dict[str, dict]:
    """Every stored row of the collection, per tagger: pooled and per-chunk arrays."""
    with using_cache(cache):
        coll = folder_collection(music)
        store = Store(coll)
        out = {key: {t.id: store.read(key, t.id) for t in coll.tracks} for key in KEYS}
        store.close()
    return out


FIELDS = ("tags", "embedding", "chunk_tags", "chunk_embeddings")
# How far rows computed with different torch thread counts may drift: oneDNN may pick other convolution
# kernels for another thread count on some CPUs (seen on an Intel Xeon: 1.7e-6; 0.0 on an AMD EPYC, where
# its AVX2 and AVX-512 kernels differ by up to 1.7e-6)
THREADS_TOLERANCE = 1e-5


def assert_same_rows(a: dict, b: dict, atol: float = 0.0) -> None:
    """Every row of `a` equals `b`'s: bit for bit, or within `atol` (absolute)."""
    for key in KEYS:
        assert a[key].keys() == b[key].keys()
        for track, x in a[key].items():
            y = b[key][track]
            assert x is not None and y is not None, (key, track)
            for field in FIELDS:
                if atol:
                    np.testing.assert_allclose(getattr(x, field), getattr(y, field), rtol=0, atol=atol,
                                               err_msg=f"{key} {track} {field}")
                else:
                    np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=f"{key} {track} {field}")


@pytest.fixture(scope="module")
def local_rows(music, tmp_path_factory) -> Callable[[int], dict]:
    """The local engine's rows with `threads` torch threads (each thread count computed once)."""
    import torch
    done: dict[int, dict] = {}

    def with_threads(threads: int) -> dict:
        if threads not in done:
            cache, before = tmp_path_factory.mktemp(f"local-cache-{threads}"), torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                with using_cache(cache):
                    precompute(folder_collection(music), KEYS, show_bar=False)
            finally:
                torch.set_num_threads(before)
            done[threads] = rows(cache, music)
        return done[threads]
    return with_threads


def ray_cli(cache: Path, music: Path, *args: str, models: list[str] = KEYS, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shrooms.cli", "precompute", "--collection", str(music),
                             "--models", ",".join(models), "--engine", "ray", *args],
                            env={**os.environ, "SHROOMS_CACHE": str(cache), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs for a 2-thread actor")
def test_ray_rows_equal_the_local_engine_after_a_worker_crash(music, local_rows, tmp_path) -> None:
    """One 2-thread actor (`--threads-per-actor 2`) gives the rows of a local run with 2 torch threads, bit
    for bit, although the actor kills its own process mid-run and Ray restarts it and retries the batch."""
    cache, marker = tmp_path / "cache", tmp_path / "crashed"
    proc = ray_cli(cache, music, "--threads-per-actor", "2", SHROOMS_TEST_RAY_CRASH=str(marker))
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert marker.exists(), "the worker crash hook never ran"
    assert f"{music.name}: 8 tracks computed, 0 already cached, 0 unreadable" in out
    assert "Traceback" not in err
    assert_same_rows(rows(cache, music), local_rows(2))


def test_local_rows_with_other_thread_counts_agree_within_the_stated_tolerance(local_rows) -> None:
    """What may differ between the engines' defaults (one thread per actor, torch's default locally) is
    the thread count alone; the rows then agree within THREADS_TOLERANCE."""
    import torch
    assert_same_rows(local_rows(1), local_rows(max(2, torch.get_num_threads())), atol=THREADS_TOLERANCE)


def torch_default_threads() -> int:
    """The torch threads of a local run here (torch's default: one per core, or OMP_NUM_THREADS)."""
    import torch
    return torch.get_num_threads()


def committed(cache: Path) -> int:
    db = cache / "store.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(DISTINCT track) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_ray_resumes_after_the_driver_is_killed(music, local_rows, tmp_path) -> None:
    cache = tmp_path / "cache"
    proc = ray_cli(cache, music)
    deadline = time.time() + 900
    while committed(cache) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = committed(cache)
    assert 1 <= done_before < 8
    again = ray_cli(cache, music)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    computed = int(out.split(": ")[1].split(" tracks computed")[0])
    assert computed == 8 - done_before, out  # tracks already valid were never sent again
    stored = rows(cache, music)
    assert_same_rows(stored, local_rows(1))  # the default: single-threaded actors = a 1-thread local run
    assert_same_rows(stored, local_rows(torch_default_threads()), atol=THREADS_TOLERANCE)



def nudged(source: Path, dest: Path) -> None:
    """`source`'s state_dict with one bias moved by 1e-3, saved at `dest`."""
    import torch
    state = torch.load(source, map_location="cpu")
    name = next(k for k in state if k.endswith("bias"))
    state[name] = state[name] + 1e-3
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dest)


def test_ray_workers_with_other_weights_stop_the_run_in_one_line(music, tmp_path, monkeypatch, capfd) -> None:
    """Workers that find other weights than the driver stop the run with one line and store nothing: a
    checkpoint that differs from the released one fails to load there (FCN), and unreleased weights that
    load but differ from the driver's (Sample-level CNN, the conformance fixtures' synthetic state_dict)
    are caught by the sha256 each row carries."""
    import ray
    import torch

    from shrooms.errors import ShroomsError
    from shrooms.ray_engine import precompute_ray

    mine, theirs = tmp_path / "driver-weights", tmp_path / "worker-weights"
    sample = Path("jamendo") / "sample" / "best_model.pth"
    (mine / sample).parent.mkdir(parents=True)
    torch.save(synthetic_state_dict(manifest()["models"]["sample"]["synthetic_state_dict"]), mine / sample)
    nudged(mine / sample, theirs / sample)
    (mine / "jamendo" / "fcn").mkdir()
    (mine / "jamendo" / "fcn" / "best_model.pth").symlink_to(SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth")
    nudged(SHARED / "weights" / "jamendo" / "fcn" / "best_model.pth", theirs / "jamendo" / "fcn" / "best_model.pth")
    monkeypatch.setenv("SHROOMS_WEIGHTS_DIR", str(mine))
    monkeypatch.setenv("SHROOMS_WEIGHTS_UNVERIFIED", "sample")  # synthetic, not the released file
    monkeypatch.setenv("SHROOMS_CACHE", str(tmp_path / "cache"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"SHROOMS_WEIGHTS_DIR": str(theirs), "SHROOMS_WEIGHTS_UNVERIFIED": "sample"}})
    try:
        with pytest.raises(ShroomsError) as mismatch:
            precompute_ray(folder_collection(music), ["sample"], show_bar=False)
        with pytest.raises(ShroomsError) as unloadable:
            precompute_ray(folder_collection(music), ["fcn"], show_bar=False)
    finally:
        ray.shutdown()
    assert re.fullmatch(r"a Ray worker computed Sample-level CNN with other weights than this machine's "
                        r"\(sha256 \w{12}… vs \w{12}…\): put the same weights on every node", str(mismatch.value))
    assert str(unloadable.value) == (f"a Ray worker failed: {theirs / 'jamendo' / 'fcn' / 'best_model.pth'}: "
                                     "sha256 differs from the released fcn checkpoint")
    assert committed(tmp_path / "cache") == 0


def test_ray_address_where_no_cluster_answers_is_one_line(music, tmp_path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "shrooms.cli", "precompute", "--collection", str(music),
                           "--models", "fcn", "--engine", "ray", "--address", f"127.0.0.1:{port}"],
                          env={**os.environ, "SHROOMS_CACHE": str(tmp_path / "cache")}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"shrooms: error: no Ray cluster answers at 127.0.0.1:{port} (Connection "
                                   "refused): start one with `ray start --head` or check the address")


@pytest.fixture
def three(tmp_path) -> Path:
    """Three real 2-s excerpts, unlabelled, as links."""
    root = tmp_path / "three"
    root.mkdir()
    for f in ("carnatic_varnam_abhogi.mp3", "rwc_jazz_m01.wav", "jingju_laosheng.wav"):
        (root / f).symlink_to(FORMATS / f)
    return root


def stored_taggers(cache: Path) -> dict[str, int]:
    """{tagger: rows} in the store."""
    with sqlite3.connect(f"file:{cache / 'store.sqlite3'}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT tagger, COUNT(*) FROM results GROUP BY tagger").fetchall())


def test_ray_repair_computes_only_the_taggers_asked_for_on_ray(three, tmp_path) -> None:
    """`--repair --engine ray --models fcn` sets the damaged database aside, then computes FCN alone, on the
    Ray engine (its progress bar says so), not every tagger locally."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "store.sqlite3").write_bytes(np.random.default_rng(0).bytes(4096))
    proc = ray_cli(cache, three, "--repair", models=["fcn"])
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "the damaged database was set aside as" in out
    assert f"{three.name}: 3 tracks computed, 0 already cached, 0 unreadable" in out
    assert f"precompute {three.name} (ray)" in err
    assert stored_taggers(cache) == {"fcn": 3}


def test_ray_leaves_a_track_another_live_run_claimed_to_it(three, tmp_path, monkeypatch) -> None:
    """A track this test process has claimed (a live run, renewing its lease) is neither sent nor stored by
    the Ray run, which computes the others and waits; once this process commits its row, the Ray run
    counts it as cached and ends."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    from shrooms.audio import decode, file_state
    collection = folder_collection(three)
    fcn = load_tagger("fcn")
    held = collection.tracks[0]
    store = Store(collection)
    try:
        with store.lease():
            assert store.claim(held, {"fcn": fcn}) == ("mine", ["fcn"])
            proc = ray_cli(cache, three, models=["fcn"])
            deadline = time.time() + 900
            while committed(cache) < 2 and proc.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(3)  # time enough to compute the held track too, were it sent
            assert proc.poll() is None, proc.communicate()
            assert committed(cache) == 2
            assert store.read("fcn", held.id) is None
            state = file_state(held.path)
            samples = decode(held.path).samples
            store.commit(held, state, len(samples), {fcn: fcn.tag(samples)})
        out, err = proc.communicate(timeout=300)
    finally:
        store.close()
    assert proc.returncode == 0, err[-3000:]
    assert f"{three.name}: 2 tracks computed, 1 already cached, 0 unreadable" in out

