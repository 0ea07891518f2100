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
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict

from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short
from snnrepro.spec.fields import FORBID_EXTRA, Bool, Int, IntList, Mapping, Number, NumberList, Text

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

    __pydantic_config__ = FORBID_EXTRA
    name: Text
    params: Mapping = field(default_factory=dict)


def _named(value: Any) -> Any:
    """``encoder: latency`` is short for ``encoder: {name: latency}``."""
    return {"name": value} if isinstance(value, str) else value


#: a :class:`Component`, or its name alone
NamedComponent = Annotated[Component, BeforeValidator(_named, json_schema_input_type=str | Component)]


@dataclass
class ModelSpec:
    __pydantic_config__ = FORBID_EXTRA
    family: Text
    arch: Text
    params: Mapping = field(default_factory=dict)


@dataclass
class OptimizerSpec:
    __pydantic_config__ = FORBID_EXTRA
    name: Text = "adam"  # adam | adamw | sgd
    lr: Number = 1e-3
    weight_decay: Number = 0.0
    momentum: Number = 0.9
    nesterov: Bool = False
    betas: NumberList = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class ScheduleSpec:
    __pydantic_config__ = FORBID_EXTRA
    name: Text = "constant"  # constant | step | multistep | cosine | cosine_restarts
    warmup_epochs: Int = 0
    step_size: Int = 30
    milestones: IntList = field(default_factory=list)
    gamma: Number = 0.1
    t0: Int = 10
    t_mult: Int = 1
    eta_min: Number = 0.0


@dataclass
class TrainSpec:
    __pydantic_config__ = FORBID_EXTRA
    epochs: Int = 10
    batch_size: Int = 128
    eval_batch_size: Int = 1000
    seeds: Int = 1
    train_subset: Int | None = None
    test_subset: Int | None = None
    max_batches: Int | None = None
    max_eval_batches: Int | None = None
    grad_clip: Number | None = None
    num_workers: Int = 0
    deterministic: Bool = False
    #: fraction of the training set held out to pick the best epoch without looking at the test set
    val_split: Number | None = None
    #: GPU throughput options (docs/performance.md "GPU options"); at their defaults they leave the hash alone
    #: ``none`` | ``bf16``: forward under ``torch.autocast(dtype=torch.bfloat16)`` (scores and loss in float32)
    amp: Text = "none"
    #: model and 4-D inputs in ``torch.channels_last`` memory format
    channels_last: Bool = False
    #: ``torch.compile`` of the network for training and evaluation (checkpoints keep the uncompiled weights)
    compile: Bool = False
    #: the whole (unaugmented) train/test sets on the device once, batches drawn by index in the loader's order
    data_on_device: Bool = False


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

    __pydantic_config__ = FORBID_EXTRA
    method: Text
    value: Number | None = None
    arch: Text = ""
    note: Text = ""


@dataclass
class Spec:
    __pydantic_config__ = FORBID_EXTRA
    id: Text
    paper: Text
    table: Text
    row: Text
    dataset: NamedComponent
    model: ModelSpec
    reported: Number | None = None
    metric: Text = "best_test_acc"
    tolerance: Number = 0.5
    notes: Text = ""
    #: id of the row this row's claim is a difference against (ablation step, baseline, pseudo-BP); tables
    #: compare the measured gap with the reported one.  Presentation only: not part of the hash.
    baseline: Text | None = None
    encoder: NamedComponent = field(default_factory=lambda: Component("identity"))
    rule: NamedComponent = field(default_factory=lambda: Component("backprop"))
    loss: NamedComponent = field(default_factory=lambda: Component("cross_entropy"))
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    analyses: Annotated[list[NamedComponent], Strict()] = field(default_factory=list)
    references: Annotated[list[Reference], Strict()] = field(default_factory=list)
    profiles: Mapping = field(default_factory=dict)
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
