"""Precompute on a Ray cluster (`shrooms precompute --engine ray [--address ADDR]`, extra `shrooms[ray]`).

Ray Data reads the list of tracks still to do (tracks whose rows are valid for every selected tagger are
never sent), decodes them in CPU tasks, runs each tagger in an actor pool (one actor per GPU when the
cluster has GPUs, else per CPU slot), and streams the results back to the driver, which commits them to
the store exactly as the local engine does, one transaction per track. The driver claims every track it
sends, as the local engine does, so runs of either engine share a collection: tracks another live run
holds are left to it and waited for, tracks of a run that stopped are taken over. Ray retries a task or
an actor that dies; a killed driver loses only what it had not committed, and the next run resumes. Each
row carries the sha256 of the weights that computed it: a worker with other weights than the driver stops
the run.

The same code runs the same models on the same samples in the same fixed-size batches, so on the same
kind of CPU the rows equal the local engine's bit for bit when the actors use as many torch threads as
the local run (`--threads-per-actor N` and a local run with N threads: `OMP_NUM_THREADS=N`, or torch's
default of one per core). With other thread counts (by default one per actor) they may differ in the last
bits: oneDNN picks its convolution kernels by CPU and, on some CPUs, by thread count, and two kernels
round differently (tags and embeddings then agree within 1e-5).

On a real cluster: start Ray on every machine (`ray start --head` on one, `ray start --address HEAD:6379`
on the others), keep the audio on storage every node mounts at the same path, put the weights on every
node (or point `SHROOMS_WEIGHTS_DIR` at shared storage: the driver passes its value to the workers), and
run `shrooms precompute --engine ray --address HEAD:6379 --collection /shared/music` on the head: the
store (the SQLite database) lives on the driver only. Ray 2.59 and later turn on token authentication for
clusters started with `ray start`: the driver then needs `RAY_AUTH_MODE=token` and the head's token
(`RAY_AUTH_TOKEN`, or `~/.ray/auth_token`).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from tqdm import tqdm

from .audio import chunk, decode, file_state, fs_path, text_path
from .errors import AudioError, ShroomsError

# Ray's worker processes import this module to run `decode_row` and `TaggerActor`: its top level stays light
# (no torch, no store), so a decoding worker starts in a fraction of a second. The rest is imported where used.
if TYPE_CHECKING:
    from .collections import Collection, Track
    from .precompute import Progress, Summary
    from .store import Store
    from .taggers import Tagger


def ray_module():
    """`ray` and `ray.data`, or a one-line error saying how to install them."""
    # shrooms reports progress and errors itself: Ray's own notes (its C++ core's log lines, Ray Data's
    # "execution finished" and progress-bar notices) would interleave with the bar on stderr
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ShroomsError("the Ray engine needs Ray: pip install 'shrooms[ray]'") from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: one track's 16-kHz samples and decoding warnings (one per line), the file's (size, mtime_ns)
    before decoding and whether it changed while being decoded, or the decoding error."""
    path = fs_path(row["path"])  # the text `text_path` sent: any file name, UTF-8 or not
    before = file_state(path)
    try:
        decoded = decode(path)
        samples, warnings, error = decoded.samples, "\n".join(decoded.warnings), ""
    except AudioError as exc:
        samples, warnings, error = np.zeros(0, np.float32), "", str(exc)
    return {"id": row["id"], "samples": samples, "size": before[0], "mtime_ns": before[1],
            "changed": file_state(path) != before, "error": error, "warnings": warnings}


class TaggerActor:
    """Ray actor: the selected taggers, each loaded once in `precision`, run over each decoded track with
    `threads` torch threads (the rows of a local run with as many threads, bit for bit). A row leaves with its chunk outputs, its number of samples (not the samples) and the sha256 of the
    weights that computed them."""

    def __init__(self, keys: list[str], threads: int, precision: str):
        import torch

        from .taggers import load_tagger
        torch.set_num_threads(threads)
        self.taggers: dict[str, Tagger] = {key: load_tagger(key, precision=precision) for key in keys}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        crash_once()
        samples = batch.pop("samples")
        batch["n_samples"] = np.array([len(s) for s in samples], np.int64)
        for key, tagger in self.taggers.items():
            tags, embs = [], []
            for track, error in zip(samples, batch["error"]):
                if error:
                    t = np.zeros((0, len(tagger.spec.tags)), np.float32)
                    e = np.zeros((0, tagger.spec.embedding_dim), np.float32)
                else:
                    t, e = tagger.predict_chunks(chunk(np.asarray(track, np.float32), tagger.spec.input_length))
                tags.append(t)
                embs.append(e)
            batch[f"{key}_chunk_tags"] = ragged(tags)
            batch[f"{key}_chunk_embeddings"] = ragged(embs)
            batch[f"{key}_weights"] = np.array([tagger.weights_sha256] * len(samples))
        return batch


def tracks_per_call(tracks: int, actors: int) -> int:
    """Tracks handed to a tagger actor per call: up to 4, which spreads Ray's cost per call (measured
    here: about 0.04 s, 15% of three taggers on a 30-s track at one track per call), yet at least 8 calls
    per actor, so that every actor gets work and progress moves on a small run."""
    return max(1, min(4, tracks // (8 * actors)))


def join_or_start(ray, address: str | None, num_cpus: int | None) -> None:
    """`ray.init`: join the cluster at `address`, or start a local one with `num_cpus` CPUs. A cluster
    started here inherits this process's environment; a running cluster is told where the weights are (a
    runtime environment would keep a local cluster from using its pre-started workers)."""
    if address:
        check_reachable(address)
    env = {k: os.environ[k] for k in ("SHROOMS_WEIGHTS_DIR", "SHROOMS_TEST_RAY_CRASH") if k in os.environ}
    try:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, logging_level="ERROR", runtime_env={"env_vars": env} if env and address else None)
    except ConnectionError as exc:
        raise ShroomsError(f"could not join the Ray cluster at {address}: {exc}. If the cluster uses token "
                           "authentication (Ray 2.59 and later turn it on for `ray start`), set "
                           "RAY_AUTH_MODE=token here, with the head's token in RAY_AUTH_TOKEN or "
                           "~/.ray/auth_token") from None


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """One clear line, not an endless wait, when nothing listens at a cluster's `HOST:PORT` (or
    `ray://HOST:PORT`); other forms (`auto`) are left to Ray."""
    found = re.fullmatch(r"(?:ray://)?\[?([^\s\[\]]+?)\]?:(\d+)", address.strip())
    if not found:
        return
    try:
        socket.create_connection((found.group(1), int(found.group(2))), timeout=seconds).close()
    except OSError as exc:
        raise ShroomsError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one with "
                           "`ray start --head` or check the address") from None


def worker_rows(ray, ds):
    """`ds.iter_rows()`, with an error raised on a worker (e.g. weights that fail to load there) turned into
    one line: the worker's own message."""
    try:
        yield from ds.iter_rows()
    except ray.exceptions.RayError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        last = lines[-1].strip() if lines else type(exc).__name__
        cause = re.match(r"^shrooms\.errors\.\w+: (.*)$", last)
        raise ShroomsError(f"a Ray worker failed: {cause.group(1) if cause else last}") from None


def ragged(arrays: list[np.ndarray]) -> np.ndarray:
    """A 1-D object array holding one array per row (rows may have different numbers of chunks)."""
    out = np.empty(len(arrays), dtype=object)
    out[:] = arrays
    return out


def crash_once() -> None:
    """Test hook: with SHROOMS_TEST_RAY_CRASH=<marker file>, the first actor to see a batch kills its own
    worker process (a real crash for Ray to recover from)."""
    marker = os.environ.get("SHROOMS_TEST_RAY_CRASH")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)


def precompute_ray(collection: Collection, keys: list[str] | None = None, address: str | None = None,
                   num_cpus: int | None = None, threads_per_actor: int | None = None,
                   progress: Progress | None = None, show_bar: bool = True, repair: bool = False) -> Summary:
    """Fill the store for `collection` and the taggers `keys` on a Ray cluster (a local one unless
    `address` names a running cluster); the driver claims the tracks (as the local engine does) and commits
    every result. Each actor runs every selected tagger with `threads_per_actor` torch threads (default 1);
    one actor per GPU where there are GPUs, else one per that many CPUs. Every actor holds the models
    (about 0.6 GB for fcn, musicnn and crnn): on a node with many cores and little memory, give more
    threads per actor. `repair` first sets a damaged database aside and keeps what is readable of it
    (`Store.repair`). Returns what was done."""
    from .precompute import WAIT, Summary, still_to_do
    from .store import Store
    from .taggers import available_taggers

    start = time.perf_counter()
    taggers, missing = available_taggers(keys)
    summary = Summary(collection.name, unavailable=missing)
    store = Store(collection)
    if repair:
        summary.repaired = store.repair()
    todo, _, summary.cached = still_to_do(store, taggers, collection)
    if not todo:
        summary.failed = store.failures()
        store.close()
        summary.seconds = time.perf_counter() - start
        return summary
    ray = ray_module()
    started_here = not ray.is_initialized()
    bar, done, total = None, 0, len(todo)

    def advance() -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.update(1)
        if progress:
            progress(done, total, time.perf_counter() - start)

    try:
        if started_here:
            join_or_start(ray, address, num_cpus)
        bar = tqdm(total=total, unit="track", desc=f"precompute {collection.name} (ray)") if show_bar else None
        with store.lease():  # the claims stay this run's however long a pass takes
            while todo:
                mine, busy = {}, []
                for track in todo:  # claimed before they are sent, as the local engine claims before decoding
                    status, lacking = store.claim(track, taggers)
                    if status == "mine":
                        mine[track.id] = (track, lacking)
                    elif status == "busy":  # another live run computes it: wait for it
                        busy.append(track)
                    else:  # done or failed by another run meanwhile
                        summary.cached += status == "done"
                        advance()
                if mine:
                    compute_claimed(ray, store, taggers, mine, threads_per_actor, summary, advance)
                if busy:
                    time.sleep(WAIT)
                todo = busy
        summary.failed = store.failures()
        summary.taken_over = dict(store.taken_over)
    finally:
        store.close()
        if bar is not None:
            bar.close()
        if started_here and ray.is_initialized():
            ray.shutdown()
    summary.seconds = time.perf_counter() - start
    return summary


def compute_claimed(ray, store: Store, taggers: dict[str, Tagger], mine: dict[str, tuple[Track, list[str]]],
                    threads_per_actor: int | None, summary: Summary, advance: Callable[[], None]) -> None:
    """One pass over the cluster: tag the tracks this run has claimed, `mine` ({id: (track, the keys of the
    taggers it lacks)}), commit each as it comes back (calling `advance`), and release the claims of those
    it could not commit."""
    from .taggers import pool

    left = dict(mine)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # shrooms' own bar counts committed tracks
        context.print_on_execution_start = False
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        # one single-threaded actor per CPU by default: on 2 cores, 288 tracks took 90.6 s that way and
        # 103 s with one 2-thread actor (torch's threads wait on each other and on the decoding beside them)
        threads = min(cpus, threads_per_actor or 1)
        actors = gpus or max(1, cpus // threads)
        ds = ray.data.from_items([{"id": t.id, "path": text_path(t.path)} for t, _ in mine.values()],
                                 override_num_blocks=min(len(mine), 200))
        # decoding is light next to the models: its tasks take no CPU slot, like the local engine's decode
        # thread beside inference, but at most two per actor run at once (a task that needs no CPU is
        # otherwise started for every block at once, each in a worker process of its own)
        ds = ds.map(decode_row, num_cpus=0, compute=ray.data.TaskPoolStrategy(size=2 * actors))
        # Ray Data restarts a dead actor and retries its batch (its defaults: max_restarts=-1,
        # max_task_retries=-1), and retries failed tasks
        precision = next(iter(taggers.values())).precision
        ds = ds.map_batches(TaggerActor, fn_constructor_kwargs={"keys": list(taggers), "threads": threads,
                                                                "precision": precision},
                            batch_size=tracks_per_call(len(mine), actors), batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=actors),
                            **({"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": threads}))
        for row in worker_rows(ray, ds):
            track, lacking = left[row["id"]]
            state = (int(row["size"]), int(row["mtime_ns"]))
            if row["error"]:
                store.fail(track, state, row["error"])
            elif row["changed"]:
                summary.changed.append(track.id)  # not stored: recomputed next run
                store.release(track)
            else:
                for key, tagger in taggers.items():
                    if row[f"{key}_weights"] != tagger.weights_sha256:
                        raise ShroomsError(f"a Ray worker computed {tagger.spec.name} with other weights than "
                                           f"this machine's (sha256 {str(row[f'{key}_weights'])[:12]}… vs "
                                           f"{tagger.weights_sha256[:12]}…): put the same weights on every node")
                outputs = {taggers[key]: pool(np.asarray(row[f"{key}_chunk_tags"], np.float32),
                                              np.asarray(row[f"{key}_chunk_embeddings"], np.float32))
                           for key in lacking}
                store.commit(track, state, int(row["n_samples"]), outputs)
                summary.warnings += [w for w in str(row["warnings"]).split("\n") if w]
                summary.computed += 1
                summary.audio_seconds += int(row["n_samples"]) / 16000
            del left[track.id]
            advance()
    finally:
        for track, _ in left.values():  # not committed: free for the next run at once
            try:
                store.release(track)
            except Exception:  # noqa: BLE001 - the error that stopped the pass is the one to report
                break
