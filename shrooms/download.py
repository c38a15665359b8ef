"""Resumable, atomic, verified HTTP downloads with a progress bar (weights and datasets)."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .errors import ShroomsError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1-MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(path: Path) -> str:
    """Hex git blob id of a file: SHA-1 of ``b"blob <size>\\0"`` + its bytes, what `git hash-object` prints
    and what a repository's tree lists for the file."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: Path, sha256: str | None = None, label: str | None = None,
          timeout: float = 30.0, progress: Callable[[int, int | None], None] | None = None,
          git_blob: str | None = None) -> Path:
    """Download `url` to `dest`: appends to `dest.part` (resuming a killed download with an HTTP Range
    request), checks the sha256 and the git blob id where given, then renames into place so `dest` is never
    half written.

    `progress(bytes_done, bytes_total)` is called after every block (and once at the start, with the bytes a
    resumed download already has); `bytes_total` is None when the server does not say. A file that fails a
    check is deleted (`dest.part` too) and the error is one line naming `url` and the actual and expected
    digests."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if have and response.status != 206:  # server ignored the range: start over
                have = 0
            total = response.length + have if response.length is not None else None
            with open(part, "ab" if have else "wb") as out, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=label or dest.name,
                    disable=None) as bar:
                done = have
                if progress:
                    progress(done, total)
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
                    done += len(block)
                    if progress:
                        progress(done, total)
        if total is not None and part.stat().st_size < total:
            raise ShroomsError(f"download of {url} was cut off at {part.stat().st_size} of {total} bytes "
                               f"(the partial file is kept at {part} and the next try resumes it)")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            pass
        else:
            raise ShroomsError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # offline, refused, cut off
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        kept = (f"; the partial file is kept at {part} and the next try resumes it"
                if part.exists() and part.stat().st_size else "")
        raise ShroomsError(f"download of {url} failed: {reason} (offline?{kept})") from None
    for kind, expected, digest_of in (("sha256", sha256, sha256_of), ("git blob id", git_blob, git_blob_id)):
        if expected and (actual := digest_of(part)) != expected.lower():
            part.unlink()
            raise ShroomsError(f"download of {url} gave another file than expected ({kind} {actual}, expected "
                               f"{expected.lower()}): it was not kept")
    os.replace(part, dest)
    return dest
