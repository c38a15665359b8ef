"""The notebook example runs as written, on real recordings, and says what it should."""

from __future__ import annotations

import re
import subprocess
import sys

from .audio_files import COUNTRY
from .conftest import ROOT
from .test_api import labelled_folder


def test_notebook_example_runs_on_real_music(tmp_path) -> None:
    folder = labelled_folder(tmp_path / "music")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook.py"), str(folder), str(COUNTRY)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("top tags (fcn): ") and len(lines[0].split(", ")) == 3
    assert lines[1] == "embedded: 6 tracks, musicnn 200-d, labels ['indian', 'western']"
    assert lines[2] == "map: (6, 2)"
    x, y = map(float, re.fullmatch(r"new song lands at: \[(.+), (.+)\]", lines[3]).groups())
    accuracy, chance = map(float, re.fullmatch(r"Hungarian k-means accuracy: (\S+) \(chance (\S+)\)", lines[4]).groups())
    assert chance == 0.5 and 0.5 <= accuracy <= 1.0
    cka = float(re.fullmatch(r"CKA fcn vs musicnn: (\S+)", lines[5]).group(1))
    assert 0.0 < cka < 1.0
