"""A 10,000-point map in a real browser: is it smooth? Builds the Explore figure (`views.map_figure`, the
app's own code) for N points in 10 labelled groups, then in headless Chromium (Debian's, via Playwright)
measures the first draw, a pan/zoom (relayout) and a recolouring (restyle), as WebGL traces (what the app
uses) and, up to 20,000 points, as SVG traces for comparison. Also the server side: building the figure
and its JSON.

    python benchmarks/big_map.py [--points 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shrooms.views import SVG_MAX_POINTS, map_figure  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

MEASURE = """async () => {
  const gd = document.getElementById('map');
  const times = async (n, act) => { const out = [];
    for (let i = 0; i < n; i++) { const t = performance.now(); await act(i); out.push(performance.now() - t); }
    return out; };
  const pan = await times(10, i => Plotly.relayout(gd, {'xaxis.range': [-60 + i, 60 + i], 'yaxis.range': [-60, 60]}));
  const recolour = await times(6, i => Plotly.restyle(gd, {'marker.size': i % 2 ? 7 : 9}));
  return {pan, recolour};
}"""


def frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """n points in 10 labelled blobs, with hover texts like the app's."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 10, n)
    xy = rng.normal(size=(n, 2)) * 6 + np.stack([np.cos(label), np.sin(label)], axis=1) * 35
    df = pd.DataFrame({"id": [f"track.{i:05d}" for i in range(n)], "label": [f"genre {g}" for g in label],
                       "x": xy[:, 0], "y": xy[:, 1]})
    df["hover"] = [f"<b>{i}</b><br>label: {g}<br>rock: 0.52<br>pop: 0.31<br>guitar: 0.20"
                   for i, g in zip(df["id"], df["label"])]
    return df, df["label"]


def as_svg(fig: go.Figure) -> go.Figure:
    """The same figure with SVG scatter traces instead of WebGL."""
    svg = go.Figure(layout=fig.layout)
    for trace in fig.data:
        svg.add_trace(go.Scatter(trace.to_plotly_json() | {"type": "scatter"}))
    return svg


def in_browser(page, fig: go.Figure, folder: Path, name: str) -> tuple[float, list[float], list[float]]:
    """(first draw ms, pan ms list, recolour ms list) of `fig` in the page."""
    html = folder / f"{name}.html"
    fig.write_html(html, include_plotlyjs=True, full_html=True, div_id="map")
    page.goto(html.as_uri())
    page.wait_for_function("() => document.getElementById('map')?._fullLayout !== undefined", timeout=120_000)
    first = page.evaluate("() => performance.getEntriesByType('navigation')[0].duration || performance.now()")
    result = page.evaluate(MEASURE)
    return first, result["pan"], result["recolour"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()
    df, colour = frame(args.points)
    start = time.perf_counter()
    fig = map_figure(df, colour, 2)
    payload = fig.to_json()
    server = time.perf_counter() - start
    print(f"{args.points} points: figure built and serialised in {server * 1000:.0f} ms, "
          f"{len(payload) / 2**20:.1f} MiB of JSON")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        figures = [("WebGL (scattergl, the app)", fig)]
        if args.points <= 4 * SVG_MAX_POINTS:  # the app draws SVG only up to SVG_MAX_POINTS
            figures.append(("SVG (scatter)", as_svg(fig)))
        for name, figure in figures:
            first, pan, recolour = in_browser(page, figure, Path(tmp), name.split()[0])
            print(f"{name:<28} page loaded and drawn {first:6.0f} ms; pan/zoom median {statistics.median(pan):5.0f} ms"
                  f" (max {max(pan):5.0f}); restyle median {statistics.median(recolour):5.0f} ms")
        browser.close()


if __name__ == "__main__":
    main()
