"""Experiment specs: YAML files -> validated, profile-resolved :class:`Spec` objects.

A spec is one paper table row (``experiments/<paper>/<id>.yaml``).  Loading is strict and
imports no torch and no model code: unknown keys, wrong types, unknown registry names,
model params the family does not take and architecture strings that do not parse are
refused with a :class:`SpecError` that names the file, the key path and what was expected.
What only the code can tell (shapes, model size, factories' own param checks) is
:mod:`snnrepro.spec_build`: the engine runs it when it builds a run, ``deep=True`` here.
Profiles (``full``, ``quick``, ``smoke``) override budget keys only — ``train.*`` and
``dataset.*`` — never the method.

A spec file may ``extends:`` another (:mod:`snnrepro.spec_extends`; merged when read, before anything
is checked); reading one file safely is :mod:`snnrepro.spec_yaml`, the torch-free checks against
registry entries :mod:`snnrepro.spec_check`, the JSON Schema of spec files :mod:`snnrepro.spec_schema`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnrepro.optim_names import OPTIMIZER_NAMES, SCHEDULE_NAMES, one_of
from snnrepro.spec_check import check_model, check_names
from snnrepro.spec_errors import MAX_MESSAGE, SpecError  # noqa: F401 (MAX_MESSAGE: re-exported)
from snnrepro.spec_errors import short as _short
from snnrepro.spec_extends import KEY as EXTENDS_KEY
from snnrepro.spec_extends import read_chain
from snnrepro.spec_yaml import MAX_DEPTH, MAX_SPEC_BYTES, load_yaml_text, read_yaml_file  # noqa: F401 (re-exported)
from snnrepro.spec_yaml import too_deep as _too_deep

PROFILES = ("full", "quick", "smoke")
PAPERS = ("rsn", "stdbp", "brp", "bpsta", "iir")
#: keys a profile (or the CLI's --profile) may change; everything else is the method.
PROFILE_KEYS = ("train", "dataset")

#: budget defaults each profile starts from before the spec's own ``profiles.<name>``.
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"train": {"epochs": 5, "seeds": 1, "train_subset": 10000, "test_subset": 2000}},
    "smoke": {
        "train": {
            "epochs": 1,
            "seeds": 1,
            "max_batches": 1,
            "max_eval_batches": 1,
            "batch_size": 4,
            "eval_batch_size": 8,
            "train_subset": 8,
            "test_subset": 8,
        }
    },
}


#: what a spec id must look like: it names files (``results/runs/<id>/...``), so a lower-case slug of at
#: most 100 characters, starting with a letter or digit, of letters, digits, ``.``, ``_`` and ``-``, without ``..``.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
ID_RULE = "a lower-case slug: a-z 0-9 first, then a-z 0-9 . _ - (at most 100 characters, no '..')"


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.fullmatch(value)) and ".." not in value


def check_id(value: object, where: str, key: str = "id") -> str:
    """``value`` if it is a valid spec id (:data:`ID_PATTERN`), else a :class:`SpecError` naming ``key``."""
    if not is_valid_id(value):
        raise SpecError(where, key, f"expected {ID_RULE}, got {_short(value)}")
    return str(value)


@dataclass
class Component:
    """A registry entry and its parameters (dataset, encoder, rule, loss, analysis)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelSpec:
    family: str
    arch: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerSpec:
    name: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class ScheduleSpec:
    name: str = "constant"  # constant | step | multistep | cosine | cosine_restarts
    warmup_epochs: int = 0
    step_size: int = 30
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    t0: int = 10
    t_mult: int = 1
    eta_min: float = 0.0


@dataclass
class TrainSpec:
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1000
    seeds: int = 1
    train_subset: int | None = None
    test_subset: int | None = None
    max_batches: int | None = None
    max_eval_batches: int | None = None
    grad_clip: float | None = None
    num_workers: int = 0
    deterministic: bool = False
    #: fraction of the training set held out to pick the best epoch without looking at the test set
    val_split: float | None = None


@dataclass
class Reference:
    """A cited baseline from the paper's table (shown as a reference row, not trained)."""

    method: str
    value: float | None = None
    arch: str = ""
    note: str = ""


@dataclass
class Spec:
    id: str
    paper: str
    table: str
    row: str
    dataset: Component
    model: ModelSpec
    reported: float | None = None
    metric: str = "best_test_acc"
    tolerance: float = 0.5
    notes: str = ""
    #: id of the row this row's claim is a difference against (ablation step, baseline, pseudo-BP); tables
    #: compare the measured gap with the reported one.  Presentation only: not part of the hash.
    baseline: str | None = None
    encoder: Component = field(default_factory=lambda: Component("identity"))
    rule: Component = field(default_factory=lambda: Component("backprop"))
    loss: Component = field(default_factory=lambda: Component("cross_entropy"))
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    analyses: list[Component] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # resolution facts, not part of the YAML schema
    profile: str = "full"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d

    def method_dict(self) -> dict[str, Any]:
        """The resolved spec without bookkeeping: what defines the experiment."""
        d = self.to_dict()
        for k in ("profiles", "references", "notes", "profile", "baseline"):
            d.pop(k)
        if d["train"].get("val_split") is None:  # keys added later hash as before while unset
            d["train"].pop("val_split", None)
        return d

    def hash(self) -> str:
        """Stable hash of the resolved experiment (method + budget), 12 hex chars."""
        blob = json.dumps(self.method_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


_NON_YAML_FIELDS = {"profile", "source"}


# --------------------------------------------------------------------------- typing-driven conversion
def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}.get(
        tp, str(tp)
    )


def _convert(value: Any, tp: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where, key)
            except SpecError as exc:
                errors.append(exc)
        if len(errors) == 1 and "finite" in str(errors[0]):  # `x | None`: the one type's own complaint
            raise errors[0]
        raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, where, key)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")
        (inner,) = typing.get_args(tp)
        return [_convert(v, inner, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise SpecError(where, key, f"expected a mapping with string keys, got {_short(value)}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if abs(value) < 1e308 or isinstance(value, float) else math.inf
        elif isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):
                raise SpecError(where, key, f"expected a finite number, got {_short(value)}")
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")


def _build_dataclass(cls: Any, data: Any, where: str, key: str) -> Any:
    if cls is Component and isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict):
        raise SpecError(where, key or "(top level)", f"expected a mapping, got {_short(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NON_YAML_FIELDS}
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        path = f"{key}.{unknown[0]}" if key else unknown[0]
        raise SpecError(where, path, f"unknown key; allowed keys here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], where, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(where, sub, "required key is missing")
    return cls(**kwargs)


# --------------------------------------------------------------------------- profiles and overrides
def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "params":
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and k == "params":
            out[k] = {**out[k], **copy.deepcopy(v)}
        else:
            out[k] = copy.deepcopy(v)
    return out


def _profile_overrides(raw: dict[str, Any], profile: str, where: str) -> dict[str, Any]:
    if profile not in PROFILES:
        raise SpecError(where, "profile", f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    over = deep_merge(PROFILE_DEFAULTS[profile], (raw.get("profiles") or {}).get(profile) or {})
    bad = sorted(set(over) - set(PROFILE_KEYS))
    if bad:
        raise SpecError(
            where, f"profiles.{profile}.{bad[0]}", f"a profile may only change {' and '.join(PROFILE_KEYS)}"
        )
    for key, value in over.items():
        if not isinstance(value, dict):
            raise SpecError(where, f"profiles.{profile}.{key}", f"expected a mapping, got {type(value).__name__}")
    # a dataset switch in a profile replaces the dataset's params instead of merging into them
    if (
        "dataset" in over
        and "name" in over["dataset"]
        and over["dataset"]["name"] != (raw.get("dataset") or {}).get("name")
    ):
        over["dataset"].setdefault("params", {})
        over["dataset"]["__replace__"] = True
    return over


def parse_set(assignments: list[str], where: str = "--set") -> dict[str, Any]:
    """``["train.epochs=3", "model.params.T=8"]`` -> nested dict; values parsed as YAML."""
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise SpecError(where, item, "expected key.sub=value")
        path, _, text = item.partition("=")
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise SpecError(where, item, "empty key")
        value = load_yaml_text(text, where, path)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise SpecError(where, path, "conflicts with another --set")
        node[keys[-1]] = value
    return out


def _apply(raw: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    over = copy.deepcopy(over)
    ds = over.get("dataset")
    if isinstance(ds, dict) and ds.pop("__replace__", False):
        raw = {**raw, "dataset": {"name": ds["name"], "params": ds.get("params", {})}}
        over.pop("dataset")
    return deep_merge(raw, over)


# --------------------------------------------------------------------------- loading
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
    builds the pieces on the meta device (:func:`snnrepro.spec_build.check_buildable`, imports torch).
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
    resolved = _apply(raw, _profile_overrides(raw, profile, where))
    if overrides:
        resolved = _apply(resolved, overrides)
    spec: Spec = _build_dataclass(Spec, resolved, where, "")
    spec.profile = profile
    spec.source = where
    _validate(spec, where, check_registry)
    if deep:
        from snnrepro.spec_build import check_buildable

        check_buildable(spec, where)
    return spec


#: upper bounds of the budget keys (far above any paper's; beyond them a run cannot finish or allocate)
TRAIN_LIMITS = {"epochs": 100_000, "batch_size": 1 << 20, "eval_batch_size": 1 << 20, "seeds": 1000}
MAX_WORKERS = 256


def _validate(spec: Spec, where: str, check_registry: bool) -> None:
    check_id(spec.id, where)
    if spec.paper not in PAPERS:
        raise SpecError(where, "paper", f"unknown paper {_short(spec.paper)}; expected one of {', '.join(PAPERS)}")
    if spec.metric not in ("test_acc", "best_test_acc"):
        raise SpecError(where, "metric", "expected test_acc or best_test_acc")
    if spec.reported is not None and not 0.0 <= spec.reported <= 100.0:
        raise SpecError(where, "reported", "expected a percentage between 0 and 100")
    if not 0 <= spec.tolerance <= 100:
        raise SpecError(where, "tolerance", "expected a non-negative number of percentage points (at most 100)")
    t = spec.train
    for name in ("epochs", "batch_size", "eval_batch_size", "seeds"):
        v, top = getattr(t, name), TRAIN_LIMITS[name]
        if not 1 <= v <= top:
            raise SpecError(where, f"train.{name}", f"expected a positive integer (at most {top:,}), got {_short(v)}")
    for name in ("train_subset", "test_subset", "max_batches", "max_eval_batches"):
        v = getattr(t, name)
        if v is not None and v < 1:
            raise SpecError(where, f"train.{name}", "expected a positive integer or null")
    if t.grad_clip is not None and not t.grad_clip > 0:
        raise SpecError(where, "train.grad_clip", f"expected a positive gradient-norm bound or null, got {t.grad_clip}")
    if not 0 <= t.num_workers <= MAX_WORKERS:
        raise SpecError(where, "train.num_workers", f"expected 0 (load in the main process) to {MAX_WORKERS}, "
                        f"got {t.num_workers}")
    _validate_optimizer(spec.optimizer, where)
    _validate_schedule(spec.schedule, t.epochs, where)
    if t.val_split is not None and not 0.0 < t.val_split < 1.0:
        raise SpecError(where, "train.val_split", "expected a fraction between 0 and 1 (exclusive) or null")
    if spec.baseline is not None and (spec.baseline == spec.id or not spec.baseline.strip()):
        raise SpecError(where, "baseline", "expected the id of another row")
    if not check_registry:
        return
    check_names(spec, where)
    check_model(spec, where)


def _validate_optimizer(o: OptimizerSpec, where: str) -> None:
    if o.name not in OPTIMIZER_NAMES:
        raise SpecError(where, "optimizer.name", f"expected {one_of(OPTIMIZER_NAMES)}")
    if o.lr <= 0:
        raise SpecError(where, "optimizer.lr", "expected a positive learning rate")
    if o.weight_decay < 0:
        raise SpecError(where, "optimizer.weight_decay", f"expected a non-negative number, got {o.weight_decay}")
    if not 0 <= o.momentum < 1:
        raise SpecError(where, "optimizer.momentum", f"expected a number in [0, 1), got {o.momentum}")
    if o.nesterov and (o.name != "sgd" or o.momentum <= 0):
        raise SpecError(where, "optimizer.nesterov", "needs optimizer.name sgd and a positive optimizer.momentum")
    if len(o.betas) != 2 or not all(0 <= b < 1 for b in o.betas):
        raise SpecError(where, "optimizer.betas", f"expected two numbers in [0, 1), got {_short(o.betas)}")


def _validate_schedule(sc: ScheduleSpec, epochs: int, where: str) -> None:
    if sc.name not in SCHEDULE_NAMES:
        raise SpecError(where, "schedule.name", f"expected {one_of(SCHEDULE_NAMES)}")
    if not 0 <= sc.warmup_epochs <= TRAIN_LIMITS["epochs"]:
        raise SpecError(where, "schedule.warmup_epochs", f"expected a non-negative integer, got {sc.warmup_epochs}")
    for key in ("step_size", "t0", "t_mult"):
        v = getattr(sc, key)
        if not 1 <= v <= TRAIN_LIMITS["epochs"]:
            raise SpecError(where, f"schedule.{key}", f"expected a positive integer (at most 100,000), got {v}")
    if not sc.gamma > 0:
        raise SpecError(where, "schedule.gamma", f"expected a positive factor, got {sc.gamma}")
    if not 0 <= sc.eta_min <= 1:
        raise SpecError(where, "schedule.eta_min", f"expected a fraction of the lr in [0, 1], got {sc.eta_min}")
    for i, m in enumerate(sc.milestones):
        if m < 1:
            raise SpecError(where, f"schedule.milestones[{i}]", f"expected a positive epoch, got {m}")


# --------------------------------------------------------------------------- the experiments folder
def experiments_dir() -> Path:
    """``experiments/`` of the checkout (or ``$SNNREPRO_EXPERIMENTS``)."""
    import os

    env = os.environ.get("SNNREPRO_EXPERIMENTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "experiments"


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
        from snnrepro.spec_build import check_buildable

        check_buildable(spec, where)
    return spec
