"""`shrooms tag`: sensible tags on a real GTZAN clip, parseable JSON, and one-line errors on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .audio_files import COUNTRY, bad_headers, bad_inputs, expected_stderr
from .conftest import RELEASED
from .helpers import assert_no_traceback, run_cli


@pytest.fixture(scope="module")
def country_json() -> dict:
    proc = run_cli("tag", str(COUNTRY), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_has_all_50_tags_per_released_model(country_json) -> None:
    per_model = country_json[str(COUNTRY)]
    for key in RELEASED:
        tags = per_model[key]["tags"]
        assert len(tags) == 50 and list(tags)[0] == "genre---alternative"
        assert all(0.0 <= p <= 1.0 for p in tags.values())
    assert per_model["fcn"]["embedding_dim"] == 64


def test_country_clip_gets_the_tags_the_original_gives(country_json) -> None:
    """The conformance reference tops this clip's first chunk with pop, rock, drums for FCN and Musicnn."""
    for key in ("fcn", "musicnn"):
        tags = country_json[str(COUNTRY)][key]["tags"]
        top3 = sorted(tags, key=tags.get, reverse=True)[:3]
        assert top3[0] == "genre---pop"
        assert len({"genre---pop", "genre---rock", "instrument---drums"} & set(top3)) >= 2


def test_models_without_weights_are_listed_not_fatal(country_json) -> None:
    per_model = country_json[str(COUNTRY)]
    for key in ("sample", "se", "attention", "hcnn"):
        assert "weights not available" in per_model[key]["unavailable"]


def test_human_output_lists_top_tags(tmp_path) -> None:
    proc = run_cli("tag", str(COUNTRY), "--models", "fcn", "--top", "3")
    assert proc.returncode == 0
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == str(COUNTRY) and lines[1].split()[0] == "FCN" and "pop" in lines[1]
    assert lines[1].count(",") == 2


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> dict:
    return bad_inputs(tmp_path_factory.mktemp("awkward"))


@pytest.mark.parametrize("kind", ["text_as_mp3", "empty", "header_only", "missing"])
def test_undecodable_input_is_one_line_naming_the_file(kind, awkward) -> None:
    proc = run_cli("tag", str(awkward[kind]), "--models", "fcn")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("shrooms: error:")]
    assert len(errors) == 1 and awkward[kind].name in errors[0], proc.stderr


@pytest.mark.parametrize("kind", ["truncated", "half_second", "silence", "six_channel_48k_24bit"])
def test_short_silent_truncated_or_multichannel_audio_gets_finite_tags(kind, awkward) -> None:
    proc = run_cli("tag", str(awkward[kind]), "--models", "fcn", "--json")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    tags = np.array(list(json.loads(proc.stdout)[str(awkward[kind])]["fcn"]["tags"].values()))
    assert tags.shape == (50,) and np.isfinite(tags).all() and ((tags > 0) & (tags < 1)).all()


def test_good_files_are_still_tagged_when_others_fail(awkward) -> None:
    proc = run_cli("tag", str(awkward["empty"]), str(COUNTRY), "--models", "fcn", "--json")
    assert proc.returncode == 1 and "empty.wav" in proc.stderr
    assert list(json.loads(proc.stdout)) == [str(COUNTRY)]


def test_lying_headers_fail_one_file_at_a_time(tmp_path) -> None:
    """Sample rate 0 or 4 GHz, no channels: one line each naming the file; 30 s promised over 1,000 bytes:
    tagged from what is there, with a warning; the real clip in the same batch is tagged as usual."""
    bad, kinds = bad_headers(tmp_path), ["rate_zero", "rate_4ghz", "claims_30s", "no_channels"]
    proc = run_cli("tag", *[str(bad[k]) for k in kinds], str(COUNTRY), "--models", "fcn", "--json")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and proc.stderr.splitlines() == expected_stderr(bad, kinds)
    tagged = json.loads(proc.stdout)
    assert list(tagged) == [str(bad["claims_30s"]), str(COUNTRY)]
    assert len(tagged[str(COUNTRY)]["fcn"]["tags"]) == 50


def test_unknown_model_is_a_one_line_error() -> None:
    proc = run_cli("tag", str(COUNTRY), "--model", "vgg")
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0
    assert "unknown tagger 'vgg'" in proc.stderr


def test_a_folder_given_as_a_file_says_so(tmp_path) -> None:
    folder = tmp_path / "my_music"
    folder.mkdir()
    proc = run_cli("tag", str(folder), "--models", "fcn")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"shrooms: error: {folder}: a folder, not an audio file"
