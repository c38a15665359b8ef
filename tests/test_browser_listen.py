"""The Listen page in a real browser (Debian's Chromium via Playwright, `streamlit run app.py` on 127.0.0.1):
on a small folder of real recordings precomputed for FCN, Musicnn and CRNN, ten votes are cast blind
through the page; the server is killed (SIGKILL) and started again, and the page's summary and `shrooms
listening --json` count exactly those ten votes, per pair and per choice."""

from __future__ import annotations

import json
import re
import signal
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from shrooms import listening
from shrooms.collections import folder_collection
from shrooms.config import using_cache
from shrooms.precompute import precompute
from shrooms.taggers import TAGGERS

from .browser import chromium, no_traceback, skip_without_chromium, streamlit
from .conftest import DATA, RELEASED
from .helpers import run_cli

pytestmark = skip_without_chromium

CLICKS = ["A is closer", "B is closer", "Same", "A is closer", "A is closer", "B is closer", "Same",
          "B is closer", "A is closer", "A is closer"]
CHOICE = {"A is closer": "a", "B is closer": "b", "Same": "same"}
NAMES = {spec.name: key for key, spec in TAGGERS.items()}
REVEAL = re.compile(r"A was (.+?)'s neighbour (\S+), B was (.+?)'s (\S+?)\.?$")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """(a folder of 11 real recordings, a private cache holding their rows for the three released taggers)."""
    root = tmp_path_factory.mktemp("listen")
    music, cache = root / "music", root / "cache"
    music.mkdir()
    for f in sorted((DATA / "formats").iterdir()):
        (music / f.name).symlink_to(f)
    with using_cache(cache):
        summary = precompute(folder_collection(music), list(RELEASED), show_bar=False)
    assert not summary.failed
    return music, cache


LOADED = 300_000  # ms: a first run (imports, the collection's status) on a machine shared with other work


def quiet(page) -> None:
    """`browser.settle`, with room for a loaded machine."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=LOADED)


def open_listen(page, url: str) -> None:
    """Open the Listen page and wait for its first trial (failing with the page's text if it shows none)."""
    page.goto(url)
    page.wait_for_selector("h3:has-text('Trial'), [data-testid='stAlert'], [data-testid='stException']",
                           timeout=LOADED)
    quiet(page)
    no_traceback(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "Trial 1" in main, main


def heading(page) -> str:
    return page.locator("h3").filter(has_text=re.compile(r"^Trial \d+$")).first.inner_text()


def summary_table(page, votes: int) -> dict[str, dict[str, str]]:
    """The page's summary table once it counts `votes` (Streamlit replaces a run's elements one by one):
    pair → {votes, first wins, second wins, same}."""
    page.wait_for_function("""n => [...document.querySelectorAll("[data-testid='stTable'] tbody tr")]
        .reduce((sum, tr) => sum + Number(tr.querySelectorAll('th,td')[1].innerText), 0) === n""",
                           arg=votes, timeout=120_000)
    rows = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stTable'] tr")]
        .map(tr => [...tr.querySelectorAll('th,td')].map(c => c.innerText.trim()))""")
    header, body = rows[0], rows[1:]
    keep = ("votes", "first wins", "second wins", "same")
    return {row[0]: {k: v for k, v in zip(header[1:], row[1:]) if k in keep} for row in body}


def expected_pairs(cast: list[dict]) -> dict[str, dict[str, str]]:
    """Counted by hand from what was clicked and revealed: per pair (registry order) votes, wins, same."""
    order = list(TAGGERS)
    out: dict[str, Counter] = {}
    for v in cast:
        first, second = sorted((v["tagger_a"], v["tagger_b"]), key=order.index)
        counts = out.setdefault(f"{TAGGERS[first].name} vs {TAGGERS[second].name}", Counter())
        counts["votes"] += 1
        if v["choice"] == "same":
            counts["same"] += 1
        else:
            winner = v["tagger_a"] if v["choice"] == "a" else v["tagger_b"]
            counts["first wins" if winner == first else "second wins"] += 1
    return {pair: {k: str(c[k]) for k in ("votes", "first wins", "second wins", "same")} for pair, c in out.items()}


def test_ten_blind_votes_survive_a_killed_server(library) -> None:
    music, cache = library
    env = {"SHROOMS_CACHE": str(cache), "SHROOMS_LIBRARY_ROOTS": str(music)}
    url = f"/listen?collection={quote(str(music), safe='')}"
    cast: list[dict] = []
    with chromium() as browser:
        with streamlit(env) as (base, _, proc):
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            open_listen(page, base + url)
            main = page.locator("[data-testid='stMain']").inner_text()
            assert "No votes on music yet" in main
            assert not any(name in main for name in NAMES), "a tagger is named before the vote"  # blind
            for n, click in enumerate(CLICKS, start=1):
                assert heading(page) == f"Trial {n}"
                page.wait_for_function("() => [...document.querySelectorAll('audio')].filter(a => a.src).length === 3",
                                       timeout=120_000)  # seed, A and B, each playable
                button = page.locator(f".st-key-listen_{CHOICE[click]}_{n - 1} button")  # this trial's, not a stale one
                assert button.inner_text().strip() == click
                button.click()
                page.wait_for_function(f"""() => [...document.querySelectorAll('h3')]
                    .some(h => h.innerText.trim() === 'Trial {n + 1}')""", timeout=120_000)
                page.wait_for_selector(f"text={n} vote{'s' if n > 1 else ''} on music from 1 session", timeout=120_000)
                quiet(page)
                no_traceback(page)
                reveal = page.locator("[data-testid='stAlertContentSuccess']").inner_text().strip()
                a_name, track_a, b_name, track_b = REVEAL.search(reveal).groups()
                cast.append({"tagger_a": NAMES[a_name], "tagger_b": NAMES[b_name], "track_a": track_a.strip("`"),
                             "track_b": track_b.strip("`"), "choice": CHOICE[click]})
            expected = expected_pairs(cast)
            assert summary_table(page, 10) == expected
            proc.send_signal(signal.SIGKILL)  # no clean shutdown: the votes must already be on disk
            proc.wait(timeout=30)

        with streamlit(env) as (base, _, _):
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            open_listen(page, base + url)
            page.wait_for_selector("text=10 votes on music from 1 session.", timeout=120_000)
            assert summary_table(page, 10) == expected

    # the store holds exactly the ten votes as cast, in order, from one browser session
    with using_cache(cache):
        stored = listening.votes(folder_collection(music))
    assert [{k: v[k] for k in ("tagger_a", "tagger_b", "track_a", "track_b", "choice")} for v in stored] == cast
    assert len({v["session"] for v in stored}) == 1
    assert Counter(v["choice"] for v in stored) == Counter(CHOICE[c] for c in CLICKS) == {"a": 5, "b": 3, "same": 2}

    proc = run_cli("listening", "--collection", str(music), "--json", env={"SHROOMS_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["votes"] == 10 and result["sessions"] == 1
    assert {f"{TAGGERS[p['a']].name} vs {TAGGERS[p['b']].name}": {
        "votes": str(p["votes"]), "first wins": str(p["wins_a"]), "second wins": str(p["wins_b"]),
        "same": str(p["same"])} for p in result["pairs"]} == expected
