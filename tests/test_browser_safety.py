"""Safe to serve, in Chromium: the app started as the README says (`streamlit run app.py`) listens on the
loopback only, and folder paths like `/` and `/proc` are one error line, never a traceback."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from .browser import chromium, no_traceback, settle, skip_without_chromium, streamlit, type_folder

pytestmark = skip_without_chromium


def outward_address() -> str | None:
    """This machine's non-loopback IPv4 address (the UDP-connect trick: no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module")
def app(demo_collection):
    with streamlit(address=None) as (base, port, _), chromium() as browser:
        yield base, port, browser


def test_served_on_the_loopback_only(app) -> None:
    base, port, _ = app
    assert urllib.request.urlopen(f"{base}/_stcore/health", timeout=5).status == 200
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError):  # refused: nothing listens there
        urllib.request.urlopen(f"http://{address}:{port}/_stcore/health", timeout=5)


@pytest.mark.parametrize("path", ["/", "/proc"])
def test_system_folders_are_one_error_line(app, path) -> None:
    base, _, browser = app
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base)
    settle(page)
    type_folder(page, path)
    page.wait_for_selector("[data-testid='stAlertContentError']", timeout=60_000)
    settle(page)
    errors = page.locator("[data-testid='stAlertContentError']")
    assert errors.count() == 1
    text = errors.inner_text().strip()
    assert text.startswith(f"{path}: ") and "\n" not in text, text
    no_traceback(page)
    page.close()
