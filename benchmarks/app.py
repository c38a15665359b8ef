"""App responsiveness on cached data: how long the Explore page takes to render, and to rerun after
switching tagger, view, projection or colouring (Streamlit's AppTest runs the real script in-process).

    python benchmarks/app.py [--collection demo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shrooms.collections import load_collection  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.taggers import available_taggers  # noqa: E402


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="demo")
    args = parser.parse_args()
    keys = list(available_taggers()[0])
    precompute(load_collection(args.collection), keys, show_bar=False)
    at = AppTest.from_file(str(ROOT / "app_pages" / "explore.py"), default_timeout=300)
    first = timed(at.run)  # fits or loads every map it needs, fills Streamlit's caches
    print(f"Explore, first render (maps from disk or fitted): {first:.2f} s")
    for key in keys:  # warm every tagger once, as a user flying over them would
        at.selectbox(key="explore_tagger").set_value(key).run()
    steps = {
        "switch tagger": [lambda k=k: at.selectbox(key="explore_tagger").set_value(k).run() for k in keys * 2],
        "colour by label/cluster/top tag": [lambda b=b: at.selectbox(key="explore_colour").set_value(b).run()
                                            for b in ("cluster", "top tag", "label") * 2],
        "2-D ↔ 3-D": [lambda d=d: at.radio(key="explore_dims").set_value(d).run() for d in (3, 2) * 3],
    }
    for name, actions in steps.items():
        times = [timed(a) for a in actions][1:]  # the first visit of each state fills the caches
        print(f"{name:<34} median {statistics.median(times) * 1000:5.0f} ms, max {max(times) * 1000:5.0f} ms "
              f"over {len(times)} reruns")
    assert not at.exception


if __name__ == "__main__":
    main()
