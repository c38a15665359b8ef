"""Finding, downloading and strictly loading a tagger's released weights.

Search order: `$SHROOMS_WEIGHTS_DIR/jamendo/<key>/best_model.pth`, then `cache/weights/...`. Nothing is
downloaded unless asked (`download_weights`, `shrooms data weights`); `$SHROOMS_WEIGHTS_URL` replaces
the upstream base URL (mirrors, tests).
"""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from ..config import cache_dir, weights_dirs
from ..download import fetch, sha256_of
from ..errors import ShroomsError, WeightsUnavailable
from .registry import WEIGHTS_BASE_URL, TaggerSpec


def find_weights(spec: TaggerSpec) -> Path | None:
    """The first checkpoint on disk for `spec`, or None. Never touches the network."""
    for folder in weights_dirs():
        path = folder / spec.weights_path
        if path.is_file():
            return path
    return None


def current_sha256(spec: TaggerSpec) -> str | None:
    """sha256 of the checkpoint `find_weights` finds now, or None; each file version is hashed once."""
    path = find_weights(spec)
    return file_sha256(path) if path else None


def file_sha256(path: Path) -> str:
    """sha256 of a file, hashed once per version of it (path, size, modification time)."""
    st = path.stat()
    return sha256_by_version(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=None)
def sha256_by_version(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))


def weights_url(spec: TaggerSpec) -> str:
    base = os.environ.get("SHROOMS_WEIGHTS_URL", WEIGHTS_BASE_URL).rstrip("/")
    return f"{base}/{spec.weights_path}"


def missing_message(spec: TaggerSpec) -> str:
    """The one-line "weights not available" explanation, with how to provide the file."""
    looked = ", ".join(str(d / spec.weights_path) for d in weights_dirs())
    return (f"{spec.name} ({spec.key}): weights not available — looked in {looked}; run "
            f"`shrooms data weights {spec.key}` to download {weights_url(spec)}, or put the file there "
            f"(or set SHROOMS_WEIGHTS_DIR)")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a checkpoint as tensors only (upstream files are legacy pickles saved from CUDA)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as exc:
        raise ShroomsError(f"{path}: not a readable PyTorch checkpoint ({str(exc).splitlines()[0]})") from None
    if not isinstance(state, dict):
        raise ShroomsError(f"{path}: not a state_dict (found {type(state).__name__})")
    return state


def build_model(spec: TaggerSpec, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Instantiate `spec`'s network and load `state` with strict=True, in eval mode."""
    model = spec.build()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:300]
        raise ShroomsError(f"{source}: does not fit {spec.name} ({first})") from None
    return model.eval()


def download_weights(spec: TaggerSpec, progress=None) -> Path:
    """Fetch `spec`'s checkpoint into the cache (atomic, sha256-checked) and check it loads strictly.
    `progress(bytes_done, bytes_total)` is passed to `download.fetch`."""
    dest = cache_dir() / "weights" / spec.weights_path
    fetch(weights_url(spec), dest, sha256=spec.sha256, label=f"{spec.key} weights", progress=progress)
    try:
        build_model(spec, read_state_dict(dest), str(dest))
    except ShroomsError:
        dest.unlink()
        raise
    return dest


def load_model(spec: TaggerSpec, path: Path | None = None) -> tuple[nn.Module, str]:
    """The network with its weights (from `path`, else the first found) and their sha256, or
    WeightsUnavailable saying how to provide them."""
    path = path or find_weights(spec)
    if path is None:
        raise WeightsUnavailable(missing_message(spec))
    digest = file_sha256(path)
    if spec.sha256 and digest != spec.sha256:
        raise ShroomsError(f"{path}: sha256 differs from the released {spec.key} checkpoint")
    return build_model(spec, read_state_dict(path), str(path)), digest
