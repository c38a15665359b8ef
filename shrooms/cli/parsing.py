"""The `shrooms` command's arguments: argument types, the shared options and the sub-command parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis import SPLITS
from ..export import FORMATS
from ..hubness import REDUCTIONS
from ..maps import METHODS, SPACES
from ..taggers import PRECISIONS, TAGGERS, get_spec


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
    from . import commands  # the sub-commands import the argument types from here
    parser = Parser(prog="shrooms", description="What have music auto-taggers learned?")
    sub = parser.add_subparsers(dest="command", required=True)

    tag = sub.add_parser("tag", help="tag audio files with the Jamendo taggers")
    tag.add_argument("files", nargs="+", metavar="FILE")
    add_models(tag)
    tag.add_argument("--top", type=positive_int, default=5, help="tags to show per model (default 5)")
    tag.add_argument("--json", action="store_true", help="print every tag's probability as JSON")
    add_precision(tag)
    tag.set_defaults(run=commands.cmd_tag)

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
    pre.set_defaults(run=commands.cmd_precompute)

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
    rep.set_defaults(run=commands.cmd_report)

    pl = sub.add_parser("place", help="place songs on a collection's maps and list their neighbours")
    pl.add_argument("files", nargs="+", metavar="FILE")
    add_collection(pl)
    add_models(pl)
    pl.add_argument("--neighbours", type=positive_int, default=5, help="nearest tracks to list (default 5)")
    add_projection(pl)
    pl.add_argument("--json", action="store_true")
    add_precision(pl)
    pl.set_defaults(run=commands.cmd_place)

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
    st.set_defaults(run=commands.cmd_study)

    ex = sub.add_parser("export", help="one row per track: id, label, map x/y, cluster, top tags")
    add_collection(ex)
    ex.add_argument("--models", default="fcn", help="tagger keys, comma-separated, or all (default fcn)")
    ex.add_argument("--space", choices=SPACES, default="embedding")
    ex.add_argument("--format", choices=FORMATS, default=None, help="csv (default, or from --out's suffix), json, parquet")
    ex.add_argument("--clusters", type=positive_int, default=None, help="k-means k (default: the number of labels)")
    ex.add_argument("--seed", type=int, default=0)
    add_projection(ex)
    ex.add_argument("--out", type=Path, default=None, metavar="FILE", help="default: standard output")
    ex.set_defaults(run=commands.cmd_export)

    li = sub.add_parser("listening", help="the blind listening test's votes per pair of taggers, with "
                        "confidence intervals")
    add_collection(li)
    li.add_argument("--json", action="store_true", help="print one JSON object")
    li.set_defaults(run=commands.cmd_listening)

    data = sub.add_parser("data", help="download weights and datasets")
    data_sub = data.add_subparsers(dest="what", required=True)
    weights = data_sub.add_parser("weights", help="download the taggers' released weights, verified (upstream "
                                  "first, the study's repository next; $SHROOMS_WEIGHTS_URL replaces both)")
    weights.add_argument("models", nargs="?", default="all",
                         help="keys, comma-separated, or all (default): those without weights")
    weights.set_defaults(run=commands.cmd_data_weights)
    gtzan = data_sub.add_parser("gtzan", help="download GTZAN (about 1.2 GB) and extract it")
    gtzan.add_argument("--to", type=Path, default=None, help="folder (default cache/datasets/gtzan)")
    gtzan.add_argument("--url", default=None, help="archive URL (default: a public mirror, or $SHROOMS_GTZAN_URL)")
    gtzan.add_argument("--sha256", default=None, help="expected sha256 of the archive")
    gtzan.set_defaults(run=commands.cmd_data_gtzan)
    return parser
