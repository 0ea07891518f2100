"""The spec's dataclasses (what a spec file holds, resolved), its hash, and the spec id rule.

:class:`Spec` is one paper table row; :meth:`Spec.hash` keys its run records (results/runs/<id>/...),
so the fields and their order here are part of the record format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short

PAPERS = ("rsn", "stdbp", "brp", "bpsta", "iir")

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
    #: GPU throughput options (docs/performance.md "GPU options"); at their defaults they leave the hash alone
    #: ``none`` | ``bf16``: forward under ``torch.autocast(dtype=torch.bfloat16)`` (scores and loss in float32)
    amp: str = "none"
    #: model and 4-D inputs in ``torch.channels_last`` memory format
    channels_last: bool = False
    #: ``torch.compile`` of the network for training and evaluation (checkpoints keep the uncompiled weights)
    compile: bool = False
    #: the whole (unaugmented) train/test sets on the device once, batches drawn by index in the loader's order
    data_on_device: bool = False


#: train keys added after specs were committed, with the default at which :meth:`Spec.method_dict` drops them
#: (a spec that leaves them unset keeps the hash its records are stored under)
LATER_TRAIN_DEFAULTS: dict[str, Any] = {
    "val_split": None,
    "amp": "none",
    "channels_last": False,
    "compile": False,
    "data_on_device": False,
}


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
        for key, default in LATER_TRAIN_DEFAULTS.items():  # keys added later hash as before while unset
            if key in d["train"] and d["train"][key] == default and type(d["train"][key]) is type(default):
                d["train"].pop(key)
        return d

    def hash(self) -> str:
        """Stable hash of the resolved experiment (method + budget), 12 hex chars."""
        blob = json.dumps(self.method_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


#: fields of :class:`Spec` that are resolution facts, not YAML keys
NON_YAML_FIELDS = {"profile", "source"}
