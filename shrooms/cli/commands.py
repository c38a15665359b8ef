"""The `shrooms` sub-commands: each runs the library and prints its result, as text or as the JSON shape
`--json` documents (README, CLI)."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

import pandas as pd

from ..analysis import SCORE_LABELS, report, score_cell
from ..audio import text_path
from ..collections import download_gtzan, load_collection
from ..errors import AudioError, ShroomsError
from ..export import FORMATS, export_frame, write_frame
from ..maps import PLACEMENT, PROJECTION_NAMES
from ..place import place
from ..precompute import precompute
from ..space import METRIC, SPACE
from ..status import status
from ..store import Store, atomic_write
from ..study import study
from ..taggers import TAGGERS, available_taggers, download_weights, find_weights, get_spec
from ..taggers.inference import tag_file
from ..taggers.weights import verify_checkpoint
from .output import (REPORT_COLUMNS, json_text, print_agreement, print_hubness, print_json, print_left_out,
                     print_profiles, print_tags)
from .parsing import model_keys


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
        from ..ray_engine import precompute_ray
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
    from ..listening import report as listening_report
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
