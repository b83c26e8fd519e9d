"""Command line: ``contour-fem {mesh,solve,convergence,sweep,benchmark} …``.

A thin layer: it parses arguments, configures logging (rank 0 only by default, the only place
that configures handlers), calls the drivers, and turns every expected error into one line on
stderr and exit status 2 (1 for an internal error, with ``--debug`` for its traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys

from mpi4py import MPI

from contour_fem.cli import commands
from contour_fem.cli.logs import setup_logging
from contour_fem.core.errors import ContourFemError
from contour_fem.core.provenance import package_version

log = logging.getLogger("contour_fem.cli")

#: Flags accepted before or after the command.
GLOBAL_FLAGS = ("verbose", "quiet", "log_all_ranks", "debug")


def _global_flags(p: argparse.ArgumentParser, *, after_verb: bool) -> None:
    # After the verb the flags default to SUPPRESS, so they do not reset what came before it.
    kw = {"default": argparse.SUPPRESS} if after_verb else {}
    g = p.add_argument_group("global options")
    g.add_argument("-v", "--verbose", action="count", help="debug logging",
                   **(kw or {"default": 0}))
    g.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only", **kw)
    g.add_argument("--log-all-ranks", action="store_true", help="log from every MPI rank", **kw)
    g.add_argument("--debug", action="store_true", help="show tracebacks of errors", **kw)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(prog="contour-fem", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"contour_fem {package_version()}")
    _global_flags(p, after_verb=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in commands.REGISTRY:
        register(sub, lambda q: _global_flags(q, after_verb=True))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``contour-fem``; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code or 0)
    comm = MPI.COMM_WORLD
    setup_logging(comm, args.verbose, args.quiet, args.log_all_ranks)
    try:
        return args.func(args, comm)
    except ContourFemError as exc:
        if comm.rank == 0:
            print(f"contour-fem: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if comm.rank == 0:
            print(f"contour-fem: internal error: {type(exc).__name__}: {exc} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
