"""Spec inheritance: ``extends: <parent>`` in a spec file, merged before validation.

A variant (a T sweep, an ablation row, a target variant) states only what differs from its parent::

    id: dvsgesture-bpsta-large-t8-bpsa
    extends: dvsgesture-bpsta-large-t8-baseline     # a spec id (experiments/*/<id>.yaml) ...
    # extends: ../brp/mnist-bp-cnn.yaml              # ... or a path relative to this file
    row: BPSA, T = 8
    model: {params: {gradient: bpsa}}

The parent (itself possibly extending another) is read first; the child is merged into it with
:func:`merge`: mappings are merged key by key, recursively (``params`` too); lists and scalars are
replaced by the child's.  The result is an ordinary spec mapping, validated and hashed exactly as if it
had been written out in one file, so rewriting a spec with ``extends:`` keeps its hash.  A child
states its own ``id`` (never inherited); a missing parent and a cycle are refused in one line naming
the files.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from snnrepro.spec.errors import SpecError, short
from snnrepro.spec.yaml_file import read_yaml_file

KEY = "extends"
#: longest chain of parents followed (a real family is two or three files deep)
MAX_CHAIN = 16
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``: mappings merged recursively, lists and scalars replaced (copies, inputs untouched)."""
    out = copy.deepcopy(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parent_path(child: Path, ref: object, root: Path) -> Path:
    """Where ``extends: ref`` of the file ``child`` points: a ``.yaml`` path relative to ``child``'s folder,
    else a spec id under ``root`` (``root/<paper>/<id>.yaml``)."""
    where = str(child)
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError(where, KEY, f"expected a relative path to a .yaml file or a spec id, got {short(ref)}")
    if ref.endswith((".yaml", ".yml")):
        path = Path(os.path.normpath(child.parent / ref))
        if not path.is_file():
            raise SpecError(where, KEY, f"parent spec file {ref!r} not found (looked for {path})")
        return path
    found = sorted(root.glob(f"*/{ref}.yaml")) if _ID.fullmatch(ref) else []
    if not found:
        raise SpecError(where, KEY, f"parent spec {short(ref)} not found (no {root}/*/{ref}.yaml)")
    return found[0]


def read_chain(path: Path, root: Path) -> tuple[dict[str, Any], list[Path]]:
    """The spec file ``path`` merged with every file it extends, and those parents (nearest first)."""
    chain = [path]
    own = [read_yaml_file(path)]
    while KEY in own[-1]:
        child = chain[-1]
        if "id" not in own[-1]:
            raise SpecError(str(child), "id", "required key is missing (a spec that extends another states its own id)")
        parent = parent_path(child, own[-1][KEY], root)
        seen = [os.path.realpath(p) for p in chain]
        if os.path.realpath(parent) in seen:
            loop = " -> ".join(str(p) for p in [*chain[seen.index(os.path.realpath(parent)) :], parent])
            raise SpecError(str(child), KEY, f"extends itself through a cycle: {loop}")
        if len(chain) > MAX_CHAIN:
            raise SpecError(str(path), KEY, f"more than {MAX_CHAIN} parents; flatten the chain")
        chain.append(parent)
        own.append(read_yaml_file(parent))
    merged = own[-1]
    for data in reversed(own[:-1]):
        merged = merge(merged, {k: v for k, v in data.items() if k != KEY})
    return merged, chain[1:]
