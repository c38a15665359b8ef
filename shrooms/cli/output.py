"""What the `shrooms` command prints: JSON (strict: NaN as null) and the human-readable tables and lines."""

from __future__ import annotations

import json

from ..analysis import left_out_lines
from ..export import json_safe
from ..taggers import TAGGERS, top_tags


def json_text(value) -> str:
    """Strict JSON (no bare NaN: `export.json_safe` makes it null, with a note), indented."""
    return json.dumps(json_safe(value), indent=2, allow_nan=False)


def print_json(value) -> None:
    print(json_text(value))


def print_tags(path: str, per_model: dict[str, dict], n: int) -> None:
    print(path)
    for key, result in per_model.items():
        name = TAGGERS[key].name
        if "unavailable" in result:
            print(f"  {name:<22} weights not available")
            continue
        tags = top_tags(list(result["tags"].values()), n, tuple(result["tags"]))
        print(f"  {name:<22} " + ", ".join(f"{t.split('---')[-1]} {p:.2f}" for t, p in tags))


REPORT_COLUMNS = ("hungarian_kmeans", "hungarian_gmm", "nmi", "ari", "knn_accuracy", "probe_accuracy")


def print_hubness(result: dict) -> None:
    """One line per tagger: the skewness of its k-occurrence, plain and hubness-reduced, the k-NN accuracy
    with each neighbour list, and its top hubs."""
    first = next(iter(result["models"].values()))["hubness"]
    print(f"\nHubness (skewness of the {first['k']}-occurrence; kNN accuracy with each neighbour list: euclidean, "
          f"mutual proximity, CSLS; top hubs with their k-occurrence)")
    for key, scores in result["models"].items():
        hub = scores["hubness"]
        mp, csls = hub["reduced"]["mp"] or {}, hub["reduced"]["csls"]
        cells = [f"{v:.2f}" if v is not None else "n/a"
                 for v in (hub["skewness"], mp.get("skewness"), csls["skewness"])]
        accs = [f"{v:.3f}" if v is not None else "n/a"
                for v in (hub["knn_accuracy"], mp.get("knn_accuracy"), csls["knn_accuracy"])]
        top = ", ".join(f"{h['id']} ({h['k_occurrence']})" for h in hub["top"][:3])
        print(f"{TAGGERS[key].name:<22} skewness {' / '.join(cells)}; kNN {' / '.join(accs)}; hubs: {top}")


def print_left_out(result: dict) -> None:
    """The tracks the scores leave out and why (`analysis.left_out`): once when every tagger leaves out the
    same, else per tagger."""
    lefts = {key: scores["left_out"] for key, scores in result["models"].items() if scores["left_out"]["n"]}
    if not lefts:
        return
    if len(lefts) == len(result["models"]) and all(left == next(iter(lefts.values())) for left in lefts.values()):
        lefts = {None: next(iter(lefts.values()))}
    for key, left in lefts.items():
        for line in left_out_lines(left):
            print(line if key is None else f"{TAGGERS[key].name}: {line}")


def print_profiles(result: dict) -> None:
    """Per tagger: each label's most raised tags (with lift), and a caption per k-means cluster."""
    for key, scores in result["models"].items():
        profiles = scores["tag_profiles"]
        print(f"\n{TAGGERS[key].name}: tags that distinguish each label (lift over the collection mean)")
        for label, row in profiles["labels"].items():
            tags = ", ".join(f"{t} ×{row['lift'][profiles['tags'].index(t)]:.1f}" for t in row["top"])
            print(f"  {label:<20} {tags}")
        for cluster in profiles["clusters"].values():
            mix = ", ".join(f"{lab} {f:.0%}" for lab, f in list(cluster["labels"].items())[:3])
            print(f"  {cluster['caption']}  ({cluster['n']} tracks: {mix})")


def print_agreement(agreement: dict) -> None:
    """Linear CKA and mean k-NN overlap of every pair of taggers, and where they disagree most."""
    if not agreement["pairs"]:
        return
    print(f"\nModel agreement ({agreement['space']}; k-NN overlap = mean Jaccard of {agreement['k']} nearest "
          f"neighbours)")
    print(f"{'pair':<34}{'CKA':>8}{'k-NN overlap':>14}  tracks they disagree on most")
    for pair in agreement["pairs"]:
        names = f"{TAGGERS[pair['a']].name} / {TAGGERS[pair['b']].name}"
        worst = ", ".join(d["id"] for d in pair["disagree"][:3])
        print(f"{names:<34}{pair['cka']:>8.3f}{pair['knn_overlap']:>14.3f}  {worst}")
