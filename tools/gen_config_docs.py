"""Render docs/configuration.md from the ``Settings`` model, so the page cannot drift from it.

    python -m tools.gen_config_docs            rewrite docs/configuration.md
    python -m tools.gen_config_docs --check    exit 1 if the file is out of date

Every field of :class:`schemas.settings.Settings` becomes one row: its variable, type (with
its bounds), default (secrets masked) and its ``Field(description=...)``.
``tests/unit/test_config_docs.py`` compares the file with :func:`render`.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo

from schemas.settings import ENV_PREFIX, SECRET_FIELDS, Settings, mask_url

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "configuration.md"
COMMAND = "python -m tools.gen_config_docs"

HEADER = f"""\
# Configuration

<!-- Generated from schemas/settings.py by `{COMMAND}`: do not edit by hand.
     tests/unit/test_config_docs.py fails when this file and the Settings model differ. -->

Every setting is an environment variable `{ENV_PREFIX}<NAME>`, or a `{ENV_PREFIX}<NAME>=value` line
in an optional `.env` file in the working directory (the environment wins over the file).
Settings are read and validated once at start-up: an invalid value stops the program with a
message naming the variable, exit code 2. `newsingest config` prints the effective values,
passwords masked.

The descriptions come from the `Field(description=...)` of each setting in
[`schemas/settings.py`](../schemas/settings.py); change them there and run `{COMMAND}`.
How the settings are used in production: [operations](operations.md).
"""

_TYPE_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean (`true`/`false`)",
    ipaddress.IPv4Network: "CIDR",
    ipaddress.IPv6Network: "CIDR",
}


def _type_name(annotation: Any) -> str:
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation]
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (types.UnionType, typing.Union):
        names = list(dict.fromkeys(_type_name(a) for a in args))
        return " or ".join(names)
    if origin is list:
        return "comma-separated list of " + " or ".join(dict.fromkeys(_type_name(a) for a in args))
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _bounds(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MinLen):
            parts.append(f"at least {item.min_length} characters")
    return ", ".join(parts)


def _default(name: str, field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if name in SECRET_FIELDS and isinstance(value, str):
        value = mask_url(value)
    if value is None:
        return "unset"
    if isinstance(value, list | tuple | set | frozenset):
        return "empty" if not value else "`" + ",".join(str(v) for v in value) + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render() -> str:
    """The whole text of docs/configuration.md."""
    lines = [HEADER, "| variable | type | default | description |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        kind = _type_name(field.annotation)
        bounds = _bounds(field)
        if bounds:
            kind += f", {bounds}"
        description = field.description or ""
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (f"`{ENV_PREFIX}{name.upper()}`", kind, _default(name, field), description)
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text("utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, "utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
