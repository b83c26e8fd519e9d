"""The command line, ``contour-fem`` (also ``python -m contour_fem``)."""

from contour_fem.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
