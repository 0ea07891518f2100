"""Loading a spec: a file (or id) read, merged with what it extends, resolved at a profile, checked.

:func:`load_spec` imports no torch and no model code; with ``deep=True`` it also builds the spec's
pieces on the meta device (:func:`snnrepro.spec.deep.check_buildable`), as the engine does before a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnrepro.spec.classes import Spec
from snnrepro.spec.convert import to_spec
from snnrepro.spec.errors import SpecError
from snnrepro.spec.extends import KEY as EXTENDS_KEY
from snnrepro.spec.extends import read_chain
from snnrepro.spec.profiles import PROFILE_KEYS, PROFILES, apply_overrides, profile_overrides
from snnrepro.spec.validate import validate
from snnrepro.spec.yaml_file import MAX_DEPTH
from snnrepro.spec.yaml_file import too_deep as _too_deep


def read_yaml(path: Path) -> dict[str, Any]:
    """The spec file ``path`` as one mapping: read safely, merged with the files it ``extends:``."""
    return read_chain(path, experiments_dir())[0]


def spec_parents(path: Path) -> list[Path]:
    """The files ``path`` extends, nearest first (empty for a spec without ``extends:``)."""
    return read_chain(path, experiments_dir())[1]


def resolve(
    raw: dict[str, Any],
    *,
    where: str,
    profile: str = "full",
    overrides: dict[str, Any] | None = None,
    check_registry: bool = True,
    deep: bool = False,
) -> Spec:
    """Build a :class:`Spec` from a raw mapping, applying profile then ``--set`` overrides.

    ``check_registry`` checks names, model params and the architecture's syntax (no torch); ``deep`` also
    builds the pieces on the meta device (:func:`snnrepro.spec.deep.check_buildable`, imports torch).
    """
    if not isinstance(raw, dict):
        raise SpecError(where, "", "a spec must be a mapping")
    if _too_deep(raw) or (overrides and _too_deep(overrides)):
        raise SpecError(where, "", f"nested more than {MAX_DEPTH} levels deep")
    for given in (raw, overrides or {}):
        if EXTENDS_KEY in given:  # followed when a file is read (read_yaml), where its folder is known
            raise SpecError(where, EXTENDS_KEY, "only a spec file may extend another (read it with read_yaml)")
    profiles = raw.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise SpecError(where, "profiles", "expected a mapping of profile name -> overrides")
    for name, block in profiles.items():
        if name not in PROFILES:
            raise SpecError(where, f"profiles.{name}", f"unknown profile; expected one of {', '.join(PROFILES)}")
        if block is not None and not isinstance(block, dict):
            raise SpecError(where, f"profiles.{name}", "expected a mapping")
        bad = sorted(set(block or {}) - set(PROFILE_KEYS))
        if bad:
            raise SpecError(
                where, f"profiles.{name}.{bad[0]}", f"a profile may only change {' and '.join(PROFILE_KEYS)}"
            )
    resolved = apply_overrides(raw, profile_overrides(raw, profile, where))
    if overrides:
        resolved = apply_overrides(resolved, overrides)
    spec = to_spec(resolved, where)
    spec.profile = profile
    spec.source = where
    validate(spec, where, check_registry)
    if deep:
        from snnrepro.spec.deep import check_buildable

        check_buildable(spec, where)
    return spec


# --------------------------------------------------------------------------- the experiments folder
def experiments_dir() -> Path:
    """``experiments/`` of the checkout (or ``$SNNREPRO_EXPERIMENTS``)."""
    import os

    env = os.environ.get("SNNREPRO_EXPERIMENTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "experiments"


def spec_files(root: Path | None = None) -> dict[str, Path]:
    """id -> path for every ``experiments/<paper>/<id>.yaml``."""
    root = root or experiments_dir()
    out: dict[str, Path] = {}
    for path in sorted(root.glob("*/*.yaml")):
        out[path.stem] = path
    return out


def find_spec(ref: str, root: Path | None = None) -> Path:
    """A spec id (``mnist-stdbp-cnn``) or a path to a YAML file -> its path."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise SpecError(ref, "", "no such spec file")
        return p
    files = spec_files(root)
    if ref in files:
        return files[ref]
    import difflib

    close = difflib.get_close_matches(ref, list(files), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `snnrepro list` shows every id"
    raise SpecError(ref, "", f"unknown spec id{hint}")


def load_spec(
    ref: str | Path,
    profile: str = "full",
    overrides: dict[str, Any] | None = None,
    check_registry: bool = True,
    deep: bool = False,
) -> Spec:
    """The spec ``ref`` (an id or a YAML path) resolved at ``profile`` with ``overrides``, checked as
    :func:`resolve` says (``deep``: also built on the meta device)."""
    path = find_spec(str(ref))
    raw = read_yaml(path)
    where = str(path)
    spec = resolve(raw, where=where, profile=profile, overrides=overrides, check_registry=check_registry)
    if path.parent.parent == experiments_dir() and spec.id != path.stem:
        raise SpecError(where, "id", f"must equal the file name {path.stem!r}, got {spec.id!r}")
    if path.parent.parent == experiments_dir() and spec.paper != path.parent.name:
        raise SpecError(where, "paper", f"must equal the folder name {path.parent.name!r}, got {spec.paper!r}")
    if deep:
        from snnrepro.spec.deep import check_buildable

        check_buildable(spec, where)
    return spec
