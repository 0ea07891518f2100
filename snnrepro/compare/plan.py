"""Which spec each family trains in a comparison, and the one budget they share.

Each family keeps its own paper's method -- neuron, encoder, learning rule, loss, optimizer and
learning rate, model options -- taken from a *template* spec of its paper for the dataset's
modality.  The comparison fixes what must be common: the dataset, the epochs, the seeds, the
subsets and a constant learning rate (the papers' schedules are written for hundreds of epochs).
The architecture is either each template's own (``arch="paper"``, e.g. STDBP 784-400-10 against
BRP Conv5x5x28-FC1000-FC10) or one declared MLP ``HIDDEN-CLASSES`` for every family
(``arch="mlp"``, the default: 400 hidden neurons as STDBP's and RSN's MNIST rows).

Templates (id per modality; ``None``: the family's papers give no encoder for that input kind):

=========  ======================  ===================  ========================
family     images                  audio features        events
=========  ======================  ===================  ========================
stdbp      mnist-stdbp-mlp400      mnist-stdbp-mlp400   --
rsn        mnist-rsn-mlp           mnist-rsn-mlp        --
bpsta      mnist-bpsta-small       gsc-bpsta            nmnist-bpsta-middle
brp        mnist-brp-cnn           fsdd-brp-cnn1d       dvsgesture-brp-cnn
iir        mnist-iir-cnn           fsdd-iir-mlp         nmnist-iir-cnn
=========  ======================  ===================  ========================

Audio datasets are read as 30 log-mel bands x 30 frames scaled to ``[0, 1]`` per utterance
(``features: fbank, normalize: minmax``) for every family: the static encoders (latency, phase,
direct) see the whole map, BRP and IIR feed it frame by frame as their audio rows do.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

FAMILIES = ("stdbp", "rsn", "bpsta", "brp", "iir")

#: what each family is, for the table
METHODS = {
    "stdbp": "STDBP (ReL-PSP, exact spike-time backprop)",
    "rsn": "RSN (resonate neurons, SLDBP)",
    "bpsta": "BPSA+BPTA (LIF, adjusted surrogate BPTT)",
    "brp": "BRP (broadcast label reward, no backprop)",
    "iir": "IIR-SNN (trainable synapse filters, BPTT)",
}

TEMPLATES: dict[str, dict[str, str | None]] = {
    "stdbp": {"image": "mnist-stdbp-mlp400", "audio": "mnist-stdbp-mlp400", "events": None},
    "rsn": {"image": "mnist-rsn-mlp", "audio": "mnist-rsn-mlp", "events": None},
    "bpsta": {"image": "mnist-bpsta-small", "audio": "gsc-bpsta", "events": "nmnist-bpsta-middle"},
    "brp": {"image": "mnist-brp-cnn", "audio": "fsdd-brp-cnn1d", "events": "dvsgesture-brp-cnn"},
    "iir": {"image": "mnist-iir-cnn", "audio": "fsdd-iir-mlp", "events": "nmnist-iir-cnn"},
}

MODALITY = {
    "mnist": "image",
    "fashion_mnist": "image",
    "digits": "image",
    "cifar10": "image",
    "cifar100": "image",
    "fsdd": "audio",
    "tidigits": "audio",
    "gsc": "audio",
    "nmnist": "events",
    "dvsgesture": "events",
    "cifar10dvs": "events",
    "ntidigits": "events",
}

#: output classes of the datasets whose count is not 10
CLASSES = {"cifar100": 100, "dvsgesture": 11, "tidigits": 11, "ntidigits": 11, "gsc": 12}

AUDIO_PARAMS = {"features": "fbank", "n_features": 30, "n_frames": 30, "normalize": "minmax"}

#: spec keys a comparison replaces; everything else comes from the template
CLEARED = ("references", "analyses", "profiles", "profile", "baseline", "reported")


class CompareError(ValueError):
    """A comparison that cannot be planned (unknown dataset or family)."""


@dataclass(frozen=True)
class Budget:
    """What every family shares."""

    dataset: str
    epochs: int
    seeds: int = 1
    train_subset: int | None = None
    test_subset: int | None = None
    arch: str = "mlp"
    hidden: int = 400
    batch_size: int | None = None  # None: each template's own


@dataclass(frozen=True)
class Entry:
    """One family's part in a comparison: its spec (a mapping ready to write as YAML) or why not."""

    family: str
    template: str | None
    spec: dict[str, Any] | None
    skipped: str = ""


def modality(dataset: str) -> str:
    if dataset not in MODALITY:
        raise CompareError(f"compare: no modality known for dataset {dataset!r}; known: {', '.join(sorted(MODALITY))}")
    return MODALITY[dataset]


def compare_id(dataset: str, family: str, arch: str) -> str:
    return f"compare-{dataset.replace('_', '-')}-{arch}-{family}"


def plan(budget: Budget, families: list[str], templates: dict[str, dict[str, Any]]) -> list[Entry]:
    """One :class:`Entry` per family; ``templates`` maps template id -> its resolved spec mapping."""
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise CompareError(f"compare: unknown family {bad[0]!r}; choose from {', '.join(FAMILIES)}")
    if budget.arch not in ("mlp", "paper"):
        raise CompareError(f"compare: arch must be mlp or paper, got {budget.arch!r}")
    kind = modality(budget.dataset)
    out = []
    for family in families:
        tid = TEMPLATES[family][kind]
        if tid is None:
            out.append(Entry(family, None, None, f"{family}: its papers give no encoder for {kind} input"))
            continue
        out.append(Entry(family, tid, derive(templates[tid], family, budget, kind)))
    return out


def derive(template: dict[str, Any], family: str, budget: Budget, kind: str) -> dict[str, Any]:
    """The template's method on the comparison's dataset and budget."""
    spec = {k: copy.deepcopy(v) for k, v in template.items() if k not in CLEARED}
    spec["id"] = compare_id(budget.dataset, family, budget.arch)
    spec["table"] = "compare"
    spec["row"] = f"{METHODS[family]} on {budget.dataset} ({budget.arch})"
    spec["reported"] = None
    params = dict(AUDIO_PARAMS) if kind == "audio" else {}
    if spec["dataset"].get("name") == budget.dataset and kind != "audio":
        params = dict(spec["dataset"].get("params") or {})
    spec["dataset"] = {"name": budget.dataset, "params": params}
    if budget.arch == "mlp":
        spec["model"]["arch"] = f"{budget.hidden}-{CLASSES.get(budget.dataset, 10)}"
    train = spec["train"]
    train.update(
        epochs=budget.epochs,
        seeds=budget.seeds,
        train_subset=budget.train_subset,
        test_subset=budget.test_subset,
        max_batches=None,
        max_eval_batches=None,
    )
    if budget.batch_size is not None:
        train["batch_size"] = budget.batch_size
    spec["schedule"] = {"name": "constant"}
    spec["analyses"] = [{"name": "neuromorphic", "params": {"max_batches": 10}}]
    spec["references"] = []
    spec["notes"] = (
        f"Generated by snnrepro compare from {template['id']} (its neuron, encoder, rule, loss, optimizer and"
        f" model options); common: dataset {budget.dataset}, {budget.epochs} epochs, {budget.seeds} seed(s),"
        f" constant learning rate, architecture {spec['model']['arch']}."
    )
    return spec
