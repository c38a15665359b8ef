"""Where shrooms keeps things: the cache folder and the weights folder, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The cache root: `SHROOMS_CACHE`, else `cache/` beside the package (a checkout), else `./cache`."""
    env = os.environ.get("SHROOMS_CACHE")
    if env:
        return Path(env).expanduser()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "cache"
    return Path.cwd() / "cache"


def weights_dirs() -> list[Path]:
    """Folders searched for `jamendo/<key>/best_model.pth`, in order: `SHROOMS_WEIGHTS_DIR`, then the cache."""
    dirs = []
    env = os.environ.get("SHROOMS_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir() / "weights")
    return dirs
