"""The one training loop: data -> model -> rule -> epochs -> run record.

Shaped like torchvision's ``references/classification/train.py``: build everything from the spec
once (:mod:`snnrepro.engine.build`), then ``for epoch: train_one_epoch(); evaluate(); checkpoint()``.
:func:`fit` only composes the steps; each is a short function below.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.engine import distributed as ddp
from snnrepro.engine.build import Built, build
from snnrepro.engine.checkpoint import (
    CheckpointError,
    check_keep,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from snnrepro.engine.device import to_device
from snnrepro.engine.lifecycle import (
    Diverged,
    RunFailed,
    begin,
    describe_error,
    new_record,
    now,
    save_final,
    sigterm_as_interrupt,
)
from snnrepro.engine.loaders import EvalLoaders, RunData, eval_loaders, load_run_data
from snnrepro.engine.seeding import rng_state, seed_everything, set_rng_state
from snnrepro.metrics.accuracy import count_correct
from snnrepro.notice import notice
from snnrepro.registry import ANALYSES
from snnrepro.results.record import (
    RunRecord,
    artifacts_dir,
    checkpoint_path,
    metrics_csv_path,
    record_path,
    write_metrics_csv,
    write_record,
)
from snnrepro.spec import Spec
from snnrepro.spec.deep import dataset_shape


class ProgressSink:
    """What the loop reports to; the CLI passes a rich implementation, tests the silent one."""

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None: ...

    def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None: ...

    def epoch(self, epoch: int, row: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


@dataclass
class RunContext:
    """One (spec, seed) being trained: where it writes, on which device and ranks, and its record."""

    spec: Spec
    seed: int
    results: Path
    device: torch.device
    dist: ddp.DistInfo
    record: RunRecord

    def save_record(self) -> None:
        """Write the record (rank 0 only)."""
        if self.dist.is_main:
            write_record(record_path(self.results, self.spec.id, self.spec.profile, self.seed), self.record)

    def checkpoint_path(self) -> Path:
        return checkpoint_path(self.results, self.spec.id, self.spec.profile, self.seed)


@dataclass
class TrainState:
    """Where training stands: the next epoch, the best (score, epoch, test acc), the history, earlier wall time."""

    start_epoch: int = 0
    best: tuple[float, int, float] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    wall_before: float = 0.0


@dataclass
class Loop:
    """What every epoch of one run uses: the run, what was built, its data and loaders, where training stands,
    the progress sink and when the loop started."""

    run: RunContext
    b: Built
    data: RunData
    loaders: EvalLoaders
    state: TrainState
    progress: ProgressSink
    t_start: float


@dataclass
class EpochStats:
    """Sums over one training epoch (all ranks), and when it started."""

    loss_sum: float
    correct: int
    seen: int
    started: float


def train_one_epoch(
    b: Built,
    loader: Iterable[Any],
    device: torch.device,
    epoch: int,
    batches: int,
    grad_clip: float | None,
    dist: ddp.DistInfo,
    progress: ProgressSink,
) -> EpochStats:
    """One pass of the rule over ``batches`` batches; raises :class:`Diverged` on a non-finite loss."""
    b.model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    t_epoch = time.perf_counter()
    for i, (x, y) in enumerate(loader):
        if i >= batches:
            break
        x, y = to_device(x, device), y.to(device, non_blocking=True)
        loss, scores = b.rule.step(x, y, b.optimizer, grad_clip)
        loss_v = float(loss)
        if dist.enabled:  # every rank must see the same divergence decision
            loss_v = ddp.all_reduce_sum([loss_v], device, dist)[0] / dist.world
        if not math.isfinite(loss_v):
            raise Diverged(f"loss became {loss_v} at epoch {epoch + 1}, batch {i + 1}")
        loss_sum += loss_v * len(y)
        correct += count_correct(scores, y)
        seen += len(y)
        elapsed = time.perf_counter() - t_epoch
        progress.batch(epoch, i + 1, loss_sum / seen, correct / seen, dist.world * seen / max(elapsed, 1e-9))
    if dist.enabled:
        loss_sum, correct, seen = ddp.all_reduce_sum([loss_sum, correct, seen], device, dist)
    return EpochStats(loss_sum, correct, seen, t_epoch)


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable,
    device: torch.device,
    max_batches: int | None,
    dist: ddp.DistInfo | None = None,
) -> tuple[float, float]:
    """Accuracy and mean loss; under DDP each rank evaluates its shard and the counts are summed."""
    model.eval()
    correct, seen, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for i, (x, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            x, y = to_device(x, device), y.to(device, non_blocking=True)
            scores = model(x)
            loss_sum += float(loss_fn(scores, y)) * len(y)
            correct += count_correct(scores, y)
            seen += len(y)
    if dist is not None:
        correct, seen, loss_sum = ddp.all_reduce_sum([correct, seen, loss_sum], device, dist)
    return correct / max(seen, 1), loss_sum / max(seen, 1)


def fit(
    spec: Spec,
    seed: int,
    device: torch.device,
    results: Path,
    data_dir: Path,
    *,
    resume: bool = False,
    progress: ProgressSink | None = None,
    allow_standin: bool | None = None,
    keep_checkpoints: str = "last",
) -> RunRecord:
    """Train and evaluate one (spec, seed); always returns a record (also on divergence/interrupt).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) this is data-parallel; only rank 0 writes.  Once the run finished
    ``ok``, its checkpoint files are pruned to ``keep_checkpoints`` (:data:`~snnrepro.engine.checkpoint.
    KEEP_CHECKPOINTS`); a run that stopped early keeps both for ``--resume``.
    """
    check_keep(keep_checkpoints)
    dist = ddp.from_env()
    device = ddp.setup(dist, device)
    progress = progress if (progress is not None and dist.is_main) else ProgressSink()
    run = RunContext(spec, seed, results, device, dist, new_record(spec, seed, device, dist))
    seed_everything(seed, spec.train.deterministic)
    if allow_standin is None:
        allow_standin = spec.profile == "smoke"
    dataset_shape(spec, spec.source or spec.id)  # the dataset's complaint about its params, as a SpecError
    data = load_run_data(spec, data_dir, allow_standin, dist)
    run.record.data_source, run.record.data_info = data.source, data.info
    seed_everything(seed, spec.train.deterministic)  # model init independent of what loading consumed
    b = build(spec, data.bundle, device, dist)
    # analyses that compare learnt with initial parameters (e.g. XOR membranes, IIR kernels) get this copy
    initial_state = {k: v.detach().cpu().clone() for k, v in b.model.state_dict().items()} if spec.analyses else {}
    state = _resume(run, b) if resume else TrainState()
    loaders = eval_loaders(spec, data, device, dist)
    loop = Loop(run, b, data, loaders, state, progress, time.perf_counter())
    run.record.status = "running"
    run.record.history = state.history
    lock = begin(results, spec, seed, run.record, run.save_record) if dist.is_main else None
    failure = _train(loop)
    if run.record.status == "ok" and dist.is_main:
        failure = _run_analyses(run, b.model, loaders.test, initial_state, failure)
    if run.record.status == "ok" and dist.is_main:
        prune_checkpoints(run.checkpoint_path(), keep_checkpoints)
    if lock is not None:
        lock.release()
    ddp.barrier(dist)
    if failure is not None:
        raise RunFailed(f"{spec.id} seed {seed}: {run.record.error}", run.record) from failure
    return run.record


def _resume(run: RunContext, b: Built) -> TrainState:
    """Load the last epoch checkpoint into ``b`` (none yet: start afresh); refuse one of another spec."""
    path = run.checkpoint_path()
    try:
        saved, warnings = load_checkpoint(path)
    except CheckpointError as exc:
        if "no checkpoint" not in str(exc):
            raise
        return TrainState()
    if saved is None:
        return TrainState()
    if saved.get("spec_hash") != run.record.spec_hash:
        raise CheckpointError(
            f"{path}: checkpoint was written for a different spec (hash {saved.get('spec_hash')},"
            f" now {run.record.spec_hash}); remove it or run without --resume"
        )
    b.model.load_state_dict(saved["model"])
    b.optimizer.load_state_dict(saved["optimizer"])
    b.scheduler.load_state_dict(saved["scheduler"])
    set_rng_state(saved["rng"])
    best = saved["best"]
    if best is not None and len(best) == 2:  # checkpoints before val_split: (test acc, epoch)
        best = (best[0], best[1], best[0])
    run.record.metrics["resume_warnings"] = warnings
    for w in warnings if run.dist.is_main else []:
        notice(w)
    run.record.metrics["resumed_from_epoch"] = saved["epoch"]
    return TrainState(saved["epoch"] + 1, best, saved["history"], saved.get("wall_s", 0.0))


def _train(loop: Loop) -> BaseException | None:
    """The epoch loop; ends the record with a status and returns the unexpected error, if any."""
    record, epochs, state, progress = loop.run.record, loop.run.spec.train.epochs, loop.state, loop.progress
    failure: BaseException | None = None
    progress.start(epochs, loop.loaders.batches, state.start_epoch)
    restore_sigterm = sigterm_as_interrupt()
    try:
        for epoch in range(state.start_epoch, epochs):
            _epoch(loop, epoch)
        record.status = "ok"
    except Diverged as exc:
        record.status, record.error = "diverged", str(exc)
    except KeyboardInterrupt:
        record.status = "interrupted"
        record.error = f"stopped by Ctrl-C or SIGTERM after epoch {record.epochs} (resume with --resume)"
    except Exception as exc:  # anything else (a full disk, a bug, a loader error) still ends with a status
        record.status, record.error, failure = "failed", describe_error(exc), exc
    finally:
        restore_sigterm()
        progress.stop()
        record.wall_s = state.wall_before + time.perf_counter() - loop.t_start
        record.finished_at = now()
        failure = save_final(loop.run.save_record, record, failure)
    return failure


def _epoch(loop: Loop, epoch: int) -> None:
    """Train one epoch, evaluate it, then write its checkpoint, record and metrics CSV."""
    run, b, loaders, state, tr = loop.run, loop.b, loop.loaders, loop.state, loop.run.spec.train
    loader = loaders.train_batches(loop.data, run.seed, epoch, run.dist, tr.num_workers)
    _epoch_hook(b.model, epoch, tr.epochs)
    stats = train_one_epoch(b, loader, run.device, epoch, loaders.batches, tr.grad_clip, run.dist, loop.progress)
    lr = b.optimizer.param_groups[0]["lr"]
    b.scheduler.step()
    row, score = _evaluate_epoch(loop, stats, epoch, lr)
    state.history.append(row)
    if state.best is None or score > state.best[0]:
        state.best = (score, epoch + 1, row["test_acc"])
    _update_record(loop, row)
    if run.dist.is_main:
        _save_checkpoint(loop, epoch)
    run.save_record()
    if run.dist.is_main:  # the history so far, also as CSV beside the record
        write_metrics_csv(metrics_csv_path(run.results, run.spec.id, run.spec.profile, run.seed), state.history)
    loop.progress.epoch(epoch, row)


def _evaluate_epoch(loop: Loop, stats: EpochStats, epoch: int, lr: float) -> tuple[dict[str, Any], float]:
    """The epoch's history row, and the score that picks the best epoch."""
    run, b, loaders = loop.run, loop.b, loop.loaders
    max_eval = run.spec.train.max_eval_batches
    test_acc, test_loss = evaluate(b.runner, loaders.test_batches(), b.loss_fn, run.device, max_eval, run.dist)
    if not math.isfinite(test_loss):
        raise Diverged(f"test loss became {test_loss} at epoch {epoch + 1}")
    row = {
        "epoch": epoch + 1,
        "train_loss": stats.loss_sum / max(stats.seen, 1),
        "train_acc": stats.correct / max(stats.seen, 1),
        "test_loss": test_loss,
        "test_acc": test_acc,
        "lr": lr,
        "samples_per_s": stats.seen / max(time.perf_counter() - stats.started, 1e-9),
        "epoch_s": time.perf_counter() - stats.started,
    }
    score = test_acc  # the papers pick the best epoch on the test set ...
    if loaders.val is not None:  # ... train.val_split picks it on held-out training data instead
        score, row["val_loss"] = evaluate(b.runner, loaders.val_batches(), b.loss_fn, run.device, max_eval)
        row["val_acc"] = score
    return row, score


def _update_record(loop: Loop, row: dict[str, Any]) -> None:
    """The record after an epoch: history, final and best accuracy, wall time."""
    record, state = loop.run.record, loop.state
    assert state.best is not None
    record.history, record.epochs = state.history, row["epoch"]
    record.test_acc, record.best_test_acc, record.best_epoch = row["test_acc"], state.best[2], state.best[1]
    if loop.loaders.val is not None:
        record.metrics["best_val_acc"] = state.best[0]
    record.wall_s = state.wall_before + time.perf_counter() - loop.t_start


def _save_checkpoint(loop: Loop, epoch: int) -> None:
    """Everything ``--resume`` needs to continue after ``epoch`` exactly as if never stopped."""
    run, b, state = loop.run, loop.b, loop.state
    save_checkpoint(
        run.checkpoint_path(),
        {
            "model": b.model.state_dict(),
            "optimizer": b.optimizer.state_dict(),
            "scheduler": b.scheduler.state_dict(),
            "rng": rng_state(),
            "epoch": epoch,
            "history": state.history,
            "best": state.best,
            "spec_hash": run.record.spec_hash,
            "wall_s": run.record.wall_s,
        },
    )


def _run_analyses(
    run: RunContext,
    model: nn.Module,
    test_loader: DataLoader,
    initial_state: dict[str, torch.Tensor],
    failure: BaseException | None,
) -> BaseException | None:
    """The spec's analyses on the trained model, their metrics into the record; a failing one fails the run."""
    spec, record = run.spec, run.record
    out_dir = artifacts_dir(run.results, spec.id, spec.profile, run.seed)
    try:
        for comp in spec.analyses:
            out_dir.mkdir(parents=True, exist_ok=True)
            analysis = ANALYSES.get(comp.name)
            wants_initial = "initial_state" in inspect.signature(analysis).parameters
            extra = {"initial_state": initial_state} if wants_initial else {}
            record.metrics[comp.name] = analysis(model, test_loader, run.device, out_dir, **comp.params, **extra)
    except Exception as exc:
        record.status, record.error, failure = "failed", f"analysis {comp.name}: {describe_error(exc)}", exc
    return save_final(run.save_record, record, failure)


def _epoch_hook(model: nn.Module, epoch: int, epochs: int) -> None:
    """Call ``set_epoch(epoch, epochs)`` (0-based epoch) on every submodule that has one, before its training.

    Models whose behaviour changes with the epoch use it, e.g. the ``lif`` family's ANN warm-up.
    """
    for m in model.modules():
        hook = getattr(m, "set_epoch", None)
        if callable(hook):
            hook(epoch, epochs)
