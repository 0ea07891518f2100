"""Reading one spec file as YAML, safely: size and depth limits, no aliases, one-line errors.

Nothing here knows the spec schema; :mod:`snnrepro.spec.extends` merges a file with the files it
extends and :mod:`snnrepro.spec` validates the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from snnrepro.spec.errors import SpecError

#: largest spec file read, and deepest nesting accepted (a real spec is a few kB and 4 levels deep)
MAX_SPEC_BYTES = 1 << 20
MAX_DEPTH = 32


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: a ``*name`` reference (how a 1 kB file expands to gigabytes) is refused."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in specs; write the value out", event.start_mark
            )
        return super().compose_node(parent, index)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: the problem and its line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = []
        for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
            if what:
                parts.append(f"{what} at line {mark.line + 1}, column {mark.column + 1}" if mark else what)
        return " ".join("; ".join(parts or ["syntax error"]).split())
    return " ".join(str(exc).split())


def too_deep(data: Any) -> bool:
    """Whether ``data`` nests more than :data:`MAX_DEPTH` levels (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
    return False


def load_yaml_text(text: str, where: str, key: str = "") -> Any:
    """YAML text -> data, refusing aliases, more than :data:`MAX_DEPTH` levels and syntax errors (one line)."""
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise SpecError(where, key, f"not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise SpecError(where, key, f"nested more than {MAX_DEPTH} levels deep") from None
    if too_deep(data):
        raise SpecError(where, key, f"nested more than {MAX_DEPTH} levels deep")
    return data


def read_yaml_file(path: Path) -> dict[str, Any]:
    """One spec file as it is written (``extends:`` not followed): a mapping, or a :class:`SpecError`."""
    where = str(path)
    try:
        with open(path, "rb") as fh:
            blob = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(where, "", f"cannot read spec file: {exc.strerror or exc}") from None
    if len(blob) > MAX_SPEC_BYTES:
        raise SpecError(where, "", f"larger than {MAX_SPEC_BYTES:,} bytes; a spec is a few kB of YAML")
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = "UTF-16" if blob[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary or another encoding"
        raise SpecError(where, "", f"not UTF-8 text ({kind}: byte {exc.start}); save it as UTF-8 YAML") from None
    if "\x00" in text:
        raise SpecError(where, "", "not UTF-8 text (NUL bytes: binary or UTF-16); save it as UTF-8 YAML")
    data = load_yaml_text(text, where)
    if not isinstance(data, dict):
        raise SpecError(where, "", f"a spec must be a mapping at the top level, got {type(data).__name__}")
    return data
