"""Every case-file key with its default, unit, allowed range and source (``contour-fem params``).

Generated from the schema, which is generated from the parameter dataclasses: the listing can
never disagree with what the code does. ``docs/parameters.md`` is this listing in Markdown.
"""

from __future__ import annotations

from typing import Any

from contour_fem.config.schema import REQUIRED, SCHEMA, TOP_LEVEL, Key, where_applies


def _default(key: Key) -> str:
    if key.default is REQUIRED:
        return "required"
    if key.default is None:
        return key.meta.default_doc or "–"
    if isinstance(key.default, bool):
        return str(key.default).lower()
    if isinstance(key.default, float):
        return f"{key.default:g}"
    return str(key.default)


def _unit(key: Key) -> str:
    if key.meta.unit_from is not None or key.meta.kind is not float:
        return key.meta.unit.symbol if key.meta.kind is float else ""
    return key.meta.unit.symbol


def _allowed(key: Key) -> str:
    meta = key.meta
    if meta.choices is not None:
        return " \\| ".join(map(str, meta.choices))
    if meta.kind is bool:
        return "true \\| false"
    if meta.kind is str:
        return "text"
    text = meta.range_text(symbol="")
    return text.replace("in ", "").replace("any value", "any")


def key_rows() -> list[dict[str, Any]]:
    """One row per key: section, key, default, unit, allowed, applies, doc, source."""
    rows = [{"section": "", "key": name, "default": _default(key), "unit": "",
             "allowed": "plain file name", "applies": "always", "doc": key.meta.doc,
             "source": ""} for name, key in TOP_LEVEL.items()]
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            rows.append({"section": section, "key": name, "default": _default(key),
                         "unit": _unit(key), "allowed": _allowed(key),
                         "applies": where_applies(section, key), "doc": key.meta.doc,
                         "source": key.meta.source})
    return rows


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped (the allowed values are already)."""
    return text if "\\|" in text else text.replace("|", "\\|")


def key_markdown() -> str:
    """The listing as Markdown, one table per section."""
    out = ["# Case-file keys", "",
           "Every key of a case file (`contour-fem params --markdown` writes this page). Values",
           "are in the unit the key's suffix names; ranges are the allowed values; a key that",
           "does not apply where it is given is an error.", ""]
    section = None
    for row in key_rows():
        if row["section"] != section:
            section = row["section"]
            out += ["", f"## [{section}]" if section else "## top level", "",
                    "| key | default | unit | allowed | applies when | meaning | source |",
                    "|---|---|---|---|---|---|---|"]
        cells = [f"`{row['key']}`"] + [_cell(row[k]) for k in (
            "default", "unit", "allowed", "applies", "doc", "source")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def key_text() -> str:
    """The listing as plain text (one key per line)."""
    lines = []
    for row in key_rows():
        dotted = f"{row['section']}.{row['key']}" if row["section"] else row["key"]
        unit = f" {row['unit']}" if row["unit"] else ""
        where = "" if row["applies"] == "always" else f"  [when {row['applies']}]"
        lines.append(f"{dotted:44s} {row['default']}{unit}  ({row['allowed']}){where}  "
                     f"{row['doc']}")
    return "\n".join(lines).replace("\\|", "|")
