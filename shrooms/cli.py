"""The `shrooms` command: tag audio, precompute collections, report scores, place songs, study new music
against a collection, export results, get data.

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

import pandas as pd

from .analysis import SCORE_LABELS, SPLITS, left_out_lines, report, score_cell
from .audio import text_path
from .maps import METHODS, PLACEMENT, PROJECTION_NAMES, SPACES
from .collections import download_gtzan, load_collection
from .precompute import precompute
from .errors import AudioError, ShroomsError
from .hubness import REDUCTIONS
from .export import FORMATS, export_frame, json_safe, write_frame
from .place import place
from .space import METRIC, SPACE
from .status import status
from .store import Store, atomic_write
from .study import study
from .taggers.inference import tag_file
from .taggers import (PRECISIONS, TAGGERS, available_taggers, download_weights, find_weights, get_spec,
                      top_tags)
from .taggers.weights import verify_checkpoint


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


def json_text(value) -> str:
    """Strict JSON (no bare NaN: `export.json_safe` makes it null, with a note), indented."""
    return json.dumps(json_safe(value), indent=2, allow_nan=False)


def print_json(value) -> None:
    print(json_text(value))


def cmd_tag(args: argparse.Namespace) -> int:
    """Top tags per file and model, or every tag as JSON."""
    taggers, missing = available_taggers(model_keys(args.models), args.precision)
    results: dict[str, dict] = {}
    failed = 0
    for path in args.files:
        try:
            outputs, warnings = tag_file(path, taggers)  # streamed: memory flat in the file's length
        except AudioError as exc:
            print(f"shrooms: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        for line in warnings:
            print(f"shrooms: warning: {line}", file=sys.stderr)
        per_model: dict[str, dict] = {}
        for key, tagger in taggers.items():
            out = outputs[key]
            per_model[key] = {"tags": {t: round(float(p), 6) for t, p in zip(tagger.spec.tags, out.tags)},
                              "embedding_dim": int(out.embedding.shape[0])}
        for key, why in missing.items():
            per_model[key] = {"unavailable": why}
        results[text_path(path)] = per_model
        if not args.json:
            print_tags(text_path(path), per_model, args.top)
    if args.json:
        print_json(results)
    return 1 if failed else 0


def print_tags(path: str, per_model: dict[str, dict], n: int) -> None:
    print(path)
    for key, result in per_model.items():
        name = TAGGERS[key].name
        if "unavailable" in result:
            print(f"  {name:<22} weights not available")
            continue
        tags = top_tags(list(result["tags"].values()), n, tuple(result["tags"]))
        print(f"  {name:<22} " + ", ".join(f"{t.split('---')[-1]} {p:.2f}" for t, p in tags))


def cmd_data_weights(args: argparse.Namespace) -> int:
    """Download the released weights of the taggers named (default: every one without weights) into the
    cache, each verified; released weights already found are left alone, a wrong file found is reported
    (it is searched first, so it is not replaced). One error line per tagger that failed."""
    failed = 0
    for key in model_keys(args.models):
        try:
            found = find_weights(get_spec(key))
            if found:
                verify_checkpoint(get_spec(key), found)
                print(f"{key}: already here, {found}")
            else:
                print(f"{key}: {download_weights(get_spec(key))}")
        except ShroomsError as exc:
            print(f"shrooms: error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_precompute(args: argparse.Namespace) -> int:
    """Tags and embeddings of every track, for every selected tagger, into the cache."""
    collection = load_collection(args.collection)
    if args.engine == "ray":
        from .ray_engine import precompute_ray
        summary = precompute_ray(collection, model_keys(args.models), address=args.address,
                                 threads_per_actor=args.threads_per_actor, repair=args.repair)
    else:
        if args.address or args.threads_per_actor:
            raise ShroomsError("--address and --threads-per-actor are for a Ray cluster: use them with --engine ray")
        summary = precompute(collection, model_keys(args.models), repair=args.repair)
    print("\n".join(summary.lines()))
    for entry in collection.skipped:  # named like audio, but no file to decode: listed, not silently dropped
        print(f"  left out {entry['id']}: {entry['reason']}")
    return 0


REPORT_COLUMNS = ("hungarian_kmeans", "hungarian_gmm", "nmi", "ari", "knn_accuracy", "probe_accuracy")


def cmd_report(args: argparse.Namespace) -> int:
    """One row of scores per tagger with stored embeddings."""
    collection = load_collection(args.collection)
    rows = Store(collection).load_many(model_keys(args.models))  # one snapshot: status and scores share it
    keys = [k for k in rows if status(collection, k, results=rows[k]).ready]
    if not keys:
        raise ShroomsError(f"{collection.name} has no precomputed embeddings: run `shrooms precompute "
                           f"--collection {collection.source}` first")
    result = report(collection, keys, args.clusters, tuple(range(args.seeds)), args.space, args.split, rows,
                    reduction=args.hubness_reduction)
    if args.json:
        print_json(result)
        return 0
    print(f"{collection.name}: {result['labels']} labels, k = {result['k']}, chance = {result['chance']:.3f}, "
          f"mean ± std over {args.seeds} seeds, {args.space} space")
    print_left_out(result)
    print(f"{'tagger':<22}" + "".join(f"{SCORE_LABELS[m]:>19}" for m in REPORT_COLUMNS))
    for key, scores in result["models"].items():
        print(f"{TAGGERS[key].name:<22}" + "".join(f"{score_cell(scores[m]):>19}" for m in REPORT_COLUMNS))
    print(f"kNN and probe: {next(iter(result['models'].values()))['evaluation']}")
    for key, scores in result["models"].items():
        for score, why in (scores.get("notes") or {}).items():
            if not score.endswith("_std"):
                print(f"{TAGGERS[key].name} {SCORE_LABELS.get(score, score)}: {why}")
    print_hubness(result)
    print_profiles(result)
    print_agreement(result["agreement"])
    return 0


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


def cmd_place(args: argparse.Namespace) -> int:
    """Where each file lands on every tagger's map, and its nearest tracks."""
    collection = load_collection(args.collection)
    placements = place(args.files, collection, model_keys(args.models), k=args.neighbours,
                       names=[text_path(f) for f in args.files], method=args.projection)
    for p in placements:
        for line in [p.error] if p.error else p.warnings:
            print(f"shrooms: {'error' if p.error else 'warning'}: {line}", file=sys.stderr)
    placed = [p for p in placements if p.error is None]
    exit_code = 1 if len(placed) < len(placements) else 0
    if args.json:
        out = {p.name: {key: {"space": SPACE, "metric": METRIC, "projection": args.projection, "placement": PLACEMENT,
                              "xy": m.xy.round(4).tolist(), "xyz": m.xyz.round(4).tolist(),
                              "top_tags": dict(m.top_tags(5)), "novelty": round(m.novelty, 2),
                              "neighbour_labels": {lab: round(f, 4) for lab, f in m.neighbour_labels.items()},
                              "neighbours": [vars(n) for n in m.neighbours]}
                        for key, m in p.models.items()} | {k: {"unavailable": w} for k, w in p.unavailable.items()}
               for p in placed}
        if exit_code:
            out["errors"] = {p.name: p.error for p in placements if p.error}
        if any(p.warnings for p in placed):
            out["warnings"] = {p.name: p.warnings for p in placed if p.warnings}
        print_json(out)
        return exit_code
    for p in placed:
        print(p.name)
        for key, m in p.models.items():
            near = ", ".join(f"{n.id} ({n.label + ', ' if n.label else ''}{n.distance:.3f})" for n in m.neighbours)
            mix = ", ".join(f"{lab} {f:.0%}" for lab, f in m.neighbour_labels.items())
            print(f"  {TAGGERS[key].name:<22} at ({m.xy[0]:.1f}, {m.xy[1]:.1f}) on {PROJECTION_NAMES[m.method]}; "
                  f"novelty {m.novelty:.0f} (further from "
                  f"the collection than {m.novelty:.0f}% of its tracks); neighbours: {mix}; nearest: {near}")
        for key in p.unavailable:
            print(f"  {TAGGERS[key].name:<22} unavailable")
    return exit_code


def cmd_study(args: argparse.Namespace) -> int:
    """Place the OOD folder's groups on the collection: novelty, own neighbours, neighbour labels, maps."""
    collection = load_collection(args.collection)
    taggers, missing = available_taggers(model_keys(args.models))
    if not taggers:
        raise ShroomsError("no tagger can tag the OOD files: " + "; ".join(missing.values()))
    result = study(collection, args.ood, list(taggers), args.seed, args.space, args.neighbours, args.out,
                   method=args.projection)
    if args.out is not None:
        atomic_write(args.out / "study.json", (json_text(result) + "\n").encode())
    if args.json:
        print_json(result)
        return 0
    print(f"{Path(args.ood).name} placed on {collection.name} ({args.space} space, {PROJECTION_NAMES[args.projection]} "
          f"map, seed {args.seed}; joint: t-SNE); novelty: "
          f"percentile of the nearest-track distance among the collection's own (median), own: fraction whose "
          f"nearest neighbour is in the group")
    print("own: in the tagger's space; joint: on the joint map (collection and new tracks mapped together); "
          "placed: on the collection's map with each new track placed on it")
    print(f"{'tagger':<22}{'group':<18}{'n':>4}{'novelty':>9}{'own':>7}{'joint':>7}{'placed':>8}{'silh.':>8}  nearest "
          f"{args.neighbours} collection tracks' labels")
    for key, model in result["models"].items():
        print(f"{TAGGERS[key].name:<22}{'(collection)':<18}{'':>4}{model['collection_novelty_median']:>9.0f}")
        for group, g in model["groups"].items():
            mix = ", ".join(f"{lab} {f:.0%}" for lab, f in g["neighbour_labels"].items())
            print(f"{'':<22}{group:<18}{g['n']:>4}{g['novelty_median']:>9.0f}{g['own_neighbour_fraction']:>7.2f}"
                  f"{g['own_neighbour_fraction_joint']:>7.2f}{g['own_neighbour_fraction_placed']:>8.2f}"
                  f"{g['silhouette']:>8.2f}  {mix}")
    for path in result["unreadable"]:
        print(f"skipped unreadable {path}")
    if args.out is not None:
        print(f"wrote {args.out / 'study.json'} and maps as self-contained HTML: "
              + ", ".join(Path(p).name for p in result["figures"].values()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """One row per track and tagger: id, label, map x/y, cluster, top tags."""
    collection = load_collection(args.collection)
    fmt = args.format or (args.out.suffix.lstrip(".").lower() if args.out and args.out.suffix.lstrip(".").lower()
                          in FORMATS else "csv")
    if fmt == "parquet" and args.out is None:
        raise ShroomsError("parquet is binary: give --out FILE")
    frame = pd.concat([export_frame(collection, key, args.space, args.projection, clusters=args.clusters,
                                    seed=args.seed)
                       for key in model_keys(args.models)], ignore_index=True)
    data = write_frame(frame, fmt)
    if args.out is None:
        sys.stdout.write(data.decode())
    else:
        atomic_write(args.out, data)
        print(f"wrote {len(frame)} rows to {args.out}")
    return 0


def cmd_listening(args: argparse.Namespace) -> int:
    """The blind listening test's votes per pair of taggers (cast on the app's Listen page)."""
    from .listening import report as listening_report
    collection = load_collection(args.collection)
    result = listening_report(collection)
    if args.json:
        print_json(result)
        return 0
    if not result["votes"]:
        print(f"{collection.name}: no listening votes yet (cast them on the app's Listen page)")
        return 0
    print(f"{collection.name}: {result['votes']} votes from {result['sessions']} listening sessions; share = "
          f"decided votes (not 'same') whose closer track was the first tagger's neighbour, "
          f"{result['confidence']:.0%} {result['interval'].split(' of ')[0]}")
    print(f"{'pair':<34}{'votes':>6}{'wins':>9}{'same':>6}{'share':>7}{'interval':>16}{'p':>7}")
    for pair in result["pairs"]:
        names = " vs ".join(TAGGERS[k].name if k in TAGGERS else k for k in (pair["a"], pair["b"]))
        share = "" if pair["fraction_a"] is None else f"{pair['fraction_a']:.2f}"
        ci = "" if pair["ci_low"] is None else f"{pair['ci_low']:.2f}–{pair['ci_high']:.2f}"
        p = "" if pair["p_value"] is None else f"{pair['p_value']:.3f}"
        print(f"{names:<34}{pair['votes']:>6}{pair['wins_a']:>4} – {pair['wins_b']:<2}{pair['same']:>6}{share:>7}"
              f"{ci:>16}{p:>7}")
    return 0


def cmd_data_gtzan(args: argparse.Namespace) -> int:
    """Download and extract GTZAN."""
    print(f"GTZAN is in {download_gtzan(args.to, args.url, args.sha256)}")
    return 0


def add_collection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", default="demo", help="gtzan, demo (default) or a music folder")


def add_models(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", "--model", dest="models", default="all",
                        help="tagger keys, comma-separated, or all (--model is an alias)")


def add_projection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--projection", "--method", dest="projection", choices=METHODS, default="tsne",
                        help="the map: tsne (default), umap or pca (--method is an alias)")


def add_precision(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="float32 (default, the reference) or bf16 (faster where the CPU or GPU computes bfloat16)")


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are like every other error: one line on stderr and exit code 1 (argparse
    prints the usage and exits 2). Sub-command parsers are of this class too."""

    def error(self, message: str):
        self.exit(1, f"shrooms: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="shrooms", description="What have music auto-taggers learned?")
    sub = parser.add_subparsers(dest="command", required=True)

    tag = sub.add_parser("tag", help="tag audio files with the Jamendo taggers")
    tag.add_argument("files", nargs="+", metavar="FILE")
    add_models(tag)
    tag.add_argument("--top", type=positive_int, default=5, help="tags to show per model (default 5)")
    tag.add_argument("--json", action="store_true", help="print every tag's probability as JSON")
    add_precision(tag)
    tag.set_defaults(run=cmd_tag)

    pre = sub.add_parser("precompute", help="compute and cache tags and embeddings of a collection")
    add_collection(pre)
    add_models(pre)
    add_precision(pre)
    pre.add_argument("--repair", action="store_true",
                     help="set a damaged cache database aside and rebuild it from what is readable")
    pre.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local (default): this process; ray: a Ray cluster (pip install 'shrooms[ray]')")
    pre.add_argument("--address", default=None,
                     help="with --engine ray: a running cluster's address (default: start a local one)")
    pre.add_argument("--threads-per-actor", type=positive_int, default=None, metavar="N",
                     help="with --engine ray: torch threads per tagger actor, one actor per N CPUs (default 1; "
                          "each actor holds the models); the rows equal a local run's with N torch threads, bit for bit")
    pre.set_defaults(run=cmd_precompute)

    rep = sub.add_parser("report", help="cluster and score each tagger's embeddings against the labels")
    add_collection(rep)
    add_models(rep)
    rep.add_argument("--clusters", type=positive_int, default=None, help="k (default: the number of labels)")
    rep.add_argument("--seeds", type=positive_int, default=5, help="seeds to average over (default 5)")
    rep.add_argument("--space", choices=SPACES, default="embedding",
                     help="score the embeddings (default) or the taggram (50 tag probabilities)")
    rep.add_argument("--split", choices=SPLITS, default="cv", help="cv (default): leave-one-out k-NN and "
                     "cross-validated probe; filtered: GTZAN's artist-disjoint fault-filtered split")
    rep.add_argument("--hubness-reduction", choices=REDUCTIONS, default="none",
                     help="the neighbour list the kNN score votes with: none (default, euclidean in the tagger's "
                          "space), mp (mutual proximity) or csls; every report lists all three's hubness")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--precision", choices=PRECISIONS, default=None,
                     help="score the rows computed in this precision (default float32)")
    rep.set_defaults(run=cmd_report)

    pl = sub.add_parser("place", help="place songs on a collection's maps and list their neighbours")
    pl.add_argument("files", nargs="+", metavar="FILE")
    add_collection(pl)
    add_models(pl)
    pl.add_argument("--neighbours", type=positive_int, default=5, help="nearest tracks to list (default 5)")
    add_projection(pl)
    pl.add_argument("--json", action="store_true")
    add_precision(pl)
    pl.set_defaults(run=cmd_place)

    st = sub.add_parser("study", help="place folders of new music (one group per sub-folder) on a collection")
    add_collection(st)
    st.add_argument("--ood", required=True, metavar="FOLDER", help="folder whose sub-folders are the groups")
    add_models(st)
    st.add_argument("--space", choices=SPACES, default="embedding")
    st.add_argument("--seed", type=int, default=0, help="seed of the maps (default 0)")
    add_projection(st)
    st.add_argument("--neighbours", type=positive_int, default=10, help="collection tracks per new track for the "
                    "label mix (default 10)")
    st.add_argument("--out", type=Path, default=None, metavar="DIR", help="write study.json and a map per tagger")
    st.add_argument("--json", action="store_true")
    st.set_defaults(run=cmd_study)

    ex = sub.add_parser("export", help="one row per track: id, label, map x/y, cluster, top tags")
    add_collection(ex)
    ex.add_argument("--models", default="fcn", help="tagger keys, comma-separated, or all (default fcn)")
    ex.add_argument("--space", choices=SPACES, default="embedding")
    ex.add_argument("--format", choices=FORMATS, default=None, help="csv (default, or from --out's suffix), json, parquet")
    ex.add_argument("--clusters", type=positive_int, default=None, help="k-means k (default: the number of labels)")
    ex.add_argument("--seed", type=int, default=0)
    add_projection(ex)
    ex.add_argument("--out", type=Path, default=None, metavar="FILE", help="default: standard output")
    ex.set_defaults(run=cmd_export)

    li = sub.add_parser("listening", help="the blind listening test's votes per pair of taggers, with "
                        "confidence intervals")
    add_collection(li)
    li.add_argument("--json", action="store_true", help="print one JSON object")
    li.set_defaults(run=cmd_listening)

    data = sub.add_parser("data", help="download weights and datasets")
    data_sub = data.add_subparsers(dest="what", required=True)
    weights = data_sub.add_parser("weights", help="download the taggers' released weights, verified (upstream "
                                  "first, the study's repository next; $SHROOMS_WEIGHTS_URL replaces both)")
    weights.add_argument("models", nargs="?", default="all",
                         help="keys, comma-separated, or all (default): those without weights")
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
    except OSError as exc:  # a file the command must write or read: one line naming it
        if os.environ.get("SHROOMS_DEBUG") or not exc.filename:
            if os.environ.get("SHROOMS_DEBUG"):
                raise
            print(f"shrooms: error: unexpected {type(exc).__name__}: {exc} (SHROOMS_DEBUG=1 for details)",
                  file=sys.stderr)
            return 1
        what = text_path(str(exc.filename)) + (f" -> {text_path(str(exc.filename2))}" if exc.filename2 else "")
        hint = " (the folder or file is read-only for this user)" if isinstance(exc, PermissionError) else ""
        print(f"shrooms: error: {what}: {exc.strerror or exc}{hint}", file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: one line, not a traceback, unless debugging
        if os.environ.get("SHROOMS_DEBUG"):
            raise
        print(f"shrooms: error: unexpected {type(exc).__name__}: {exc} (SHROOMS_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
