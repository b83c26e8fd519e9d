"""Case files: the schema (generated from the parameter dataclasses), validation, and the Case.

    cfg = load("geometries/eggbox_H25S150.toml")   # resolved table, user units
    case = build_case(cfg)                           # SI dataclasses

Unit-suffixed keys at the user boundary (``height_um``) are converted to SI once, in
:func:`build_case`.
"""

from contour_fem.config.build import build_case, build_topography, output_settings
from contour_fem.config.resolve import (
    config_hash,
    load,
    mesh_key,
    parse_overrides,
    read_case_file,
    resolve,
    set_key,
)
from contour_fem.config.schema import (
    CASE_TOPOGRAPHIES,
    COORDINATE_UNITS,
    REQUIRED,
    SCHEMA,
    SECTIONS,
    TOP_LEVEL,
    Key,
    OutputSettings,
    applies,
    check_name,
    where_applies,
)

__all__ = [
    "CASE_TOPOGRAPHIES",
    "COORDINATE_UNITS",
    "REQUIRED",
    "SCHEMA",
    "SECTIONS",
    "TOP_LEVEL",
    "Key",
    "OutputSettings",
    "applies",
    "build_case",
    "build_topography",
    "check_name",
    "config_hash",
    "load",
    "mesh_key",
    "output_settings",
    "parse_overrides",
    "read_case_file",
    "resolve",
    "set_key",
    "where_applies",
]
