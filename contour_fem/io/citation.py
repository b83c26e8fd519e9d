"""What to cite: this tool, and the works a result depends on (``contour-fem cite``)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from contour_fem.core.provenance import package_version
from contour_fem.io.readers import load_result

TOOL = ("contour_fem contributors, contour_fem: a finite-element model of lithium dendrite onset "
        "at contoured Li-metal / solid-electrolyte interfaces, version {version} (see "
        "CITATION.cff)")


def references() -> dict[str, dict[str, str]]:
    """Key → {text, why} of every work the tool may cite."""
    text = resources.files("contour_fem.data").joinpath("references.toml").read_text("utf-8")
    return tomllib.loads(text)


def relevant(config: dict | None) -> list[str]:
    """The keys of the works a case configuration depends on (all defaults if None)."""
    keys = ["zhang2024", "ning2023", "masias2019", "singh2022", "roache1994"]
    if config is None:
        return [*keys, "rudi2020"]
    if config.get("criterion", {}).get("mode") == "physical":
        keys.append("mcgrogan2017")
    if config.get("solver", {}).get("coupling"):
        keys.append("monroe2004")
    if config.get("solver", {}).get("newton", "auto") != "standard":
        keys.append("rudi2020")
    if config.get("operating", {}).get("temperature_K", 298.15) != 298.15:
        keys.append("lepage2019")
    return keys


def citation_text(folder: str | Path | None = None) -> str:
    """The citations for a case folder (or for the defaults), as plain text."""
    config = None
    if folder is not None:
        config = load_result(folder).run.get("config")
    refs = references()
    lines = ["Please cite:", "", "  " + TOOL.format(version=package_version()), "",
             "and the works the result depends on:", ""]
    for key in relevant(config):
        lines.append(f"  [{key}] {refs[key]['text']}")
        lines.append(f"      ({refs[key]['why']})")
    return "\n".join(lines)
