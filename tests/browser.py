"""Shared pieces of the browser tests: `streamlit run app.py` on 127.0.0.1, Debian's Chromium driven by
Playwright (never a downloaded browser), and waiting for Streamlit to finish a run."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
# Screenshots go to a scratch folder: tests never write into tracked files. To refresh the README's
# pictures, run the browser tests with SHROOMS_SCREENSHOTS=docs/screenshots.
SHOTS = Path(os.environ.get("SHROOMS_SCREENSHOTS", ROOT / ".pytest_cache" / "screenshots"))
skip_without_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("streamlit did not start")


@contextlib.contextmanager
def streamlit(env: dict | None = None, address: str | None = "127.0.0.1"):
    """`streamlit run app.py` from the project folder; yields (base URL on 127.0.0.1, port, process).
    `address=None` starts it exactly as the README says (the address comes from .streamlit/config.toml)."""
    port = free_port()
    args = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    if address:
        args += ["--server.address", address]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base, port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            yield browser
        finally:
            browser.close()


def settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)


def no_traceback(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, "a traceback is on the page"


def type_folder(page, path: str) -> None:
    """Pick "A music folder…" in the sidebar and type `path` into the folder box."""
    page.get_by_text("A music folder…").click()
    box = page.get_by_label("Folder path", exact=True).and_(page.locator("input"))
    box.fill(path)
    box.press("Enter")
    page.wait_for_timeout(1000)  # let the rerun start
    settle(page)
