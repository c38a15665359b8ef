"""A small labelled collection of real, freely licensed music from Debian's packages (see
../shared/data/collections.md): one label per package, 30-s clips, cached outside the repository under
`$SHROOMS_TEST_AUDIO` (default ~/.cache/shrooms-test-audio) and keyed by package version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import soundfile as sf

from shrooms.audio import AUDIO_EXTENSIONS

PACKAGES = {"asc-music": "electronic", "asterisk-moh-opsound-wav": "lounge", "pushover-data": "themed"}
# Five styles for placement tests (one more held out with `debian_ood`): the three above plus two game scores.
STYLES = {**PACKAGES, "drascula-music": "adventure", "colobot-common-sounds": "scifi"}
CACHE = Path(os.environ.get("SHROOMS_TEST_AUDIO", Path.home() / ".cache" / "shrooms-test-audio"))


def deb(package: str) -> Path:
    """The package's .deb in the cache, downloaded with apt-get (after an index update if needed)."""
    folder = CACHE / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)  # apt's _apt user writes here
    found = sorted(folder.glob(f"{package}_*.deb"))
    if not found:
        if subprocess.run(["apt-get", "download", package], cwd=folder, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
            subprocess.run(["apt-get", "download", package], cwd=folder, check=True, capture_output=True)
        found = sorted(folder.glob(f"{package}_*.deb"))
    return found[-1]


def sources(package: str) -> list[Path]:
    """The package's music: its audio files of at least 45 s, extracted once per version."""
    archive = deb(package)
    tree = CACHE / "extracted" / archive.stem
    if not (tree / ".complete").exists():
        tree.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(archive), str(tree)], check=True)
        (tree / ".complete").touch()
    return sorted(p for p in tree.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and sf.info(p).duration >= 45)


def cut_clips(files: list[Path], n: int, seconds: float, skip: float = 10.0) -> list[tuple[Path, float]]:
    """`n` non-overlapping (file, offset) clips, round-robin over files, after each file's first `skip` s."""
    slots = [[(f, skip + i * seconds) for i in range(int((sf.info(f).duration - skip) // seconds))] for f in files]
    picked, depth = [], 0
    while len(picked) < n and any(depth < len(s) for s in slots):
        picked += [s[depth] for s in slots if depth < len(s)]
        depth += 1
    return picked[:n]


def debian_collection(clips_per_label: int = 12, seconds: float = 30.0,
                      packages: dict[str, str] = PACKAGES) -> tuple[Path, dict[str, Path]]:
    """(collection folder with <label>/<clip>.flac, one held-out clip per label outside it); `packages`
    maps each Debian package to its label (default: the three small ones; `STYLES`: five)."""
    versions = "-".join(deb(p).stem.split("_")[1].replace("%3a", "-") for p in packages)
    name = "debian" if packages == PACKAGES else f"debian{len(packages)}"
    root = CACHE / "collections" / f"{name}-{clips_per_label}x{int(seconds)}-{versions}"
    held = {label: root.parent / f"{root.name}-heldout" / f"{label}.flac" for label in packages.values()}
    if not (root / ".complete").exists():
        for package, label in packages.items():
            clips = cut_clips(sources(package), clips_per_label + 1, seconds)
            for i, (src, offset) in enumerate(clips):
                info = sf.info(src)
                x, sr = sf.read(src, start=int(offset * info.samplerate), frames=int(seconds * info.samplerate))
                dest = held[label] if i == len(clips) - 1 else root / label / f"{src.stem}_{int(offset):04d}.flac"
                dest.parent.mkdir(parents=True, exist_ok=True)
                sf.write(dest, x, sr)
        (root / ".complete").touch()
    return root, held


def debian_ood(package: str = "wesnoth-1.16-music", group: str = "orchestral", clips: int = 12,
               seconds: float = 30.0) -> Path:
    """A folder for `shrooms study --ood`: one sub-folder (`group`) of `clips` 30-s clips of a package
    that is not in `debian_collection`, a style the collection's maps were fitted without."""
    version = deb(package).stem.split("_")[1].replace("%3a", "-")
    root = CACHE / "collections" / f"ood-{package}-{clips}x{int(seconds)}-{version}"
    if not (root / ".complete").exists():
        for src, offset in cut_clips(sources(package), clips, seconds):
            info = sf.info(src)
            x, sr = sf.read(src, start=int(offset * info.samplerate), frames=int(seconds * info.samplerate))
            dest = root / group / f"{src.stem}_{int(offset):04d}.flac"
            dest.parent.mkdir(parents=True, exist_ok=True)
            sf.write(dest, x, sr)
        (root / ".complete").touch()
    return root
