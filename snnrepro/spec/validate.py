"""The checks of a converted spec's values (ranges, names, combinations), then its registry entries.

:func:`validate` runs after conversion: budget keys within :data:`TRAIN_LIMITS`, the optimizer and
schedule (names from :mod:`snnrepro.spec.optim_names`), then, with ``check_registry``, the torch-free
checks against the registries (:mod:`snnrepro.spec.check`).
"""

from __future__ import annotations

from snnrepro.spec.check import check_model, check_names
from snnrepro.spec.classes import PAPERS, OptimizerSpec, ScheduleSpec, Spec, check_id
from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short
from snnrepro.spec.optim_names import OPTIMIZER_NAMES, SCHEDULE_NAMES, one_of

#: upper bounds of the budget keys (far above any paper's; beyond them a run cannot finish or allocate)
TRAIN_LIMITS = {"epochs": 100_000, "batch_size": 1 << 20, "eval_batch_size": 1 << 20, "seeds": 1000}
MAX_WORKERS = 256
#: ``train.amp`` values: no autocast, or bfloat16 autocast of the forward pass
AMP_MODES = ("none", "bf16")
#: families whose forward pass cannot run under bf16 autocast (measured on CPU, docs/performance.md "GPU
#: options"): the exact spike-time kernel, where bf16's 8-bit mantissa reorders the causal sets
AMP_REFUSED = {"relpsp": "its exact spike times (sorted causal sets, Eq. 12) lose their order in bfloat16 "
               "(measured: gradient cosine -0.04 to float32's on one MNIST batch)"}


def validate(spec: Spec, where: str, check_registry: bool) -> None:
    """``spec``'s values in range; with ``check_registry`` its names, model params and architecture syntax."""
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
    validate_amp(spec, where)
    validate_optimizer(spec.optimizer, where)
    validate_schedule(spec.schedule, t.epochs, where)
    if t.val_split is not None and not 0.0 < t.val_split < 1.0:
        raise SpecError(where, "train.val_split", "expected a fraction between 0 and 1 (exclusive) or null")
    if spec.baseline is not None and (spec.baseline == spec.id or not spec.baseline.strip()):
        raise SpecError(where, "baseline", "expected the id of another row")
    if not check_registry:
        return
    check_names(spec, where)
    check_model(spec, where)


def validate_amp(spec: Spec, where: str) -> None:
    """``train.amp`` is a known mode, and ``bf16`` only for a family that tolerates it (:data:`AMP_REFUSED`)."""
    amp = spec.train.amp
    if amp not in AMP_MODES:
        raise SpecError(where, "train.amp", f"expected {' or '.join(AMP_MODES)}, got {_short(amp)}")
    why = AMP_REFUSED.get(spec.model.family)
    if amp != "none" and why is not None:
        raise SpecError(where, "train.amp", f"{amp} autocast is refused for the {spec.model.family} family: {why}; "
                        "use train.amp: none")


def validate_optimizer(o: OptimizerSpec, where: str) -> None:
    """A known optimizer with a positive lr and sensible momentum, betas and weight decay."""
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


def validate_schedule(sc: ScheduleSpec, epochs: int, where: str) -> None:
    """A known schedule with positive periods and factors within range."""
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

