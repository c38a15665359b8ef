"""First start from an empty cache: seconds from `streamlit run app.py` to the first map drawn in Chromium
(the demo is synthesised, then the taggers run one at a time, fcn first; the map shows after the first),
and to every released tagger's map. Uses Debian's Chromium and the weights in SHROOMS_WEIGHTS_DIR.

    SHROOMS_WEIGHTS_DIR=../shared/weights python benchmarks/first_start.py [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
POINTS = "() => document.querySelectorAll('.js-plotly-plot .scatterlayer path.point').length > 0"


def one_start(port: int) -> tuple[float, float, float]:
    """(seconds to healthy, to the first map, to the last released tagger's embeddings) for one cold start."""
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SHROOMS_CACHE": cache}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            healthy = time.perf_counter() - start
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/explore")
                page.wait_for_function(POINTS, timeout=600_000)
                first = time.perf_counter() - start
                print(f"first map in Chromium after {first:.1f} s (server healthy after {healthy:.1f} s)", flush=True)
                page.wait_for_function("() => !document.body.innerText.includes('Computing ')", timeout=600_000,
                                       polling=500)
                done = time.perf_counter() - start
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return healthy, first, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--port", type=int, default=8599)
    args = parser.parse_args()
    results = [one_start(args.port) for _ in range(args.runs)]
    for name, values in zip(("server healthy", "first map in Chromium", "all taggers computed"), zip(*results)):
        print(f"{name:>24}: median {statistics.median(values):5.1f} s  (runs: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
