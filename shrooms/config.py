"""Where shrooms keeps things: the cache folder and the weights folders.

The cache root is, in order: the folder a caller chose for the current call (`using_cache`, which every
public function taking `cache_dir=` applies), `$SHROOMS_CACHE`, `cache/` in a source checkout of shrooms,
else the per-user cache folder (`platformdirs.user_cache_dir("shrooms")`, e.g. `~/.cache/shrooms` on Linux):
never the current working directory.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterator

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_chosen_cache: contextvars.ContextVar[Path | None] = contextvars.ContextVar("shrooms_cache", default=None)


def in_checkout() -> bool:
    """True when shrooms runs from its own source tree (an editable install or the repository itself)."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    return pyproject.is_file() and 'name = "shrooms"' in pyproject.read_text(errors="replace")


def cache_dir() -> Path:
    """The cache root (see the module docstring for the order in which it is chosen)."""
    chosen = _chosen_cache.get()
    if chosen is not None:
        return chosen
    env = os.environ.get("SHROOMS_CACHE")
    if env:
        return Path(env).expanduser()
    if in_checkout():
        return PROJECT_ROOT / "cache"
    return Path(platformdirs.user_cache_dir("shrooms"))


@contextlib.contextmanager
def using_cache(path: str | os.PathLike | None) -> Iterator[Path]:
    """Within the block, `cache_dir()` is `path` (no change when `path` is None).

    Examples
    --------
    >>> with using_cache("/tmp/my-cache"):
    ...     cache_dir()
    PosixPath('/tmp/my-cache')
    """
    if path is None:
        yield cache_dir()
        return
    token = _chosen_cache.set(Path(path).expanduser())
    try:
        yield _chosen_cache.get()
    finally:
        _chosen_cache.reset(token)


def weights_dirs() -> list[Path]:
    """Folders searched for `jamendo/<key>/best_model.pth`, in order: `SHROOMS_WEIGHTS_DIR`, then the cache."""
    dirs = []
    env = os.environ.get("SHROOMS_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir() / "weights")
    return dirs
