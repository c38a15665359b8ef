"""The `shrooms` command: tag audio, precompute collections, report scores, place songs, study new music
against a collection, export results, get data.

Every failure the user can cause prints one line (`shrooms: error: …`) and exits non-zero; set
SHROOMS_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Iterator

from ..audio import text_path
from ..errors import ShroomsError
from .parsing import build_parser


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
