"""One definition of "is this tagger ready for this collection?", used by the CLI, the app and the library.

A tagger is, for a collection:

- ``no weights``: no checkpoint is found (`shrooms data weights KEY` fetches one);
- ``bad weights``: a checkpoint is found but does not load (corrupt, wrong sha256, does not fit the model):
  that tagger only is unavailable, the others carry on;
- ``not computed``: fewer than `MIN_TRACKS` of the collection's tracks have valid stored results;
- ``ready``: everything above holds: maps, scores and placement can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .collections import Collection, load_collection
from .config import using_cache
from .errors import ShroomsError
from .store import Store, StoredResults
from .taggers import TAGGERS, find_weights, get_spec, load_tagger, missing_message

MIN_TRACKS = 4  # the fewest tracks a map or a score is fitted on

READY, NO_WEIGHTS, BAD_WEIGHTS, NOT_COMPUTED = "ready", "no weights", "bad weights", "not computed"


@dataclass(frozen=True)
class TaggerStatus:
    """Where one tagger stands on one collection.

    Attributes
    ----------
    key : str
        The tagger's key (``fcn``, ``musicnn``, …).
    state : str
        ``ready``, ``no weights``, ``bad weights`` or ``not computed``.
    stored : int
        Tracks of the collection with valid stored results for this tagger (0 without usable weights).
    total : int
        Tracks in the collection.
    message : str
        One line for the user: what is wrong and what to do, or a summary when ready.
    """

    key: str
    state: str
    stored: int
    total: int
    message: str

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def has_weights(self) -> bool:
        """The checkpoint loads (the tagger can tag audio), whatever is stored."""
        return self.state in (READY, NOT_COMPUTED)


def status(collection: Collection | str | None, tagger: str, cache_dir=None,
           results: StoredResults | None = None) -> TaggerStatus:
    """Where tagger `tagger` stands on `collection`.

    Parameters
    ----------
    collection : Collection, str or None
        A collection, or what ``--collection`` takes (``demo``, ``gtzan`` or a folder path).
    tagger : str
        A tagger key (see ``shrooms.TAGGERS``).
    cache_dir : path-like, optional
        The cache to read (default: see `shrooms.config.cache_dir`).
    results : StoredResults, optional
        The tagger's stored rows (`Store.load(tagger)`) when the caller has read them already: they are
        counted instead of reading the store again, so the status and the answer come from one read.

    Returns
    -------
    TaggerStatus

    Raises
    ------
    ShroomsError
        For an unknown tagger key or a collection that cannot be loaded.

    Examples
    --------
    >>> shrooms.status("demo", "fcn").state        # doctest: +SKIP
    'ready'
    """
    spec = get_spec(tagger)
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else load_collection(collection)
        total = len(coll.tracks)
        if find_weights(spec) is None:
            return TaggerStatus(spec.key, NO_WEIGHTS, 0, total, missing_message(spec))
        try:
            load_tagger(spec.key)
        except ShroomsError as exc:
            return TaggerStatus(spec.key, BAD_WEIGHTS, 0, total, f"{spec.name}: bad weights: {exc}")
        stored = len((Store(coll).load(spec.key) if results is None else results).tracks)
    if stored < MIN_TRACKS:
        return TaggerStatus(spec.key, NOT_COMPUTED, stored, total,
                            f"{coll.name} is not computed for {spec.name} ({stored} of {total} tracks): run "
                            f"`shrooms precompute --collection {coll.source} --models {spec.key}`")
    return TaggerStatus(spec.key, READY, stored, total, f"{spec.name}: {stored} of {total} tracks stored")


def statuses(collection: Collection | str | None, taggers: list[str] | None = None,
             cache_dir=None, results: dict[str, StoredResults] | None = None) -> dict[str, TaggerStatus]:
    """`status` of every tagger in `taggers` (default: all seven), in registry order; `results`
    ({key: stored rows}) are counted instead of read again where given."""
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else load_collection(collection)
        return {key: status(coll, key, results=(results or {}).get(key)) for key in (taggers or list(TAGGERS))}


def ready_keys(collection: Collection, taggers: list[str] | None = None) -> list[str]:
    """The keys of the taggers that are ready on `collection`."""
    return [key for key, s in statuses(collection, taggers).items() if s.ready]
