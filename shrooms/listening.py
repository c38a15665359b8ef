"""A blind listening test: whose neighbours sound more alike?

A trial plays a seed track and, blind and in random order (labelled "A" and "B", never by tagger), the
seed's nearest other track under each of two taggers (in each tagger's documented space, `shrooms.space`,
fitted on the tracks the two taggers share, and searched among them); the listener says which one sounds
closer to the seed, or "same". A pair of taggers that names the same nearest track is not a trial.

Votes live in the store's database (`cache/store.sqlite3`), in their own table `listening_votes`, each
inserted in one write transaction (`Store.transaction`: BEGIN IMMEDIATE … COMMIT), so a vote is in or it
is not, even when the process is killed mid-vote. A row records what the listener heard and chose:
the collection, the seed, `tagger_a` / `track_a` (the tagger whose neighbour played as "A" and that
track), the same for "B", `choice` ('a', 'b' or 'same'), a random id of the browser session and the
time; nothing else about the listener.

`summary` counts the votes per pair of taggers (in registry order, whichever played as "A") with the
fraction of decided votes (not "same") each tagger won, its Wilson score 95% confidence interval and a
two-sided binomial test against no preference (`scipy.stats.binomtest`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from .collections import Collection
from .errors import ShroomsError
from .neighbours import neighbour_indices
from .space import in_space
from .store import Store, StoredResults
from .taggers import TAGGERS, get_spec

TABLE = "listening_votes"
CHOICES = ("a", "b", "same")
CONFIDENCE = 0.95
CI_METHOD = "wilson"
COLUMNS = ["collection", "seed", "tagger_a", "tagger_b", "track_a", "track_b", "choice", "session", "created_at"]
SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL, seed TEXT NOT NULL,
    tagger_a TEXT NOT NULL, tagger_b TEXT NOT NULL, track_a TEXT NOT NULL, track_b TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'same')),
    session TEXT NOT NULL, created_at REAL NOT NULL)"""


@dataclass(frozen=True)
class Trial:
    """One blind comparison: the seed track, and the nearest other track under each of two taggers, in the
    order they play ("A" first)."""

    seed: str
    tagger_a: str
    tagger_b: str
    track_a: str
    track_b: str


def new_session() -> str:
    """A random id for one listening session (16 hex digits): all a vote says about who cast it."""
    return secrets.token_hex(8)


def _in_transaction() -> None:
    """Called between a vote's INSERT and its COMMIT (tests replace it to kill a process there)."""


def record_vote(collection: Collection, trial: Trial, choice: str, session: str) -> int:
    """Store one vote in one transaction; returns its id.

    Parameters
    ----------
    collection : Collection
        The collection the trial was drawn from (its `key` is stored).
    trial : Trial
        What was played; `tagger_a` / `track_a` played as "A".
    choice : {'a', 'b', 'same'}
        'a': A sounds closer to the seed; 'b': B does; 'same': neither.
    session : str
        The listening session's id (`new_session`).
    """
    if choice not in CHOICES:
        raise ShroomsError(f"a vote is one of {', '.join(CHOICES)}, got {choice!r}")
    for key in (trial.tagger_a, trial.tagger_b):
        get_spec(key)
    if trial.tagger_a == trial.tagger_b:
        raise ShroomsError(f"a trial compares two different taggers, got {trial.tagger_a} twice")
    if not session:
        raise ShroomsError("a vote needs its session id")
    store = Store(collection)
    row = (collection.key, trial.seed, trial.tagger_a, trial.tagger_b, trial.track_a, trial.track_b, choice,
           session, time.time())
    try:
        with store.transaction() as conn:
            conn.execute(SCHEMA)
            cursor = conn.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
                                  f"VALUES ({', '.join('?' * len(COLUMNS))})", row)
            _in_transaction()
        return int(cursor.lastrowid)
    finally:
        store.close()


def votes(collection: Collection) -> list[dict]:
    """Every vote stored for `collection`, oldest first: [{id, collection, seed, tagger_a, …, created_at}]."""
    store = Store(collection)
    try:
        with store.snapshot():
            if not store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)):
                return []
            rows = store.query(f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} WHERE collection = ? ORDER BY id",
                               (collection.key,))
    finally:
        store.close()
    return [dict(zip(["id"] + COLUMNS, row)) for row in rows]


def _order(key: str) -> tuple[int, str]:
    keys = list(TAGGERS)
    return (keys.index(key) if key in keys else len(keys), key)


def win_interval(wins: int, decided: int, confidence: float = CONFIDENCE) -> dict:
    """The fraction `wins / decided` with its Wilson score confidence interval and the two-sided binomial
    test's p-value against 1/2 (`scipy.stats.binomtest`): {fraction, ci_low, ci_high, p_value}, all None
    when nothing was decided."""
    if decided == 0:
        return {"fraction": None, "ci_low": None, "ci_high": None, "p_value": None}
    test = binomtest(wins, decided, 0.5)
    ci = test.proportion_ci(confidence, method=CI_METHOD)
    return {"fraction": wins / decided, "ci_low": float(ci.low), "ci_high": float(ci.high),
            "p_value": float(test.pvalue)}


def summary(rows: list[dict], confidence: float = CONFIDENCE) -> list[dict]:
    """Votes per pair of taggers.

    Parameters
    ----------
    rows : list of dict
        Votes as `votes` returns them (tagger_a, tagger_b, choice).

    Returns
    -------
    list of dict, one per pair (taggers in registry order, pairs likewise)
        {a, b, votes, wins_a, wins_b, same, fraction_a, ci_low, ci_high, p_value}: `fraction_a` is the
        share of decided votes (not "same") won by `a`'s neighbour, with its Wilson `confidence` interval;
        None when no vote was decided.
    """
    pairs: dict[tuple[str, str], dict] = {}
    for row in rows:
        a, b = sorted((row["tagger_a"], row["tagger_b"]), key=_order)
        pair = pairs.setdefault((a, b), {"a": a, "b": b, "votes": 0, "wins_a": 0, "wins_b": 0, "same": 0})
        pair["votes"] += 1
        if row["choice"] == "same":
            pair["same"] += 1
        else:
            winner = row["tagger_a"] if row["choice"] == "a" else row["tagger_b"]
            pair["wins_a" if winner == a else "wins_b"] += 1
    out = []
    for key in sorted(pairs, key=lambda p: (_order(p[0]), _order(p[1]))):
        pair = pairs[key]
        ci = win_interval(pair["wins_a"], pair["wins_a"] + pair["wins_b"], confidence)
        out.append({**pair, "fraction_a": ci.pop("fraction"), **ci})
    return out


def report(collection: Collection, confidence: float = CONFIDENCE) -> dict:
    """What `shrooms listening --json` prints: the collection, vote and session counts, the interval's
    method and the per-pair `summary`."""
    rows = votes(collection)
    return {"collection": collection.key, "name": collection.name, "votes": len(rows),
            "sessions": len({r["session"] for r in rows}), "confidence": confidence,
            "interval": f"{CI_METHOD} score interval of the share of decided votes (scipy.stats.binomtest)",
            "pairs": summary(rows, confidence)}


def nearest_other(results: StoredResults, seed: str, among: list[str]) -> str:
    """The id of the seed's nearest other track among the ids `among` (which include the seed), in one
    tagger's stored rows, in that tagger's space (`shrooms.space`, fitted on those rows)."""
    ids = list(results.tracks["id"])
    rows = [ids.index(t) for t in among]
    reference = in_space(results.embeddings[rows])
    query = reference[[among.index(seed)]]
    for j in neighbour_indices(reference, query, 2)[0]:
        if among[j] != seed:  # a duplicate of the seed can come back before the seed itself
            return among[j]
    raise ShroomsError("a trial needs at least two tracks")


def pick_trial(results: dict[str, StoredResults], rng: np.random.Generator, attempts: int = 50) -> Trial | None:
    """A random trial from the stored rows of two or more taggers, or None when `attempts` draws found none.

    Each draw takes two taggers at random, a seed among the tracks both have stored (at least 3), each
    tagger's nearest other track to it among those, and a random playing order; a draw whose two taggers
    name the same track is skipped (nothing to compare).

    Parameters
    ----------
    results : dict of str to StoredResults
        Tagger key → its stored rows (`Store.load`), two taggers at least.
    rng : np.random.Generator
        The draws' source: the same generator state gives the same trial.
    """
    keys = sorted((k for k, r in results.items() if len(r.tracks) >= 3), key=_order)
    if len(keys) < 2:
        return None
    for _ in range(attempts):
        a, b = (keys[i] for i in rng.choice(len(keys), 2, replace=False))
        ids_b = set(results[b].tracks["id"])
        common = [t for t in results[a].tracks["id"] if t in ids_b]
        if len(common) < 3:
            continue
        seed = common[int(rng.integers(len(common)))]
        near_a, near_b = nearest_other(results[a], seed, common), nearest_other(results[b], seed, common)
        if near_a == near_b:
            continue
        if rng.random() < 0.5:
            a, b, near_a, near_b = b, a, near_b, near_a
        return Trial(seed, a, b, near_a, near_b)
    return None
