"""The `shrooms` command: tag audio, precompute collections, report scores, place songs, get data.

Every failure the user can cause prints one line (`shrooms: error: …`) and exits non-zero; set
SHROOMS_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

from .analysis import report
from .audio import load_audio
from .collections import download_gtzan, load_collection
from .precompute import precompute
from .errors import AudioError, ShroomsError
from .place import place
from .store import Store
from .taggers import PRECISIONS, TAGGERS, available_taggers, download_weights, get_spec


def model_keys(value: str) -> list[str]:
    """`all` or a comma-separated list of tagger keys, validated."""
    if value == "all":
        return list(TAGGERS)
    return [get_spec(k.strip()).key for k in value.split(",") if k.strip()]


def positive_int(value: str) -> int:
    """argparse type: an integer of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def top_tags(tags, names, n: int) -> list[tuple[str, float]]:
    order = sorted(range(len(names)), key=lambda i: -float(tags[i]))[:n]
    return [(names[i], float(tags[i])) for i in order]


def cmd_tag(args: argparse.Namespace) -> int:
    """Top tags per file and model, or every tag as JSON."""
    taggers, missing = available_taggers(model_keys(args.models), args.precision)
    results: dict[str, dict] = {}
    failed = 0
    for path in args.files:
        try:
            samples = load_audio(path)
        except AudioError as exc:
            print(f"shrooms: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        per_model: dict[str, dict] = {}
        for key, tagger in taggers.items():
            out = tagger.tag(samples)
            per_model[key] = {"tags": {t: round(float(p), 6) for t, p in zip(tagger.spec.tags, out.tags)},
                              "embedding_dim": int(out.embedding.shape[0])}
        for key, why in missing.items():
            per_model[key] = {"unavailable": why}
        results[path] = per_model
        if not args.json:
            print_tags(path, per_model, args.top)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 1 if failed else 0


def print_tags(path: str, per_model: dict[str, dict], n: int) -> None:
    print(path)
    for key, result in per_model.items():
        name = TAGGERS[key].name
        if "unavailable" in result:
            print(f"  {name:<22} weights not available")
            continue
        tags = top_tags(list(result["tags"].values()), list(result["tags"]), n)
        print(f"  {name:<22} " + ", ".join(f"{t.split('---')[-1]} {p:.2f}" for t, p in tags))


def cmd_data_weights(args: argparse.Namespace) -> int:
    """Download released weights into the cache."""
    for key in model_keys(args.models):
        path = download_weights(get_spec(key))
        print(f"{key}: {path}")
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    """Tags and embeddings of every track, for every selected tagger, into the cache."""
    collection = load_collection(args.collection)
    summary = precompute(collection, model_keys(args.models), repair=args.repair)
    print("\n".join(summary.lines()))
    return 0


REPORT_COLUMNS = [("hungarian_kmeans", "Hung. k-means"), ("hungarian_gmm", "Hung. GMM"), ("nmi", "NMI"),
                  ("ari", "ARI"), ("knn_accuracy", "kNN acc."), ("probe_accuracy", "probe acc.")]


def cmd_report(args: argparse.Namespace) -> int:
    """One row of scores per tagger with stored embeddings."""
    collection = load_collection(args.collection)
    store = Store(collection)
    keys = [k for k in model_keys(args.models) if len(store.load(k).tracks)]
    if not keys:
        raise ShroomsError(f"{collection.name} has no precomputed embeddings: run `shrooms precompute "
                           f"--collection {collection.source}` first")
    result = report(collection, keys, args.clusters, tuple(range(args.seeds)))
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    print(f"{collection.name}: {result['labels']} labels, k = {result['k']}, chance = {result['chance']:.3f}, "
          f"mean ± std over {args.seeds} seeds")
    print(f"{'tagger':<22}" + "".join(f"{title:>16}" for _, title in REPORT_COLUMNS))
    for key, scores in result["models"].items():
        cells = [f"{scores[m]['mean']:.3f} ± {scores[m]['std']:.3f}" if isinstance(scores[m], dict)
                 else f"{scores[m]:.3f}" for m, _ in REPORT_COLUMNS]
        print(f"{TAGGERS[key].name:<22}" + "".join(f"{c:>16}" for c in cells))
    return 0


def cmd_place(args: argparse.Namespace) -> int:
    """Where each file lands on every tagger's map, and its nearest tracks."""
    collection = load_collection(args.collection)
    placements = place(args.files, collection, model_keys(args.models), k=args.neighbours)
    if args.json:
        json.dump({p.name: {key: {"xy": m.xy.round(4).tolist(), "xyz": m.xyz.round(4).tolist(),
                                  "top_tags": dict(m.top_tags(5)),
                                  "neighbours": [vars(n) for n in m.neighbours]}
                            for key, m in p.models.items()} | {k: {"unavailable": w} for k, w in p.unavailable.items()}
                   for p in placements}, sys.stdout, indent=2)
        print()
        return 0
    for p in placements:
        print(p.name)
        for key, m in p.models.items():
            near = ", ".join(f"{n.id} ({n.label + ', ' if n.label else ''}{n.distance:.3f})" for n in m.neighbours)
            print(f"  {TAGGERS[key].name:<22} at ({m.xy[0]:.1f}, {m.xy[1]:.1f}); nearest: {near}")
        for key in p.unavailable:
            print(f"  {TAGGERS[key].name:<22} unavailable")
    return 0


def cmd_data_gtzan(args: argparse.Namespace) -> int:
    """Download and extract GTZAN."""
    print(f"GTZAN is in {download_gtzan(args.to, args.url, args.sha256)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shrooms", description="What have music auto-taggers learned?")
    sub = parser.add_subparsers(dest="command", required=True)

    tag = sub.add_parser("tag", help="tag audio files with the Jamendo taggers")
    tag.add_argument("files", nargs="+", metavar="FILE")
    tag.add_argument("--models", "--model", dest="models", default="all", help="tagger keys, comma-separated, or all")
    tag.add_argument("--top", type=positive_int, default=5, help="tags to show per model (default 5)")
    tag.add_argument("--json", action="store_true", help="print every tag's probability as JSON")
    tag.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="float32 (default, the reference) or bf16 (faster where the CPU or GPU computes bfloat16)")
    tag.set_defaults(run=cmd_tag)

    pre = sub.add_parser("precompute", help="compute and cache tags and embeddings of a collection")
    pre.add_argument("--collection", default="demo", help="gtzan, demo (default) or a music folder")
    pre.add_argument("--models", default="all", help="tagger keys, comma-separated, or all")
    pre.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="float32 (default, the reference) or bf16 (faster where the CPU or GPU computes bfloat16)")
    pre.add_argument("--repair", action="store_true",
                     help="set a damaged cache database aside and rebuild it from what is readable")
    pre.set_defaults(run=cmd_precompute)

    rep = sub.add_parser("report", help="cluster and score each tagger's embeddings against the labels")
    rep.add_argument("--collection", default="demo", help="gtzan, demo (default) or a music folder")
    rep.add_argument("--models", default="all", help="tagger keys, comma-separated, or all")
    rep.add_argument("--clusters", type=positive_int, default=None, help="k (default: the number of labels)")
    rep.add_argument("--seeds", type=positive_int, default=5, help="seeds to average over (default 5)")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(run=cmd_report)

    pl = sub.add_parser("place", help="place songs on a collection's maps and list their neighbours")
    pl.add_argument("files", nargs="+", metavar="FILE")
    pl.add_argument("--collection", default="demo", help="gtzan, demo (default) or a music folder")
    pl.add_argument("--models", default="all", help="tagger keys, comma-separated, or all")
    pl.add_argument("--neighbours", type=positive_int, default=5, help="nearest tracks to list (default 5)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="float32 (default, the reference) or bf16 (faster where the CPU or GPU computes bfloat16)")
    pl.set_defaults(run=cmd_place)

    data = sub.add_parser("data", help="download weights and datasets")
    data_sub = data.add_subparsers(dest="what", required=True)
    weights = data_sub.add_parser("weights", help="download tagger weights from upstream")
    weights.add_argument("models", nargs="?", default="fcn,musicnn,crnn", help="keys or all")
    weights.set_defaults(run=cmd_data_weights)
    gtzan = data_sub.add_parser("gtzan", help="download GTZAN (about 1.2 GB) and extract it")
    gtzan.add_argument("--to", type=Path, default=None, help="folder (default cache/datasets/gtzan)")
    gtzan.add_argument("--url", default=None, help="archive URL (default: a public mirror, or $SHROOMS_GTZAN_URL)")
    gtzan.add_argument("--sha256", default=None, help="expected sha256 of the archive")
    gtzan.set_defaults(run=cmd_data_gtzan)
    return parser


@contextlib.contextmanager
def taggers_precision(precision: str | None) -> Iterator[None]:
    """Taggers loaded inside default to `precision` (via $SHROOMS_PRECISION, which precompute and place
    load theirs with); the previous default is restored after."""
    saved = os.environ.get("SHROOMS_PRECISION")
    if precision:
        os.environ["SHROOMS_PRECISION"] = precision
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SHROOMS_PRECISION", None)
        else:
            os.environ["SHROOMS_PRECISION"] = saved


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a sub-command, turning every error into one line on stderr."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        with taggers_precision(getattr(args, "precision", None)):
            return run(args)
    except ShroomsError as exc:
        print(f"shrooms: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("shrooms: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, not a traceback, unless debugging
        if os.environ.get("SHROOMS_DEBUG"):
            raise
        print(f"shrooms: error: unexpected {type(exc).__name__}: {exc} (SHROOMS_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
