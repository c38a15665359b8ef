"""Bad files fail one at a time: precompute over a folder holding files with lying headers finishes and
lists them; `shrooms place` places the readable songs and lists the unreadable ones, in text and JSON."""

from __future__ import annotations

import json

import pytest

from shrooms.collections import folder_collection
from shrooms.precompute import precompute

from .audio_files import BAD_HEADER_ERRORS, COUNTRY, TRUNCATED_30S, bad_headers, expected_stderr, make_folder
from .helpers import assert_no_traceback, run_cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple:
    """Six real excerpts and the four lying WAVs (in `bad/`), precomputed for FCN by the library."""
    root = make_folder(tmp_path_factory.mktemp("songs"), 6, seconds=6.0)
    bad = bad_headers(root / "bad")
    summary = precompute(folder_collection(root), ["fcn"], show_bar=False)
    return root, bad, summary


def test_precompute_finishes_and_lists_each_bad_file_with_its_reason(folder) -> None:
    root, bad, summary = folder
    assert summary.computed == 7  # six excerpts and the truncated file, tagged from what it holds
    assert sorted((f["id"], f["reason"]) for f in summary.failed) == [
        (f"bad/{kind}", f"{bad[kind]}: {BAD_HEADER_ERRORS[kind]}") for kind in ("no_channels", "rate_4ghz", "rate_zero")]
    assert summary.warnings == [f"{bad['claims_30s']}: {TRUNCATED_30S}"]  # computed, but flagged
    assert f"  warning: {bad['claims_30s']}: {TRUNCATED_30S}" in summary.lines()


def test_place_places_readable_songs_and_lists_the_unreadable(folder) -> None:
    root, bad, _ = folder
    kinds = ["rate_zero", "claims_30s", "no_channels", "rate_4ghz"]
    files = [str(bad[k]) for k in kinds]
    proc = run_cli("place", files[0], files[1], str(COUNTRY), *files[2:], "--collection", str(root),
                   "--models", "fcn", "--json", "--neighbours", "3")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and proc.stderr.splitlines() == expected_stderr(bad, kinds)
    placed = json.loads(proc.stdout)
    assert list(placed) == [str(bad["claims_30s"]), str(COUNTRY), "errors", "warnings"]
    for song in (str(bad["claims_30s"]), str(COUNTRY)):
        assert len(placed[song]["fcn"]["xy"]) == 2 and len(placed[song]["fcn"]["neighbours"]) == 3
    assert placed["errors"] == {str(bad[k]): f"{bad[k]}: {BAD_HEADER_ERRORS[k]}"
                                for k in ("rate_zero", "no_channels", "rate_4ghz")}
    assert placed["warnings"] == {str(bad["claims_30s"]): [f"{bad['claims_30s']}: {TRUNCATED_30S}"]}


def test_place_text_output_lists_placed_songs_and_exits_1(folder) -> None:
    root, bad, _ = folder
    proc = run_cli("place", str(COUNTRY), str(bad["rate_zero"]), "--collection", str(root), "--models", "fcn")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr == f"shrooms: error: {bad['rate_zero']}: {BAD_HEADER_ERRORS['rate_zero']}\n"
    lines = proc.stdout.splitlines()
    assert lines[0] == str(COUNTRY) and lines[1].split()[0] == "FCN" and "nearest:" in lines[1]
    assert str(bad["rate_zero"]) not in proc.stdout


def test_place_with_only_unreadable_songs_is_one_line_each(folder) -> None:
    root, bad, _ = folder
    proc = run_cli("place", str(bad["no_channels"]), "--collection", str(root), "--models", "fcn")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"shrooms: error: {bad['no_channels']}: {BAD_HEADER_ERRORS['no_channels']}\n"
