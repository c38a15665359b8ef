"""Shared fixtures: where the shared recordings, weights and conformance fixtures are, and a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHROOMS_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
CONFORMANCE = Path(os.environ.get("SHROOMS_CONFORMANCE_DIR", SHARED / "conformance"))
RELEASED = ("fcn", "musicnn", "crnn")


def pytest_configure(config: pytest.Config) -> None:
    """Tests read real weights from the shared folder unless told otherwise, and never write to cache/."""
    os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(SHARED / "weights"))
    os.environ.setdefault("SHROOMS_CACHE", str(Path(config.rootpath) / ".pytest_cache" / "shrooms-cache"))


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty cache folder for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SHROOMS_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def demo_collection():
    """The generated demo collection, precomputed once per session for the released taggers."""
    from shrooms.collections import demo_collection as make
    from shrooms.precompute import precompute
    coll = make()
    precompute(coll, list(RELEASED), show_bar=False)
    return coll


@pytest.fixture(scope="session")
def debian():
    """Real labelled music (tests/debian_music.py: 3 labels × 12 clips of 30 s), precomputed for the
    released taggers: (collection, one held-out clip per label)."""
    from shrooms.collections import folder_collection
    from shrooms.precompute import precompute

    from .debian_music import debian_collection
    root, held_out = debian_collection(clips_per_label=12, seconds=30.0)
    collection = folder_collection(root)
    summary = precompute(collection, list(RELEASED), show_bar=False)
    assert not summary.failed
    return collection, held_out
