"""Finding, downloading, verifying and strictly loading a tagger's released weights.

Search order: `$SHROOMS_WEIGHTS_DIR/jamendo/<key>/best_model.pth`, then `cache/weights/...`. Nothing is
downloaded unless asked (`download_weights`, `shrooms data weights`, Home's "Get the weights"). Each
download tries the sources in order, the upstream folder first, the musical-shrooms study's repository
next (`registry.WEIGHTS_SOURCES`), and keeps the first file whose sha256 (fcn, musicnn, crnn) or git blob
id (the other four) is the released one's. `$SHROOMS_WEIGHTS_URL`, one base URL or several separated by
commas, replaces that list (mirrors, air-gapped copies, tests): nothing else is contacted then.

A checkpoint found on disk is verified the same way before it is loaded (hashed once per file version),
so a wrong file (e.g. the MagnaTagATune checkpoint of the same network, which loads but names other tags)
is refused in one line. `$SHROOMS_WEIGHTS_UNVERIFIED`, tagger keys separated by commas or `all`, accepts
any checkpoint that loads strictly for those taggers: your own training, or synthetic test weights.
"""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from ..config import cache_dir, weights_dirs
from ..download import fetch, git_blob_id, sha256_of
from ..errors import ShroomsError, WeightsUnavailable
from .registry import TAGGERS, WEIGHTS_SOURCES, TaggerSpec


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


@functools.lru_cache(maxsize=None)
def blob_id_by_version(path: str, size: int, mtime_ns: int) -> str:
    return git_blob_id(Path(path))


def file_blob_id(path: Path) -> str:
    """git blob id of a file, hashed once per version of it (path, size, modification time)."""
    st = path.stat()
    return blob_id_by_version(str(path), st.st_size, st.st_mtime_ns)


def weights_urls(spec: TaggerSpec) -> list[str]:
    """The URLs `download_weights` tries for `spec`, in order: each base of `$SHROOMS_WEIGHTS_URL` (comma-
    separated) when set, else of `WEIGHTS_SOURCES`, followed by `spec.weights_path`."""
    bases = [b.strip().rstrip("/") for b in os.environ.get("SHROOMS_WEIGHTS_URL", "").split(",") if b.strip()]
    return [f"{base}/{spec.weights_path}" for base in bases or WEIGHTS_SOURCES]


def weights_url(spec: TaggerSpec) -> str:
    """The first URL `download_weights` tries for `spec`."""
    return weights_urls(spec)[0]


def unverified_keys() -> set[str]:
    """The taggers whose checkpoints on disk are loaded without checking the released digest:
    `$SHROOMS_WEIGHTS_UNVERIFIED`, keys separated by commas or `all`."""
    value = os.environ.get("SHROOMS_WEIGHTS_UNVERIFIED", "").strip()
    if value == "all":
        return set(TAGGERS)
    keys = {k.strip() for k in value.split(",") if k.strip()}
    unknown = sorted(keys - set(TAGGERS))
    if unknown:
        raise ShroomsError(f"SHROOMS_WEIGHTS_UNVERIFIED names unknown taggers ({', '.join(unknown)}): use keys "
                           f"of {', '.join(TAGGERS)}, or all")
    return keys


def verify_checkpoint(spec: TaggerSpec, path: Path) -> str:
    """The sha256 of the checkpoint at `path`, after checking it is `spec`'s released file: by sha256 where
    known, else by git blob id (skipped for the taggers `unverified_keys` names). One-line ShroomsError when
    it is not."""
    digest = file_sha256(path)
    if spec.key in unverified_keys():
        return digest
    if spec.sha256:
        if digest != spec.sha256:
            raise ShroomsError(f"{path}: sha256 differs from the released {spec.key} checkpoint")
    elif spec.git_blob and (blob := file_blob_id(path)) != spec.git_blob:
        raise ShroomsError(f"{path}: git blob id differs from the released {spec.key} checkpoint ({blob[:12]}…, "
                           f"expected {spec.git_blob[:12]}…; SHROOMS_WEIGHTS_UNVERIFIED={spec.key} loads your own)")
    return digest


def missing_message(spec: TaggerSpec) -> str:
    """The one-line "weights not available" explanation, with how to provide the file."""
    looked = ", ".join(str(d / spec.weights_path) for d in weights_dirs())
    return (f"{spec.name} ({spec.key}): weights not available — looked in {looked}; run "
            f"`shrooms data weights {spec.key}` to download {weights_url(spec)} (or the next source), or put "
            f"the file there (or set SHROOMS_WEIGHTS_DIR)")


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
    """Fetch `spec`'s checkpoint into the cache from the first of `weights_urls(spec)` that serves the
    released file (atomic; verified by sha256 where known, else by git blob id; a file that fails is not
    kept), and check it loads strictly. `progress(bytes_done, bytes_total)` is passed to `download.fetch`.
    Every error is one ShroomsError line starting "<name> (<key>) weights: "; when every source fails, it
    says why for each."""
    what = f"{spec.name} ({spec.key}) weights"
    dest = cache_dir() / "weights" / spec.weights_path
    failures = []
    for url in weights_urls(spec):
        try:
            fetch(url, dest, sha256=spec.sha256, git_blob=None if spec.sha256 else spec.git_blob, label=what,
                  progress=progress)
            break
        except ShroomsError as exc:
            failures.append(str(exc))
    else:
        raise ShroomsError(f"{what}: {failures[0]}" if len(failures) == 1 else
                           f"{what}: no source served the released file — " + "; ".join(failures))
    try:
        build_model(spec, read_state_dict(dest), str(dest))
    except ShroomsError as exc:
        dest.unlink()
        raise ShroomsError(f"{what}: {exc}") from None
    return dest


def load_model(spec: TaggerSpec, path: Path | None = None) -> tuple[nn.Module, str]:
    """The network with its weights (from `path`, else the first found) and their sha256, or
    WeightsUnavailable saying how to provide them. The file is verified first (`verify_checkpoint`)."""
    path = path or find_weights(spec)
    if path is None:
        raise WeightsUnavailable(missing_message(spec))
    digest = verify_checkpoint(spec, path)
    return build_model(spec, read_state_dict(path), str(path)), digest
