"""The README's resource reference, generated from the same schemas as ``crds/`` so it cannot drift.

``python -m mloop.crdgen.reference README.md`` rewrites the text between the reference markers;
``--check`` fails instead when it is stale (``make verify`` and the test suite use that).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mloop.api.kinds import KINDS, KindInfo
from mloop.crdgen.crd import openapi_schema

__all__ = ["BEGIN", "END", "render_reference", "update_readme"]

BEGIN = "<!-- reference:start -->"
END = "<!-- reference:end -->"
Schema = dict[str, Any]


def _type_of(node: Schema) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(node.get("type", "any"))
    if kind == "array":
        return f"[]{_type_of(node.get('items', {}))}"
    if kind == "object" and "additionalProperties" in node and "properties" not in node:
        return f"map[string]{_type_of(node['additionalProperties'])}"
    if kind == "object" and node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (free-form)"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    return kind


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _rows(node: Schema, prefix: str, required: set[str]) -> Iterator[str]:
    """One table row per field, depth first, with list items written as ``field[]``."""
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        default = child.get("default")
        flags = " (required)" if name in required else ""
        default_text = f"`{json.dumps(default)}`" if default not in (None, {}, []) else ""
        yield (
            f"| `{path}`{flags} | {_type_of(child)} | {_cell(default_text)} | "
            f"{_cell(str(child.get('description', '')))} |"
        )
        inner = child.get("items", {}) if child.get("type") == "array" else child
        if "properties" in inner:
            suffix = "[]" if child.get("type") == "array" else ""
            yield from _rows(inner, path + suffix, set(inner.get("required", [])))


def _rules(schema: Schema, path: str = "") -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        yield f"- `{path or '(root)'}`: {rule['message']} (`{rule['rule']}`)"
    for name, child in schema.get("properties", {}).items():
        yield from _rules(child, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from _rules(schema["items"], f"{path}[]")


def _kind_section(info: KindInfo) -> str:
    schema = openapi_schema(info)
    lines = [
        f"### {info.kind} (`{'`, `'.join(info.short_names)}`)",
        "",
        _cell(str(schema.get("description", ""))),
        "",
        f"Example: [`examples/{info.kind.lower()}.yaml`](examples/{info.kind.lower()}.yaml). "
        f"`kubectl get {info.plural}` shows: "
        f"{', '.join(c.name for c in info.printer_columns if not c.priority)}.",
        "",
    ]
    for part in ("spec", "status"):
        node = schema["properties"][part]
        lines += [
            f"**{part}**",
            "",
            "| field | type | default | description |",
            "|---|---|---|---|",
            *_rows(node, part, set(node.get("required", []))),
            "",
        ]
    rules = list(_rules(schema))
    if rules:
        lines += ["Validation rules enforced by the API server (CEL):", "", *rules, ""]
    return "\n".join(lines)


def render_reference() -> str:
    """The whole generated section, without the markers."""
    return "\n".join(_kind_section(info) for info in KINDS).rstrip() + "\n"


def update_readme(text: str) -> str:
    """Replace what stands between the markers; raises if the markers are missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN} ... {END} markers")
    return text[: start + len(BEGIN)] + "\n" + render_reference() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("readme", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the reference is stale")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    fresh = update_readme(current)
    if args.check:
        if fresh != current:
            print(f"{args.readme}: resource reference is stale; run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
