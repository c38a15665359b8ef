"""How long the app's "what do the taggers learn?" views take on the demo collection (96 tracks), with the
maps already fitted and cached: median of 3 runs after a warm-up, in seconds. Run: `python benchmarks/views.py`."""

import sys
from pathlib import Path

from shrooms import views
from shrooms.agreement import model_agreement
from shrooms.collections import demo_collection
from shrooms.precompute import precompute

sys.path.insert(0, str(Path(__file__).resolve().parent))
from taggers import median_seconds  # noqa: E402  (benchmarks/taggers.py)

SONG = Path(__file__).resolve().parents[2] / "shared" / "data" / "formats" / "brid_samba_stereo.wav"


def main() -> None:
    coll = demo_collection()
    precompute(coll, ["fcn", "musicnn", "crnn"], show_bar=False)
    views.map_frame(coll, "musicnn", "tsne", 2, "taggram")  # fit and cache the maps once
    data = SONG.read_bytes()
    cases = {
        "map frame, embedding t-SNE (cached map)": lambda: views.map_frame(coll, "musicnn", "tsne", 2),
        "map frame, tag axes": lambda: views.map_frame(coll, "musicnn", "tags", 2, tags=("genre---rock", "genre---jazz")),
        "trajectory of one stored track (Musicnn, 3 chunks)": lambda: views.track_trajectory(coll, "musicnn", "jazz/jazz.03"),
        "segments view (Musicnn, 288 chunks)": lambda: views.segments_frame(coll, "musicnn"),
        "cluster captions (k-means + tag profiles)": lambda: views.colour_values(
            coll, "musicnn", views.map_frame(coll, "musicnn", "tsne", 2), "cluster"),
        "agreement of 3 taggers (CKA + 10-NN overlap)": lambda: model_agreement(coll, ["fcn", "musicnn", "crnn"]),
        "upload trajectory (5.7-s song, Musicnn: tag 2 chunks + place them)": lambda: views.upload_trajectory(coll, "musicnn", data),
    }
    for name, run in cases.items():
        print(f"{name}: {median_seconds(run, 3):.3f} s")


if __name__ == "__main__":
    main()
