"""Precompute: every selected tagger's tags and embeddings for every track of a collection, into the store.

Each track is claimed in the store, stat'ed, decoded and resampled once, and stat'ed again (in a
background thread, overlapping inference), then fed to every tagger that lacks a valid row for it; each
track's rows are committed in one transaction. Kill the run at any moment and the next one resumes where
it stopped; a file that changed while it was decoded is not stored (the next run recomputes it). Two runs
of one collection share the work: a track claimed by a live run is left to it and waited for; a claim is
a lease the run renews every few seconds (`Store.lease`), so the claims of a run that stopped, on any
host, are taken over within seconds, with a line saying so.
Unreadable tracks are skipped and listed with their reason; taggers without weights are skipped with a note.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from .audio import chunk, decode, file_state
from .collections import Collection, Track
from .errors import AudioError, WeightsUnavailable
from .store import Store, StoreReadOnly
from .taggers import Tagger, TrackOutput, available_taggers, pool

GROUP = 8      # tracks computed and committed together (sharing forward passes on a GPU); a kill loses at most these
PREFETCH = 4   # decoded tracks waiting ahead of inference: bounds memory for any collection size
WAIT = 0.25    # seconds between looks at tracks another process is computing

Progress = Callable[[int, int, float], None]  # (tracks done, tracks to do, seconds elapsed)

_faults: Counter = Counter()


def fault_point(name: str) -> None:
    """Tests' fault injection: SHROOMS_TEST_KILL_AT=<name>:<n> SIGKILLs this process the n-th time it
    passes point `name` (claimed, decoding, computed, committed)."""
    at = os.environ.get("SHROOMS_TEST_KILL_AT", "")
    if at.rpartition(":")[0] == name:
        _faults[name] += 1
        if _faults[name] == int(at.rpartition(":")[2]):
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Summary:
    """What a precompute run did."""

    collection: str
    computed: int = 0
    cached: int = 0
    failed: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. "FILE: truncated: header says 30.0 s, holds 2.0 s"
    repaired: tuple | None = None  # (where the damaged database went, rows kept)
    taken_over: dict = field(default_factory=dict)  # (host, pid) of a run that stopped → its tracks computed here
    seconds: float = 0.0
    audio_seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{self.collection}: {self.computed} tracks computed, {self.cached} already cached, "
               f"{len(self.failed)} unreadable, in {self.seconds:.1f} s"
               + (f" ({self.audio_seconds / self.seconds:.0f} s of audio per second)" if self.computed else "")]
        if self.repaired:
            out.append(f"  the damaged database was set aside as {self.repaired[0]}; "
                       f"{self.repaired[1]} readable rows kept")
        out += [f"  taking over {n} tracks claimed by a run that stopped (host {host} pid {pid})"
                for (host, pid), n in self.taken_over.items()]
        out += [f"  skipped {f['id']}: {f['reason']}" for f in self.failed]
        out += [f"  warning: {w}" for w in self.warnings]
        out += [f"  not stored {i}: the file changed while it was read (run precompute again)" for i in self.changed]
        out += [f"  skipped tagger {key}: weights not available (`shrooms data weights {key}`)"
                if isinstance(why, WeightsUnavailable) or "weights not available" in why
                else f"  skipped tagger {key}: {why}" for key, why in self.unavailable.items()]
        return out


@dataclass
class ClaimedTrack:
    """A claimed track after decoding: its samples (or the error), the file's state before decoding,
    whether it changed during decoding, and the taggers it lacks."""

    track: Track
    status: str  # mine; done or failed (by another process meanwhile); busy (claimed by a live process)
    samples: np.ndarray | None = None
    error: AudioError | None = None
    state: tuple[int, int] = (-1, -1)
    changed: bool = False
    keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # decoded, but not as the header promised


def claim_and_decode(store: Store, taggers: dict[str, Tagger], track: Track) -> ClaimedTrack:
    """Claim `track`; if it is ours, decode it between two stats of its file."""
    status, keys = store.claim(track, taggers)
    if status != "mine":
        return ClaimedTrack(track, status)
    fault_point("claimed")
    before = file_state(track.path)
    fault_point("decoding")
    try:
        decoded_, error = decode(track.path), None
        samples, warnings = decoded_.samples, list(decoded_.warnings)
    except AudioError as exc:
        samples, error, warnings = None, exc, []
    return ClaimedTrack(track, status, samples, error, before, file_state(track.path) != before, keys, warnings)


def decoded(store: Store, taggers: dict[str, Tagger], tracks: list[Track]) -> Iterator[ClaimedTrack]:
    """`claim_and_decode` of each track, run ahead in a worker thread (at most PREFETCH waiting)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending = [worker.submit(claim_and_decode, store, taggers, t) for t in tracks[:PREFETCH]]
        try:
            for i in range(len(tracks)):
                if i + PREFETCH < len(tracks):
                    pending.append(worker.submit(claim_and_decode, store, taggers, tracks[i + PREFETCH]))
                yield pending[i].result()
                pending[i] = None  # free the samples
        finally:
            for p in pending:
                if p is not None:
                    p.cancel()
            worker.shutdown(wait=True)


def run_group(group: list[ClaimedTrack], tagger: Tagger) -> dict[str, TrackOutput]:
    """The group's tracks that lack this tagger, through it: {track id: output}. On the CPU each track's
    chunks are batched on their own: a chunk's result can depend on its batch-mates (the sample-level
    CNNs' 8-chunk batches: 6e-8 measured), and this way a track's rows never depend on the tracks computed
    beside it (reruns, resumed and shared runs, the Ray engine). A GPU batches the group's chunks together."""
    todo = [d for d in group if tagger.spec.key in d.keys]
    if not todo:
        return {}
    chunks = [chunk(d.samples, tagger.spec.input_length) for d in todo]
    if tagger.device.type == "cpu":
        return {d.track.id: pool(*tagger.predict_chunks(c)) for d, c in zip(todo, chunks)}
    tags, embs = tagger.predict_chunks(np.concatenate(chunks))
    bounds = np.cumsum([0] + [len(c) for c in chunks])
    return {d.track.id: pool(tags[a:b], embs[a:b]) for d, a, b in zip(todo, bounds[:-1], bounds[1:])}


def still_to_do(store: Store, taggers: dict[str, Tagger], collection: Collection
                ) -> tuple[list[Track], dict[str, set[str]], int]:
    """What a run of either engine has to compute: the tracks that lack a valid row for some tagger (known
    unreadable files excepted), each tagger's valid track ids, and how many tracks are already cached.
    Raises StoreReadOnly when there is work and the store cannot take it."""
    if not taggers:
        return [], {}, 0
    known_failures = {f["id"] for f in store.failures()}
    valid = {key: store.valid_ids(tagger) for key, tagger in taggers.items()}
    todo = [t for t in collection.tracks
            if t.id not in known_failures and not all(t.id in ids for ids in valid.values())]
    if todo and not store.writable:
        raise StoreReadOnly(f"{store.path.parent} is read-only: cannot store the {len(todo)} tracks of "
                            f"{collection.name} that need computing")
    return todo, valid, len(collection.tracks) - len(todo) - len(known_failures)


def precompute(collection: Collection, keys: list[str] | None = None, progress: Progress | None = None,
               show_bar: bool = True, repair: bool = False) -> Summary:
    """Fill the store for `collection` and the taggers `keys` (default: all with weights). `repair` first
    sets a damaged database aside and keeps what is readable of it (`Store.repair`)."""
    start = time.perf_counter()
    taggers, missing = available_taggers(keys)
    summary = Summary(collection.name, unavailable=missing)
    store = Store(collection)
    if repair:
        summary.repaired = store.repair()
    todo, _, summary.cached = still_to_do(store, taggers, collection)
    bar = tqdm(total=len(todo), unit="track", desc=f"precompute {collection.name}", disable=not show_bar or None)
    group: list[ClaimedTrack] = []

    def advance(n: int = 1) -> None:
        bar.update(n)
        if progress:
            progress(bar.n, len(todo), time.perf_counter() - start)

    def flush() -> None:
        outputs = {key: run_group(group, tagger) for key, tagger in taggers.items()}
        fault_point("computed")
        for d in group:
            store.commit(d.track, d.state, len(d.samples),
                         {taggers[k]: outputs[k][d.track.id] for k in d.keys})
            fault_point("committed")
        summary.computed += len(group)
        summary.audio_seconds += sum(len(d.samples) for d in group) / 16000
        bar.set_postfix(audio_x=f"{summary.audio_seconds / max(time.perf_counter() - start, 1e-9):.0f}")
        advance(len(group))
        group.clear()
        store.heartbeat()

    with store.lease():  # this run's claims stay its own however long a group takes
        while todo:
            busy = []
            for d in decoded(store, taggers, todo):
                if d.status == "busy":
                    busy.append(d.track)
                elif d.status in ("done", "failed"):  # by another process meanwhile
                    summary.cached += d.status == "done"
                    advance()
                elif d.error is not None or d.changed:
                    if d.changed:
                        summary.changed.append(d.track.id)
                        store.release(d.track)
                    else:
                        store.fail(d.track, d.state, str(d.error))
                    advance()
                else:
                    summary.warnings += d.warnings
                    group.append(d)
                    if len(group) >= GROUP:
                        flush()
            if group:
                flush()
            if busy:
                store.heartbeat()
                time.sleep(WAIT)
            todo = busy
    bar.close()
    summary.taken_over = dict(store.taken_over)
    summary.failed = store.failures()
    store.close()
    summary.seconds = time.perf_counter() - start
    return summary
