"""First start from an empty cache: seconds from `streamlit run app.py` to the first map drawn in Chromium
(the demo is synthesised, then the taggers run one at a time, fcn first; the map shows after the first),
and until every ready tagger's demo map is drawn (each tagger whose weights are in SHROOMS_WEIGHTS_DIR:
FCN, Musicnn and CRNN with the released ones). Uses Debian's Chromium.

    SHROOMS_WEIGHTS_DIR=../shared/weights python benchmarks/first_start.py [--runs 2]

Chromium opens the home page (what `streamlit run` opens), waits while it computes FCN, then clicks
Explore, as a user would, and waits for FCN's map's points; then it picks each other ready tagger in the
Tagger box as soon as the previous map is drawn (its map appears when its embeddings are done; picking it
meanwhile interrupts the running precompute, which resumes, as for a user) and waits for that tagger's
points. Each start gets its own empty cache (SHROOMS_CACHE) and a free port, so the weights must come from
SHROOMS_WEIGHTS_DIR. The CPU model and the load average are printed with the figures.

Every wait is bounded and a failure is one line naming the step and what the page said. (An earlier
version waited forever: a page ending early with `st.stop()` also stopped app.py's queued precompute on a
real server; pages now end with `session.stop_page()`, tested in tests/test_app.py.)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
COMPUTING_FCN = "Computing FCN"



def points(key: str) -> str:
    """A page function: whether tagger `key`'s Explore map (its chart's key starts explore_map_<key>_) has points."""
    return (f"() => document.querySelectorAll('[class*=\"st-key-explore_map_{key}_\"] .js-plotly-plot "
            ".scatterlayer path.point').length > 0")


class Failed(Exception):
    """One start went wrong: the message says which step."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise Failed(f"streamlit exited ({proc.returncode}): {tail[0]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise Failed(f"streamlit not healthy after {seconds:.0f} s")


def pick_tagger(page, name: str) -> None:
    """Choose `name` in Explore's Tagger box, as a user does."""
    page.locator("[data-testid='stSelectbox']").filter(has_text="Tagger").first.click()
    page.locator("[role='option']").filter(has_text=name).first.click()


def one_start(timeout: float, ready: list[str], first_only: bool = False) -> tuple[float, float, float]:
    """(seconds to healthy, to the first map, to every tagger in `ready`'s map drawn) for one cold start;
    `ready[0]` is the tagger computed first (FCN)."""
    from shrooms.taggers import TAGGERS
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SHROOMS_CACHE": cache}
        log = Path(cache) / "streamlit.log"
        with open(log, "wb") as out:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                     "--server.address", "127.0.0.1", "--server.headless", "true",
                                     # edits of the tree during a run must not rerun or break the measured app
                                     "--server.fileWatcherType", "none"],
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_healthy(port, proc, log, 120)
            healthy = time.perf_counter() - start
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/")  # the home page, as `streamlit run` opens it
                try:
                    page.wait_for_function(f"() => document.body.innerText.includes('{COMPUTING_FCN}')",
                                           timeout=timeout * 1000, polling=200)
                    fcn_started = time.perf_counter() - start
                    page.wait_for_function(f"() => !document.body.innerText.includes('{COMPUTING_FCN}')",
                                           timeout=timeout * 1000, polling=200)
                    fcn_done = time.perf_counter() - start
                    page.click("a[href$='/explore']")  # as a user does once FCN is done
                    page.wait_for_function(points(ready[0]), timeout=timeout * 1000)
                    first = time.perf_counter() - start
                    print(f"first map in Chromium after {first:.1f} s (server healthy after {healthy:.1f} s, demo "
                          f"ready and FCN started after {fcn_started:.1f} s, FCN done after {fcn_done:.1f} s)",
                          flush=True)
                    done = float("nan")
                    for key in [] if first_only else ready[1:]:
                        pick_tagger(page, TAGGERS[key].name)
                        page.wait_for_function(points(key), timeout=timeout * 1000, polling=200)
                        done = time.perf_counter() - start
                        print(f"{TAGGERS[key].name}'s map drawn after {done:.1f} s", flush=True)
                except PlaywrightTimeout:
                    text = " ".join(page.inner_text("body").split())[:300]
                    raise Failed(f"a map missing after {time.perf_counter() - start:.0f} s; the page says: {text}"
                                 ) from None
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return healthy, first, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--first-map-only", action="store_true", help="stop each run at the first map")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for each map (default 300)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from shrooms.taggers import TAGGERS, find_weights
    if not any(find_weights(spec) for spec in TAGGERS.values()) or not os.environ.get("SHROOMS_WEIGHTS_DIR"):
        sys.exit("first_start.py: error: no tagger weights in SHROOMS_WEIGHTS_DIR (each start has an empty cache, "
                 "so the weights must come from there): SHROOMS_WEIGHTS_DIR=../shared/weights")
    if not Path(CHROMIUM).exists():
        sys.exit(f"first_start.py: error: {CHROMIUM} not found (apt-get install chromium)")
    ready = [key for key, spec in TAGGERS.items() if find_weights(spec)]
    from benchmarks.taggers import machine  # after the check: it defaults SHROOMS_WEIGHTS_DIR for the benchmarks
    print(f"{machine()}\nready taggers: {', '.join(ready)}; load average before: {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for run in range(args.runs):
        try:
            results.append(one_start(args.timeout, ready, args.first_map_only))
        except Failed as exc:
            sys.exit(f"first_start.py: error: run {run + 1}: {exc}")
    print(f"load average after: {os.getloadavg()[0]:.1f} (a shared machine: the load shares the 2 cores)")
    every = "every ready tagger's map drawn"
    for name, values in zip(("server healthy", "first map in Chromium", every), zip(*results)):
        if args.first_map_only and name == every:
            continue
        print(f"{name:>30}: median {statistics.median(values):5.1f} s  (runs: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
