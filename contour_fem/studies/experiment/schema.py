"""An experiment as data: samples, facts, measurements, unknowns to identify, hold-out splits.

A built-in experiment is ``contour_fem/data/<name>.toml``; a user's is any TOML file with the
same schema (docs/experiments.md):

* ``name``, ``citation``, ``conditions``: text.
* ``[base]``: a case table (sections as in a case file) applied to every sample.
* ``[settings]``: ``error_bar_refinement`` (the coarser level of the same mesh family, default
  2/3), ``identify_at`` (``"coarse"``: the unknowns are searched on that level, the best point
  is then solved at the main level; ``"main"``).
* ``[[samples]]``: ``name`` and geometry keys (``topography``, ``height_um`` …), optional
  ``series`` (labels for figures), ``set`` (dotted case keys for this sample only) and
  ``identification = false`` (run at the identified point only: costly samples whose facts do
  not constrain the unknowns).
* ``[[facts]]``: statements about computed numbers (:data:`FACT_FIELDS`).
* ``[[measurements]]``: ``sample``, ``quantity``, ``value``, ``uncertainty``.
* ``[identify]``: dotted case key → list of values, or ``{min, max, scale, count}``.
* ``[[holdout]]``: ``name``, ``fit`` and ``predict`` (fact ids).
* ``[[sensitivity]]``: ``label`` and ``set`` (dotted keys; ``"2S"`` is twice the sample's
  period), optional ``samples``.

Every error is one line naming the entry and key (:class:`InputError`).
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from contour_fem import config
from contour_fem.core.errors import InputError
from contour_fem.core.files import read_text
from contour_fem.studies.experiment.facts import FACT_FIELDS, QUANTITIES

GEOMETRY_KEYS = ("topography", "height_um", "separation_um", "top_width_um", "gap_um",
                 "corner_radius_um", "form")
SAMPLE_KEYS = ("name", *GEOMETRY_KEYS, "series", "garbled", "set", "identification", "note")
TOP_KEYS = ("name", "citation", "conditions", "base", "settings", "samples", "facts",
            "measurements", "identify", "holdout", "sensitivity")
SETTINGS = {"error_bar_refinement": 2.0 / 3.0, "identify_at": "coarse"}
IDENTIFY_AT = ("coarse", "main")
#: Unknowns that change no field: the criterion is re-evaluated from the stored interface tables.
POST_KEYS = ("criterion.k_per_MPa", "criterion.growth_exponent")
#: Grid points of a range {min, max} without ``count``: fields cost a solve each, post keys not.
DEFAULT_COUNT = {"field": 5, "post": 41}
SCALES = ("log", "linear")


@dataclass(frozen=True)
class Unknown:
    """One identified case key and the values searched."""

    key: str
    values: tuple
    post: bool  # True: changes no field (criterion constants)
    continuous: bool  # given as a range (the search may refine between grid values)


@dataclass
class Experiment:
    """A parsed and validated experiment."""

    name: str
    citation: str
    conditions: str
    base: dict
    settings: dict
    samples: list[dict]
    facts: list[dict]
    measurements: list[dict] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)
    holdout: list[dict] = field(default_factory=list)
    sensitivity: list[dict] = field(default_factory=list)
    source: str = ""

    def sample(self, name: str) -> dict:
        """The sample called ``name``."""
        for s in self.samples:
            if s["name"] == name:
                return s
        raise KeyError(name)

    @property
    def field_unknowns(self) -> list[Unknown]:
        """Unknowns that need their own solves."""
        return [u for u in self.unknowns if not u.post]

    @property
    def post_unknowns(self) -> list[Unknown]:
        """Unknowns evaluated from stored results."""
        return [u for u in self.unknowns if u.post]

    def grid_samples(self) -> list[str]:
        """Samples solved at every point of the identification grid."""
        return [s["name"] for s in self.samples if s.get("identification", True)]


def builtin_experiments() -> list[str]:
    """Names of the experiments shipped in ``contour_fem/data``."""
    return sorted(p.name[:-5] for p in resources.files("contour_fem.data").iterdir()
                  if p.name.endswith(".toml") and p.name != "references.toml")


def load_experiment(source: str | Path, identify: dict | bool | None = None) -> Experiment:
    """Load a built-in experiment by name, or a user's experiment file.

    Args:
        source: Name or path.
        identify: Entries that replace or extend the file's ``[identify]`` table (a dict), as
            validated as the file's own.

    Raises:
        InputError: Unknown name, unreadable or malformed file, or an invalid entry.

    """
    text_source = str(source)
    if text_source in builtin_experiments():
        text = resources.files("contour_fem.data").joinpath(f"{text_source}.toml").read_text()
        where = text_source
    elif text_source.endswith(".toml") or Path(text_source).exists():
        text = read_text(text_source, "experiment file")
        where = text_source
    else:
        raise InputError(f"experiment must be a TOML file or one of "
                         f"{', '.join(builtin_experiments())}, got {text_source!r}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: malformed TOML: {exc}") from None
    if isinstance(identify, dict) and identify:
        data["identify"] = {**data.get("identify", {}), **identify}
    try:
        return parse_experiment(data, source=where)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _known_keys(table: dict, allowed, where: str = "", prefix: str = "") -> None:
    """Refuse a key of ``table`` not in ``allowed``: one line naming it and the allowed keys."""
    for key in table:
        if key not in allowed:
            head = f"{where}: " if where else ""
            raise InputError(f"{head}unknown key '{prefix}{key}' (allowed: {', '.join(allowed)})")


def parse_experiment(data: dict, source: str = "") -> Experiment:
    """Validate a parsed experiment table (see the module docstring)."""
    _known_keys(data, TOP_KEYS)
    name = config.check_name(data.get("name", Path(source).stem or "experiment"),
                             "experiment name")
    base = _table(data, "base")
    settings = _settings(_table(data, "settings"))
    samples = _samples(data.get("samples"), base)
    names = [s["name"] for s in samples]
    facts = _facts(data.get("facts", []), names)
    measurements = _measurements(data.get("measurements", []), names)
    unknowns = _unknowns(_table(data, "identify"), base, samples[0])
    holdout = _holdout(data.get("holdout", []), [f["id"] for f in facts])
    sensitivity = _sensitivity(data.get("sensitivity", []), names)
    return Experiment(name=name, citation=str(data.get("citation", "")),
                      conditions=str(data.get("conditions", "")), base=base, settings=settings,
                      samples=samples, facts=facts, measurements=measurements,
                      unknowns=unknowns, holdout=holdout, sensitivity=sensitivity,
                      source=source)


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"'{key}' must be a table")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"{where} must be a list of tables ([[{where}]])")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InputError(f"{where}[{i}] must be a table")
    return value


def _settings(given: dict) -> dict:
    _known_keys(given, SETTINGS, prefix="settings.")
    out = {**SETTINGS, **given}
    r = out["error_bar_refinement"]
    if isinstance(r, bool) or not isinstance(r, int | float) or not 0.2 <= r < 1.0:
        raise InputError(f"settings.error_bar_refinement must be in [0.2, 1), got {r!r}")
    if out["identify_at"] not in IDENTIFY_AT:
        raise InputError(f"settings.identify_at must be one of {', '.join(IDENTIFY_AT)}, "
                         f"got {out['identify_at']!r}")
    return out


def sample_config(sample: dict, base: dict, extra: dict[str, Any] | None = None) -> dict:
    """Resolved case table of ``sample``: base, its geometry, its ``set``, then ``extra``.

    String values ``"2S"``, ``"3S"`` of ``extra`` are multiples of the sample's period.
    """
    cfg = copy.deepcopy(base)
    cfg["name"] = sample["name"]
    for key in GEOMETRY_KEYS:
        if key in sample:
            cfg = config.set_key(cfg, f"geometry.{key}", sample[key])
    for key, value in {**sample.get("set", {}), **(extra or {})}.items():
        if isinstance(value, str) and value.endswith("S") and value[:-1].isdigit():
            value = float(value[:-1]) * float(sample["separation_um"])
        cfg = config.set_key(cfg, key, value)
    return config.resolve(cfg)


def _samples(raw: Any, base: dict) -> list[dict]:
    if raw is None:
        raise InputError("an experiment needs [[samples]]")
    samples = _list(raw, "samples")
    if not samples:
        raise InputError("an experiment needs at least one sample")
    seen: set[str] = set()
    for i, s in enumerate(samples):
        where = f"samples[{i}]"
        _known_keys(s, SAMPLE_KEYS, where)
        if "name" not in s:
            raise InputError(f"{where}: missing 'name'")
        name = config.check_name(s["name"], f"{where}.name")
        if name in seen:
            raise InputError(f"{where}: sample name {name!r} used twice")
        seen.add(name)
        if not isinstance(s.get("set", {}), dict):
            raise InputError(f"{where} ({name}).set must be a table of dotted keys")
        if not isinstance(s.get("identification", True), bool):
            raise InputError(f"{where} ({name}).identification must be true or false")
        if not isinstance(s.get("series", []), list):
            raise InputError(f"{where} ({name}).series must be a list of labels")
        try:
            resolved = sample_config(s, base)
        except InputError as exc:
            raise InputError(f"{where} ({name}): {exc}") from None
        s.setdefault("separation_um", resolved["geometry"]["separation_um"])
    return samples


def _names(value: Any, names: list[str], where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where} must be a non-empty list of sample names")
    for s in value:
        if s not in names:
            raise InputError(f"{where}: unknown sample {s!r}")
    return value


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise InputError(f"{where} must be > 0, got {value!r}")
    return float(value)


def _quantity(value: Any, where: str) -> str:
    if value not in QUANTITIES:
        raise InputError(f"{where} must be one of {', '.join(QUANTITIES)}, got {value!r}")
    return value


def _facts(raw: Any, names: list[str]) -> list[dict]:
    facts = _list(raw, "facts")
    seen: set[str] = set()
    for i, f in enumerate(facts):
        fid = f.get("id")
        where = f"facts[{i}]" + (f" ({fid})" if fid else "")
        if not isinstance(fid, str) or not fid:
            raise InputError(f"{where}: missing 'id'")
        if fid in seen:
            raise InputError(f"{where}: fact id used twice")
        seen.add(fid)
        kind = f.get("kind")
        if kind not in FACT_FIELDS:
            raise InputError(f"{where}.kind must be one of {', '.join(FACT_FIELDS)}, got "
                             f"{kind!r}")
        required, optional = FACT_FIELDS[kind]
        allowed = {"id", "kind", "statement", "source", *required, *optional}
        for key in f:
            if key not in allowed:
                raise InputError(f"{where}: key '{key}' does not apply to kind {kind!r} "
                                 f"(allowed: {', '.join(sorted(allowed))})")
        for key in required:
            if key not in f:
                raise InputError(f"{where}: kind {kind!r} needs '{key}'")
        f.setdefault("statement", fid)
        if kind == "not_checkable":
            continue
        _names(f["samples"], names, f"{where}.samples")
        _quantity(f["quantity"], f"{where}.quantity")
        for key in ("target", "tolerance", "threshold"):
            if key in f:
                _number(f[key], f"{where}.{key}", positive=key != "target")
        if kind == "max_of" and f["expect"] not in f["samples"]:
            raise InputError(f"{where}.expect must be one of its samples")
        if kind == "closer_than":
            _quantity(f["reference"], f"{where}.reference")
            if len(f["samples"]) != 2:
                raise InputError(f"{where}.samples must name exactly two samples")
        if kind == "monotone" and f["direction"] not in ("increasing", "decreasing"):
            raise InputError(f"{where}.direction must be increasing or decreasing")
        if kind in ("monotone", "max_of") and len(f["samples"]) < 2:
            raise InputError(f"{where}.samples must name at least two samples")
        if kind == "rise_then_fall" and len(f["samples"]) < 3:
            raise InputError(f"{where}.samples must name at least three samples")
    return facts


def _measurements(raw: Any, names: list[str]) -> list[dict]:
    rows = _list(raw, "measurements")
    for i, m in enumerate(rows):
        where = f"measurements[{i}]"
        _known_keys(m, ("sample", "quantity", "value", "uncertainty", "source"), where)
        for key in ("sample", "quantity", "value", "uncertainty"):
            if key not in m:
                raise InputError(f"{where}: missing '{key}'")
        _names([m["sample"]], names, f"{where}.sample")
        _quantity(m["quantity"], f"{where}.quantity")
        _number(m["value"], f"{where}.value")
        _number(m["uncertainty"], f"{where}.uncertainty", positive=True)
    return rows


def _range(spec: dict, where: str, post: bool) -> tuple:
    _known_keys(spec, ("min", "max", "scale", "count"), where)
    if "min" not in spec or "max" not in spec:
        raise InputError(f"{where} needs min and max")
    lo, hi = _number(spec["min"], f"{where}.min"), _number(spec["max"], f"{where}.max")
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        raise InputError(f"{where}.scale must be log or linear, got {scale!r}")
    count = spec.get("count", DEFAULT_COUNT["post" if post else "field"])
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 1000:
        raise InputError(f"{where}.count must be an integer in [2, 1000], got {count!r}")
    if not hi > lo:
        raise InputError(f"{where}: max must be > min")
    if scale == "log":
        if not lo > 0:
            raise InputError(f"{where}: a log range needs min > 0")
        values = np.geomspace(lo, hi, count)
    else:
        values = np.linspace(lo, hi, count)
    return tuple(float(f"{v:.10g}") for v in values)


def _unknowns(raw: dict, base: dict, first: dict) -> list[Unknown]:
    out = []
    for key, spec in raw.items():
        where = f"identify.{key}" if "." not in key else f"identify.\"{key}\""
        post = key in POST_KEYS
        if isinstance(spec, dict):
            values, continuous = _range(spec, where, post), True
        elif isinstance(spec, list) and spec:
            values, continuous = tuple(spec), False
        else:
            raise InputError(f"{where} must be a list of values or {{min, max, scale}}")
        if len(set(map(repr, values))) != len(values):
            raise InputError(f"{where}: values repeat")
        for value in values:  # every value must make a valid case of the first sample
            try:
                sample_config(first, base, {key: value})
            except InputError as exc:
                raise InputError(f"{where} = {value!r}: {exc}") from None
        out.append(Unknown(key, values, post, continuous))
    return out


def _holdout(raw: Any, fact_ids: list[str]) -> list[dict]:
    rows = _list(raw, "holdout")
    for i, h in enumerate(rows):
        where = f"holdout[{i}]"
        _known_keys(h, ("name", "fit", "predict"), where)
        for key in ("name", "fit", "predict"):
            if key not in h:
                raise InputError(f"{where}: missing '{key}'")
        for key in ("fit", "predict"):
            if not isinstance(h[key], list) or not h[key]:
                raise InputError(f"{where}.{key} must be a non-empty list of fact ids")
            for fid in h[key]:
                if fid not in fact_ids:
                    raise InputError(f"{where}.{key}: unknown fact {fid!r}")
    return rows


def _sensitivity(raw: Any, names: list[str]) -> list[dict]:
    rows = _list(raw, "sensitivity")
    for i, row in enumerate(rows):
        where = f"sensitivity[{i}]"
        _known_keys(row, ("label", "set", "samples"), where)
        if not isinstance(row.get("label"), str) or not isinstance(row.get("set"), dict):
            raise InputError(f"{where} needs a 'label' and a 'set' table of dotted keys")
        if "samples" in row:
            _names(row["samples"], names, f"{where}.samples")
    return rows
