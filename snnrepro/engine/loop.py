"""The one training loop: data -> model -> rule -> epochs -> run record.

Shape kept close to torchvision's ``references/classification/train.py``: build
everything from the spec, then ``for epoch: train_one_epoch(); evaluate(); checkpoint()``.
"""

from __future__ import annotations

import inspect
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from snnrepro.data.base import DataBundle
from snnrepro.data.loading import deterministic_subset, load_data, split_validation
from snnrepro.engine import distributed as ddp
from snnrepro.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from snnrepro.engine.device import describe
from snnrepro.engine.optim import build_optimizer, build_scheduler
from snnrepro.engine.seeding import epoch_generator, rng_state, seed_everything, set_rng_state
from snnrepro.metrics.accuracy import count_correct
from snnrepro.notice import notice
from snnrepro.registry import ANALYSES, ENCODERS, LOSSES, MODELS, RULES
from snnrepro.results.record import (
    RunLock,
    RunRecord,
    artifacts_dir,
    checkpoint_path,
    git_commit,
    keep_aside,
    lock_path,
    metrics_csv_path,
    previous_path,
    record_path,
    versions,
    write_metrics_csv,
    write_record,
)
from snnrepro.spec import Spec, SpecError


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunFailed(RuntimeError):
    """A run that had started ended by an unexpected error; its record (status ``failed``) is ``.record``.

    The original exception is the ``__cause__``; the message is one line.
    """

    def __init__(self, message: str, record: RunRecord) -> None:
        super().__init__(message)
        self.record = record


def describe_error(exc: BaseException) -> str:
    """One line for a record's ``error`` and the CLI: a full disk said plainly, anything else as type: message."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"disk full (no space left on device{where}); free some space, then run again with --resume"
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 400 else text[:380] + " ..."


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Built:
    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    rule: Any
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler


def build(spec: Spec, bundle: DataBundle, device: torch.device, dist: ddp.DistInfo | None = None) -> Built:
    encoder = ENCODERS.get(spec.encoder.name)(**spec.encoder.params)
    family = MODELS.get(spec.model.family)
    args = (spec.model.arch, tuple(bundle.input_shape), bundle.num_classes)
    try:  # the weights must fit in memory: built on the meta device first, they cost nothing
        with torch.device("meta"):
            meta = family(*args, **spec.model.params)
        need = sum(t.numel() * t.element_size() for t in (*meta.parameters(), *meta.buffers()))
    except Exception:  # a factory that does data-dependent work: its real build below is the check
        need = 0
    have = available_memory()
    if have is not None and need > have:
        raise SpecError(spec.source or spec.id, "model.arch", f"{spec.model.arch!r} needs {need / 2**30:.1f} GiB "
                        f"for its weights alone; this machine has {have / 2**30:.1f} GiB available")
    try:
        net = family(*args, **spec.model.params)
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "alloc" not in str(exc) and "memory" not in str(exc):
            raise
        raise SpecError(spec.source or spec.id, "model.arch", f"cannot allocate {spec.model.arch!r}: "
                        f"{' '.join(str(exc).split())[:200]}") from None
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("net", net)
    model.to(device)
    loss_fn = LOSSES.get(spec.loss.name)(**spec.loss.params)
    trained: nn.Module = model
    if dist is not None and dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    rule = RULES.get(spec.rule.name)(trained, loss_fn, **spec.rule.params)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, spec.optimizer)
    scheduler = build_scheduler(optimizer, spec.schedule, spec.train.epochs)
    return Built(model, loss_fn, rule, optimizer, scheduler)


class ProgressSink:
    """What the loop reports to; the CLI passes a rich implementation, tests the silent one."""

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None: ...

    def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None: ...

    def epoch(self, epoch: int, row: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, list | tuple):
        return type(x)(_to_device(v, device) for v in x)
    return x


def evaluate(
    model: nn.Module,
    loader: DataLoader,
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
            x, y = _to_device(x, device), y.to(device)
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
) -> RunRecord:
    """Train and evaluate one (spec, seed); always returns a record (also on divergence/interrupt).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) this is data-parallel; only rank 0 writes.
    """
    dist = ddp.from_env()
    device = ddp.setup(dist, device)
    progress = progress if (progress is not None and dist.is_main) else ProgressSink()
    tr = spec.train
    rec_path = record_path(results, spec.id, spec.profile, seed)
    ckpt_path = checkpoint_path(results, spec.id, spec.profile, seed)
    record = RunRecord(
        id=spec.id,
        paper=spec.paper,
        profile=spec.profile,
        seed=seed,
        epochs_planned=tr.epochs,
        device=describe(device) + (f" x{dist.world} (DDP)" if dist.enabled else ""),
        spec_hash=spec.hash(),
        git_commit=git_commit(),
        versions=versions(),
        started_at=now(),
        spec=spec.to_dict(),
    )

    def save_record() -> None:
        if dist.is_main:
            write_record(rec_path, record)

    seed_everything(seed, tr.deterministic)
    if allow_standin is None:
        allow_standin = spec.profile == "smoke"
    bundle, record.data_source = load_data(spec, data_dir, allow_standin)
    record.data_info = {k: v for k, v in bundle.info.items() if isinstance(v, str | int | float | bool)}
    train_ds = deterministic_subset(bundle.train, tr.train_subset)
    test_ds = deterministic_subset(bundle.test, tr.test_subset)
    train_ds, val_ds = split_validation(train_ds, tr.val_split)
    record.data_info.update(train_size=len(train_ds), test_size=len(test_ds))  # type: ignore[arg-type]
    if val_ds is not None:
        record.data_info["val_size"] = len(val_ds)  # type: ignore[arg-type]
    if dist.enabled:  # each rank evaluates a disjoint shard; counts are summed in evaluate()
        test_ds = Subset(test_ds, list(range(dist.rank, len(test_ds), dist.world)))  # type: ignore[arg-type]

    seed_everything(seed, tr.deterministic)  # model init independent of what loading consumed
    b = build(spec, bundle, device, dist)
    # analyses that compare learnt with initial parameters (e.g. XOR membranes, IIR kernels) get this copy
    initial_state = {k: v.detach().cpu().clone() for k, v in b.model.state_dict().items()} if spec.analyses else {}
    start_epoch, best, history = 0, None, []
    wall_before = 0.0
    if resume:
        try:
            state, warnings = load_checkpoint(ckpt_path)
        except CheckpointError as exc:
            if "no checkpoint" not in str(exc):
                raise
            state, warnings = None, []
        if state is not None:
            if state.get("spec_hash") != record.spec_hash:
                raise CheckpointError(
                    f"{ckpt_path}: checkpoint was written for a different spec (hash {state.get('spec_hash')},"
                    f" now {record.spec_hash}); remove it or run without --resume"
                )
            b.model.load_state_dict(state["model"])
            b.optimizer.load_state_dict(state["optimizer"])
            b.scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
            start_epoch = state["epoch"] + 1
            history = state["history"]
            best = state["best"]
            if best is not None and len(best) == 2:  # checkpoints before val_split: (test acc, epoch)
                best = (best[0], best[1], best[0])
            wall_before = state.get("wall_s", 0.0)
            record.metrics["resume_warnings"] = warnings
            for w in warnings if dist.is_main else []:
                notice(w)
            record.metrics["resumed_from_epoch"] = state["epoch"]

    pin = device.type == "cuda"
    test_loader = DataLoader(
        test_ds, batch_size=tr.eval_batch_size, shuffle=False, num_workers=tr.num_workers, pin_memory=pin
    )
    val_loader = None
    if val_ds is not None:
        val_loader = DataLoader(val_ds, batch_size=tr.eval_batch_size, shuffle=False, num_workers=tr.num_workers)
    n_train = len(train_ds)  # type: ignore[arg-type]
    local_batch = max(1, tr.batch_size // dist.world)
    batches = math.ceil(n_train / (local_batch * dist.world))
    if tr.max_batches is not None:
        batches = min(batches, tr.max_batches)
    t_start = time.perf_counter()
    record.status = "running"
    record.history = history
    lock = _begin(results, spec, seed, record, save_record) if dist.is_main else None
    failure: BaseException | None = None
    progress.start(tr.epochs, batches, start_epoch)
    restore_sigterm = _sigterm_as_interrupt()
    try:
        for epoch in range(start_epoch, tr.epochs):
            loader = _train_loader(train_ds, local_batch, seed, epoch, dist, tr.num_workers, pin)
            _epoch_hook(b.model, epoch, tr.epochs)
            b.model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            t_epoch = time.perf_counter()
            for i, (x, y) in enumerate(loader):
                if i >= batches:
                    break
                x, y = _to_device(x, device), y.to(device)
                loss, scores = b.rule.step(x, y, b.optimizer, tr.grad_clip)
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
            lr = b.optimizer.param_groups[0]["lr"]
            b.scheduler.step()
            test_acc, test_loss = evaluate(b.model, test_loader, b.loss_fn, device, tr.max_eval_batches, dist)
            if not math.isfinite(test_loss):
                raise Diverged(f"test loss became {test_loss} at epoch {epoch + 1}")
            row = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_acc": correct / max(seen, 1),
                "test_loss": test_loss,
                "test_acc": test_acc,
                "lr": lr,
                "samples_per_s": seen / max(time.perf_counter() - t_epoch, 1e-9),
                "epoch_s": time.perf_counter() - t_epoch,
            }
            score = test_acc  # the papers pick the best epoch on the test set ...
            if val_loader is not None:  # ... train.val_split picks it on held-out training data instead
                score, row["val_loss"] = evaluate(b.model, val_loader, b.loss_fn, device, tr.max_eval_batches)
                row["val_acc"] = score
            history.append(row)
            if best is None or score > best[0]:
                best = (score, epoch + 1, test_acc)
            record.history, record.epochs = history, epoch + 1
            record.test_acc, record.best_test_acc, record.best_epoch = test_acc, best[2], best[1]
            if val_loader is not None:
                record.metrics["best_val_acc"] = best[0]
            record.wall_s = wall_before + time.perf_counter() - t_start
            if dist.is_main:
                save_checkpoint(
                    ckpt_path,
                    {
                        "model": b.model.state_dict(),
                        "optimizer": b.optimizer.state_dict(),
                        "scheduler": b.scheduler.state_dict(),
                        "rng": rng_state(),
                        "epoch": epoch,
                        "history": history,
                        "best": best,
                        "spec_hash": record.spec_hash,
                        "wall_s": record.wall_s,
                    },
                )
            save_record()
            if dist.is_main:  # the history so far, also as CSV beside the record
                write_metrics_csv(metrics_csv_path(results, spec.id, spec.profile, seed), history)
            progress.epoch(epoch, row)
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
        record.wall_s = wall_before + time.perf_counter() - t_start
        record.finished_at = now()
        failure = _save_final(save_record, record, failure)
    if record.status == "ok" and dist.is_main:
        out_dir = artifacts_dir(results, spec.id, spec.profile, seed)
        try:
            for comp in spec.analyses:
                out_dir.mkdir(parents=True, exist_ok=True)
                analysis = ANALYSES.get(comp.name)
                wants_initial = "initial_state" in inspect.signature(analysis).parameters
                extra = {"initial_state": initial_state} if wants_initial else {}
                metrics = analysis(b.model, test_loader, device, out_dir, **comp.params, **extra)
                record.metrics[comp.name] = metrics
        except Exception as exc:
            record.status, record.error, failure = "failed", f"analysis {comp.name}: {describe_error(exc)}", exc
        failure = _save_final(save_record, record, failure)
    if lock is not None:
        lock.release()
    ddp.barrier(dist)
    if failure is not None:
        raise RunFailed(f"{spec.id} seed {seed}: {record.error}", record) from failure
    return record


def _begin(results: Path, spec: Spec, seed: int, record: RunRecord, save_record: Callable[[], None]) -> RunLock:
    """Take the run's lock, keep a finished record of an earlier run aside, write the ``running`` record.

    Raises :class:`RunBusy` when another process runs the same (id, profile, seed), and
    :class:`RunFailed` when the record cannot be written (nothing is left behind then).
    """
    lock = RunLock(lock_path(results, spec.id, spec.profile, seed)).acquire()
    try:
        keep_aside(record_path(results, spec.id, spec.profile, seed), previous_path(results, spec.id, spec.profile,
                                                                                    seed))
        save_record()
    except Exception as exc:
        lock.release()
        record.status, record.error = "failed", describe_error(exc)
        raise RunFailed(f"{spec.id} seed {seed}: {record.error}", record) from exc
    return lock


def _save_final(
    save_record: Callable[[], None], record: RunRecord, failure: BaseException | None
) -> BaseException | None:
    """Write the record with its final status; a write that fails (full disk) becomes the run's failure."""
    try:
        save_record()
    except OSError as exc:
        if failure is None:
            record.status, record.error = "failed", describe_error(exc)
        return failure or exc
    return failure


def _sigterm_as_interrupt() -> Callable[[], None]:
    """Treat SIGTERM (``kill``, ``timeout``, a scheduler's pre-emption) like Ctrl-C while training.

    The run then stops with status ``interrupted`` and its last epoch checkpoint, so ``--resume``
    continues it.  Returns the function that restores the previous handler (a no-op off the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _epoch_hook(model: nn.Module, epoch: int, epochs: int) -> None:
    """Call ``set_epoch(epoch, epochs)`` (0-based epoch) on every submodule that has one, before its training.

    Models whose behaviour changes with the epoch use it, e.g. the ``lif`` family's ANN warm-up.
    """
    for m in model.modules():
        hook = getattr(m, "set_epoch", None)
        if callable(hook):
            hook(epoch, epochs)


def _train_loader(
    ds: Dataset, batch_size: int, seed: int, epoch: int, dist: ddp.DistInfo, workers: int, pin: bool
) -> DataLoader:
    """Shuffled per (seed, epoch) only, so a resumed run sees the same order; sharded under DDP."""
    if dist.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(ds, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=pin)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=True, generator=epoch_generator(seed, epoch), num_workers=workers,
        pin_memory=pin,
    )
