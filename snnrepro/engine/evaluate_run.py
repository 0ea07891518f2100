"""A trained run, found again and evaluated: ``snnrepro eval RUN|CHECKPOINT``.

A run is named ``ID[:profile[:seed]]`` (profile ``full`` and seed 0 by default) and lives at
``<results>/runs/<id>/<profile>/checkpoints/seed-<n>.pt`` with its record ``../seed-<n>.json``; a path
to a ``.pt`` file names the checkpoint directly (its record is looked for in the same place).

The model is rebuilt from the spec stored in the run record (``spec`` key), so the weights meet the
architecture they were trained with even when the YAML has changed since; without a record (or a record
whose spec no longer resolves) the current spec of that id and profile is used, and the checkpoint's spec
hash must then match it.  The checkpoint is read with ``weights_only=True`` (nothing in it runs).

Evaluation is the training loop's own :func:`snnrepro.engine.fit.evaluate` on the same test split
(the spec's ``test_subset`` and ``max_eval_batches``), ties counted as wrong
(:mod:`snnrepro.metrics.accuracy`), after seeding with the run's seed: for deterministic encoders this
reproduces the record's final ``test_acc`` exactly (the checkpoint holds the last epoch's weights).
``dataset=`` evaluates on another registered dataset whose samples have the same shape and class count
(its whole test split).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.data.base import DataBundle
from snnrepro.engine.checkpoint import CheckpointError, load_checkpoint
from snnrepro.results.record import RunRecord, checkpoint_path, read_record
from snnrepro.spec import PROFILES, Spec, SpecError, load_spec, resolve

_RUN_RE = re.compile(r"^(?P<id>[^:]+)(?::(?P<profile>[^:]*))?(?::(?P<seed>[^:]*))?$")
_SEED_FILE = re.compile(r"^seed-(\d+)\.pt$")


@dataclass
class TrainedRun:
    """A checkpoint with what is needed to rebuild its model."""

    checkpoint: Path
    spec: Spec
    seed: int
    record: RunRecord | None
    state: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def model_state(self) -> dict[str, torch.Tensor]:
        return self.state["model"]

    def provenance(self) -> dict[str, Any]:
        """Where the weights come from: the record's identity and provenance fields (no history)."""
        out: dict[str, Any] = {
            "id": self.spec.id, "profile": self.spec.profile, "seed": self.seed,
            "checkpoint": str(self.checkpoint), "epoch": int(self.state.get("epoch", -1)) + 1,
            "spec_hash": self.state.get("spec_hash", ""),
        }  # fmt: skip
        if self.record is not None:
            r = self.record
            out.update(
                status=r.status, test_acc=r.test_acc, best_test_acc=r.best_test_acc, epochs=r.epochs,
                git_commit=r.git_commit, versions=r.versions, device=r.device, data_source=r.data_source,
                started_at=r.started_at, finished_at=r.finished_at, paper=r.paper,
            )  # fmt: skip
        return out


def parse_run(ref: str) -> tuple[str, str, int]:
    """``ID[:profile[:seed]]`` -> ``(id, profile, seed)``; profile ``full`` and seed 0 by default."""
    m = _RUN_RE.match(ref)
    if not m:
        raise ValueError(f"{ref!r}: expected ID[:profile[:seed]] or a path to a checkpoint (.pt)")
    profile = m.group("profile") or "full"
    if profile not in PROFILES:
        raise ValueError(f"{ref!r}: profile {profile!r} is not one of {', '.join(PROFILES)}")
    seed_text = m.group("seed") or "0"
    if not seed_text.isdigit():
        raise ValueError(f"{ref!r}: seed {seed_text!r} is not a non-negative integer")
    return m.group("id"), profile, int(seed_text)


def spec_from_record(record: RunRecord) -> Spec:
    """The resolved spec stored in ``record`` (profile overrides already applied), as a :class:`Spec`."""
    raw = {k: v for k, v in record.spec.items() if k != "profile"}
    spec = resolve(raw, where=f"run record of {record.id} ({record.profile}, seed {record.seed})")
    spec.profile = record.profile
    return spec


def locate(ref: str | Path, results: Path) -> tuple[Path, str, str, int]:
    """``(checkpoint, id, profile, seed)`` for a run reference or a checkpoint path."""
    path = Path(ref)
    if path.suffix == ".pt":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint")
        m = _SEED_FILE.match(path.name)
        parts = path.resolve().parts
        if not m or len(parts) < 4 or parts[-2] != "checkpoints":
            raise ValueError(
                f"{path}: a checkpoint path must look like <results>/runs/<id>/<profile>/checkpoints/seed-<n>.pt"
            )
        return path, parts[-4], parts[-3], int(m.group(1))
    spec_id, profile, seed = parse_run(str(ref))
    ckpt = checkpoint_path(results, spec_id, profile, seed)
    if not ckpt.is_file():
        raise FileNotFoundError(
            f"{ckpt}: no checkpoint for {spec_id} ({profile}, seed {seed}); train it with "
            f"`snnrepro run {spec_id} --profile {profile} --seed {seed}` or pass --results"
        )
    return ckpt, spec_id, profile, seed


def load_run(ref: str | Path, results: Path) -> TrainedRun:
    """Find ``ref``'s checkpoint and record, rebuild its spec, read its weights (``weights_only``)."""
    ckpt, spec_id, profile, seed = locate(ref, results)
    record = read_record(ckpt.parent.parent / f"seed-{seed}.json")
    warnings: list[str] = []
    spec: Spec | None = None
    if record is not None and record.spec:
        try:
            spec = spec_from_record(record)
        except (SpecError, KeyError, ValueError) as exc:
            warnings.append(f"the run record's spec no longer resolves ({exc}); using the current spec")
    if spec is None:
        spec = load_spec(spec_id, profile=profile)
    state, ck_warnings = load_checkpoint(ckpt)
    warnings += ck_warnings
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{ckpt}: holds no model weights")
    if state.get("spec_hash") and state["spec_hash"] != spec.hash():
        raise CheckpointError(
            f"{ckpt}: written for spec hash {state['spec_hash']}, but the spec used to rebuild the model hashes to"
            f" {spec.hash()} (the spec changed and the run record is missing or unreadable)"
        )
    return TrainedRun(ckpt, spec, seed, record, state, warnings)


def sample_shape(spec: Spec, record: RunRecord | None = None) -> tuple[tuple[int, ...], int]:
    """``(input_shape, num_classes)`` the model was built for, without loading any data."""
    from snnrepro.registry import DATASETS

    name, params = spec.dataset.name, dict(spec.dataset.params)
    if record is not None and record.data_source.startswith("standin:"):
        from snnrepro.data.standins.standin import standin_for

        name, params = standin_for(name, params)
    shape, classes = DATASETS.get(name).shape(**params)
    return tuple(int(s) for s in shape), int(classes)


def build_model(run: TrainedRun, device: torch.device | str = "cpu") -> nn.Module:
    """``nn.Sequential(encoder, net)`` of the run's spec with the checkpoint's weights, in eval mode."""
    from snnrepro.engine.build import build

    shape, classes = sample_shape(run.spec, run.record)
    shell = DataBundle(train=[], test=[], input_shape=shape, num_classes=classes)  # type: ignore[arg-type]
    model = build(run.spec, shell, torch.device(device)).model
    model.load_state_dict(run.model_state)
    return model.eval()


def parse_dataset_params(items: list[str]) -> dict[str, Any]:
    """``--dataset-param KEY=VALUE`` items as a mapping, each value read as YAML (``KEY`` alone: ``None``)."""
    import yaml

    return {k: yaml.safe_load(v) for k, v in (p.split("=", 1) if "=" in p else (p, "") for p in items)}


def evaluate_run(
    ref: str | Path,
    results: Path,
    data_dir: Path,
    device: torch.device,
    dataset: str | None = None,
    dataset_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Accuracy (ties wrong) and mean loss of a trained run on a test split; see the module docstring."""
    from snnrepro.data.loading import deterministic_subset, load_data
    from snnrepro.engine.fit import evaluate
    from snnrepro.engine.seeding import seed_everything
    from snnrepro.registry import DATASETS, LOSSES

    run = load_run(ref, results)
    spec = run.spec
    model = build_model(run, device)
    trained_shape, trained_classes = sample_shape(spec, run.record)
    if dataset is None:
        allow_standin = run.record is not None and run.record.data_source.startswith("standin:")
        bundle, source = load_data(spec, data_dir, allow_standin)
        test_ds = deterministic_subset(bundle.test, spec.train.test_subset)
        max_batches = spec.train.max_eval_batches
        name = spec.dataset.name if source == "real" else source
    else:
        params = dict(dataset_params or {})
        shape, classes = DATASETS.get(dataset).shape(**params)
        if tuple(shape) != trained_shape or classes != trained_classes:
            raise ValueError(
                f"{dataset} samples have shape {tuple(shape)} and {classes} classes; {spec.id} was trained on"
                f" {trained_shape} and {trained_classes} (give dataset parameters with --dataset-param KEY=VALUE)"
            )
        from snnrepro.data.loading import offline

        bundle = DATASETS.get(dataset).load(data_dir, download=not offline(), **params)
        test_ds, max_batches, name = bundle.test, None, dataset
    loader = DataLoader(test_ds, batch_size=spec.train.eval_batch_size, shuffle=False)
    loss_fn = LOSSES.get(spec.loss.name)(**spec.loss.params)
    seed_everything(run.seed, spec.train.deterministic)
    acc, loss = evaluate(model, loader, loss_fn, device, max_batches)
    seen = len(test_ds)  # type: ignore[arg-type]
    if max_batches is not None:
        seen = min(seen, max_batches * spec.train.eval_batch_size)
    out = {
        "id": spec.id, "profile": spec.profile, "seed": run.seed, "checkpoint": str(run.checkpoint),
        "epoch": int(run.state.get("epoch", -1)) + 1, "dataset": name, "samples": seen,
        "test_acc": acc, "test_loss": loss,
        "record_test_acc": run.record.test_acc if run.record is not None else None,
        "warnings": run.warnings,
    }  # fmt: skip
    return out
