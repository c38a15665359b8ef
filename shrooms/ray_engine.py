"""Precompute on a Ray cluster (`shrooms precompute --engine ray [--address ADDR]`, extra `shrooms[ray]`).

Ray Data reads the list of tracks still to do (tracks whose rows are valid for every selected tagger are
never sent), decodes them in CPU tasks, runs each tagger in an actor pool (one actor per GPU when the
cluster has GPUs, else per CPU slot), and streams the results back to the driver, which commits them to
the store exactly as the local engine does, one transaction per track and tagger. The same code runs the
same models on the same samples, so the rows are bit-identical to the local engine's (a chunk's result
never depends on its batch-mates or on the thread count). Ray retries a task or an actor that dies; a
killed driver loses only what it had not committed, and the next run resumes.

On a real cluster: start Ray on every machine (`ray start --head` on one, `ray start --address HEAD:6379`
on the others), keep the audio on storage every node mounts at the same path, put the weights on every
node (or point `SHROOMS_WEIGHTS_DIR` at shared storage: the driver passes its value to the workers), and
run `shrooms precompute --engine ray --address HEAD:6379 --collection /shared/music` on the head: the
store (the SQLite database) lives on the driver only.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .audio import chunk
from .collections import Collection, Track
from .errors import AudioError, ShroomsError
from .precompute import Progress, Summary, decode_track, store_result
from .store import Store
from .taggers import Tagger, TrackOutput, available_taggers, load_tagger, pool


def ray_module():
    """`ray` and `ray.data`, or a one-line error saying how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ShroomsError("the Ray engine needs Ray: pip install 'shrooms[ray]'") from None
    return ray


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: one track's 16-kHz samples and the file's state when it was decoded (or the error)."""
    track = Track(row["id"], row["path"], None)
    try:
        samples, state = decode_track(track)
        return {"id": row["id"], "samples": samples, "state": state, "error": ""}
    except AudioError as exc:
        return {"id": row["id"], "samples": np.zeros(0, np.float32), "state": "", "error": str(exc)}


class TaggerActor:
    """Ray actor: one tagger loaded once, run over each decoded track (in the actor's fixed batches)."""

    def __init__(self, key: str):
        self.key = key
        self.tagger: Tagger = load_tagger(key)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        crash_once(batch)
        tags, embs = [], []
        for samples, error in zip(batch["samples"], batch["error"]):
            if error:
                tags.append(np.zeros((0, len(self.tagger.spec.tags)), np.float32))
                embs.append(np.zeros((0, self.tagger.spec.embedding_dim), np.float32))
                continue
            t, e = self.tagger.predict_chunks(chunk(np.asarray(samples, np.float32), self.tagger.spec.input_length))
            tags.append(t)
            embs.append(e)
        batch[f"{self.key}_chunk_tags"] = np.array(tags + [None], dtype=object)[:-1]
        batch[f"{self.key}_chunk_embeddings"] = np.array(embs + [None], dtype=object)[:-1]
        return batch


def crash_once(batch: dict[str, np.ndarray]) -> None:
    """Test hook: with SHROOMS_TEST_RAY_CRASH=<marker file>, the first actor to see a batch kills its own
    worker process (a real crash for Ray to recover from)."""
    marker = os.environ.get("SHROOMS_TEST_RAY_CRASH")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)


def precompute_ray(collection: Collection, keys: list[str] | None = None, address: str | None = None,
                   num_cpus: int | None = None, progress: Progress | None = None,
                   show_bar: bool = True) -> Summary:
    """Fill the store for `collection` and the taggers `keys` on a Ray cluster (a local one unless
    `address` names a running cluster); the driver commits every result. Returns what was done."""
    ray = ray_module()
    start = time.perf_counter()
    taggers, missing = available_taggers(keys)
    summary = Summary(collection.name, unavailable=missing)
    store = Store(collection)
    valid = {key: store.valid_ids(tagger) for key, tagger in taggers.items()}
    todo = [t for t in collection.tracks if not all(t.id in ids for ids in valid.values())]
    summary.cached = len(collection.tracks) - len(todo)
    if not taggers or not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in ("SHROOMS_WEIGHTS_DIR", "SHROOMS_TEST_RAY_CRASH") if k in os.environ}
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env} if env else None)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
        ds = ray.data.from_items([{"id": t.id, "path": str(t.path)} for t in todo],
                                 override_num_blocks=min(len(todo), 200))
        ds = ds.map(decode_row, num_cpus=1, max_retries=3)
        for key in taggers:
            resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
            ds = ds.map_batches(TaggerActor, fn_constructor_kwargs={"key": key}, batch_size=1,
                                batch_format="numpy", concurrency=(1, max(1, gpus or slots)),
                                max_restarts=-1, max_task_retries=-1, **resources)
        by_id = {t.id: t for t in todo}
        for row in ds.iter_rows():
            track = by_id[row["id"]]
            if row["error"]:
                summary.failed.append({"id": track.id, "path": str(track.path), "reason": row["error"]})
                store.record_failure(track, row["error"])
            else:
                for key, tagger in taggers.items():
                    if track.id in valid[key]:
                        continue
                    out = pool(np.asarray(row[f"{key}_chunk_tags"], np.float32),
                               np.asarray(row[f"{key}_chunk_embeddings"], np.float32))
                    store_result(store, track, tagger, out, row["state"], len(row["samples"]))
                    valid[key].add(track.id)
                summary.computed += 1
                summary.audio_seconds += len(row["samples"]) / 16000
            if progress:
                progress(summary.computed + len(summary.failed), len(todo), time.perf_counter() - start)
    finally:
        if started_here:
            ray.shutdown()
    summary.seconds = time.perf_counter() - start
    return summary
