"""The app's cached loaders: every view is cached under what it shows.

A page computes its collection's `fingerprint` once per run: the folder's listing (which files, their
sizes and times), the store's revision (bumped by every commit, failure or repair, and changed by any
file of the collection changing) and the digest of every tagger's weights. Each cached view takes it as
`version`, a hashed argument, so a precompute in another process, an added or changed file or a weights
swap gives the next run new views, without a restart. Within one version the store is read once per
tagger (`rows`), and every view of the page (map, colours, trajectory, profiles, scores, status) is made
of those same rows: a precompute writing meanwhile cannot make the map disagree with its table.

Models are loaded once per process by `shrooms.taggers.load_tagger` itself, for the CLI and the app alike.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import views
from ..agreement import model_agreement
from ..analysis import collection_hubness, confusion_for, report
from ..collections import Collection
from ..status import TaggerStatus, statuses as tagger_statuses
from ..store import Store, StoredResults
from ..study import study_figure
from ..taggers import TAGGERS, current_sha256
from .folders import Opened, collection_at

SEPARATOR = ";"


def fingerprint(opened: Opened) -> str:
    """`listing;revision;key:weights sha256,…` of an opened collection: changes whenever the folder's files,
    any stored result or any tagger's weights change, so the views keyed by it refresh."""
    weights = ",".join(f"{key}:{current_sha256(spec)}" for key, spec in TAGGERS.items())
    return SEPARATOR.join([opened.listing, Store(opened.collection).revision(), weights])


def collection(source: str, version: str) -> Collection:
    """The collection a view of `version` is computed on (as its page loaded it)."""
    return collection_at(source, version.split(SEPARATOR, 1)[0])


@st.cache_resource(show_spinner=False, max_entries=16)
def rows(source: str, key: str, version: str) -> StoredResults:
    """Tagger `key`'s stored rows at `version`: the store's one read every view of that version shares.
    Shared, not copied: views read them and never change them."""
    return Store(collection(source, version)).load(key)


@st.cache_data(show_spinner=False, max_entries=32)
def statuses(source: str, version: str) -> dict[str, TaggerStatus]:
    """Every tagger's `shrooms.status` at `version`: computed once per revision, not on every run."""
    return tagger_statuses(collection(source, version))


@st.cache_data(show_spinner="Drawing the map…", max_entries=64)
def map_frame(source: str, key: str, method: str, dims: int, version: str, space: str = "embedding",
              tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.map_frame(collection(source, version), key, method, dims, space, tags,
                           results=rows(source, key, version))


@st.cache_data(show_spinner=False, max_entries=64)
def colours(source: str, key: str, method: str, dims: int, by: str, tag: str | None, version: str,
            space: str = "embedding", tags: tuple[str, str] | None = None) -> pd.Series:
    return views.colour_values(collection(source, version), key,
                               map_frame(source, key, method, dims, version, space, tags), by, tag, space=space,
                               results=rows(source, key, version))


@st.cache_data(show_spinner="Placing the track's chunks…", max_entries=256)
def trajectory(source: str, key: str, track_id: str, method: str, dims: int, version: str, space: str = "embedding",
               tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.track_trajectory(collection(source, version), key, track_id, method, dims, space, tags,
                                  results=rows(source, key, version))


@st.cache_data(show_spinner="Tagging your track chunk by chunk…", max_entries=64)
def upload_trajectory(source: str, key: str, digest: str, _data: bytes, name: str, version: str,
                      method: str = "tsne") -> pd.DataFrame:
    return views.upload_trajectory(collection(source, version), key, _data, name, method,
                                   results=rows(source, key, version))


@st.cache_data(show_spinner="Placing your tracks…", max_entries=64)
def placed_points(source: str, key: str, method: str, version: str, digests: tuple[str, ...], embeddings):
    """The uploads `digests` (their embeddings, (m, D), in that order) placed on the 2-D `method` map."""
    return views.projected(collection(source, version), key, embeddings, "embedding", method, 2,
                           results=rows(source, key, version))


@st.cache_data(show_spinner="Adding your tracks to the map…", max_entries=32)
def joint_frame(source: str, key: str, version: str, digests: tuple[str, ...], embeddings):
    """The 2-D map re-optimised with the uploads `digests` (their embeddings, (m, D), in that order) in it."""
    return views.joint_frame(collection(source, version), key, map_frame(source, key, "tsne", 2, version),
                             embeddings, results=rows(source, key, version))


@st.cache_data(show_spinner="Placing every chunk…", max_entries=16)
def segments(source: str, key: str, method: str, dims: int, version: str, space: str = "embedding",
             tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.segments_frame(collection(source, version), key, method, dims, space, tags,
                                results=rows(source, key, version))


@st.cache_data(show_spinner=False, max_entries=32)
def chunks_per_track(source: str, key: str, version: str) -> float:
    return views.chunks_per_track(collection(source, version), key)


@st.cache_data(show_spinner=False, max_entries=32)
def label_tags(source: str, key: str, measure: str, version: str):
    return views.label_tag_figure(rows(source, key, version), key, measure, collection(source, version).name)


@st.cache_data(show_spinner="Comparing the taggers (CKA, neighbour overlap)…", max_entries=16)
def agreement(source: str, keys: tuple[str, ...], space: str, version: str) -> dict:
    return model_agreement(collection(source, version), list(keys), space,
                           results={key: rows(source, key, version) for key in keys})


@st.cache_data(show_spinner="Measuring hubness (k-occurrence, mutual proximity, CSLS)…", max_entries=16)
def hubness(source: str, keys: tuple[str, ...], space: str, version: str) -> dict[str, dict]:
    """{key: `analysis.collection_hubness`} of every tagger in `keys`, over all its stored tracks."""
    return {key: collection_hubness(collection(source, version), key, space, results=rows(source, key, version))
            for key in keys}


@st.cache_data(show_spinner="Tagging the folder, placing its groups and mapping them with the collection…",
               max_entries=8)
def study(source: str, folder: str, keys: tuple[str, ...], version: str,
          method: str = "tsne") -> tuple[pd.DataFrame, dict]:
    """The study's table and, per tagger, its two maps: {"joint": figure (t-SNE), "placed": figure (`method`)}."""
    coll = collection(source, version)
    stored = {key: rows(source, key, version) for key in keys}
    ood, models = views.study_models(coll, folder, list(keys), results=stored, method=method)
    figures = {key: {view: study_figure(coll, ood, key, models[key], results=stored[key], view=view)
                     for view in ("joint", "placed")} for key in models}
    return views.study_table(models), figures


@st.cache_data(show_spinner="Scoring the taggers (clusters, kNN, probe)…", max_entries=16)
def scores(source: str, keys: tuple[str, ...], version: str) -> dict:
    return report(collection(source, version), list(keys), seeds=(0, 1, 2),
                  results={key: rows(source, key, version) for key in keys})


@st.cache_data(show_spinner=False, max_entries=32)
def confusion(source: str, key: str, version: str) -> pd.DataFrame:
    return confusion_for(collection(source, version), key, results=rows(source, key, version))


@st.cache_data(show_spinner=False, max_entries=256)
def audio(path: str, size: int, mtime_ns: int) -> tuple[bytes, str]:
    """A file's playable bytes, cached per version of the file (its `size` and `mtime_ns`)."""
    return views.playable(path)
