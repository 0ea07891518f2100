"""Progress sinks for logs that are not a terminal, and for TensorBoard.

The training loop reports to a :class:`~snnrepro.engine.fit.ProgressSink`.  On a terminal the CLI
draws rich bars; under ``nohup``, CI, a SLURM log or a pipe it uses :class:`PlainProgress`, which
prints one plain line per epoch (and every N batches on long epochs) with loss, accuracy,
samples/s and ETA.  ``--tensorboard DIR`` adds a :class:`TensorBoardSink` (needs the optional
``tensorboard`` package).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from snnrepro.engine.fit import ProgressSink

#: under the automatic batch-line setting, epochs with at least this many batches get batch lines ...
AUTO_MIN_BATCHES = 50
#: ... about ten per epoch, and never more often than this many seconds apart
AUTO_MIN_INTERVAL_S = 10.0


def hms(seconds: float) -> str:
    """``1:02:03`` (hours:minutes:seconds), ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class PlainProgress(ProgressSink):
    """One plain, greppable line per epoch (and every ``log_every`` batches) on a stream (default stderr).

    ``log_every=None`` chooses automatically: epochs of at least 50 batches get a line every tenth
    of the epoch, at most one every 10 s; ``0`` prints epoch lines only.
    """

    def __init__(
        self,
        label: str,
        stream: IO[str] | None = None,
        log_every: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.log_every = log_every
        self.clock = clock
        self.epochs = 0
        self.batches = 0
        self.epoch_times: list[float] = []

    def _write(self, line: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"[{self.label}] {line}\n")
        stream.flush()

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None:
        self.epochs, self.batches = total_epochs, batches_per_epoch
        self.epoch_start = self.last_line = self.clock()
        if self.log_every is None:
            self.every = math.ceil(batches_per_epoch / 10) if batches_per_epoch >= AUTO_MIN_BATCHES else 0
        else:
            self.every = max(0, self.log_every)
        first = f"resuming at epoch {start_epoch + 1}" if start_epoch else "starting"
        self._write(f"{first}: {total_epochs} epochs of {batches_per_epoch} batches")

    def _mean_epoch_s(self) -> float | None:
        return sum(self.epoch_times) / len(self.epoch_times) if self.epoch_times else None

    def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None:
        if not self.every or done % self.every or done >= self.batches:
            return
        now = self.clock()
        if self.log_every is None and now - self.last_line < AUTO_MIN_INTERVAL_S:
            return
        self.last_line = now
        elapsed = now - self.epoch_start
        this_epoch = elapsed / done * self.batches
        per_epoch = self._mean_epoch_s() or this_epoch
        eta = this_epoch - elapsed + per_epoch * (self.epochs - epoch - 1)
        self._write(
            f"epoch {epoch + 1}/{self.epochs} batch {done}/{self.batches}  loss {loss:.4f} acc {100 * acc:.2f}%  "
            f"{samples_per_s:.0f} samples/s  ETA {hms(eta)}"
        )

    def epoch(self, epoch: int, row: dict[str, Any]) -> None:
        now = self.clock()
        self.epoch_times.append(float(row.get("epoch_s", now - self.epoch_start)))
        self.epoch_start = self.last_line = now
        eta = (self._mean_epoch_s() or 0.0) * (self.epochs - epoch - 1)
        self._write(
            f"epoch {epoch + 1}/{self.epochs}  train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:.2f}%"
            f"  test loss {row['test_loss']:.4f} acc {100 * row['test_acc']:.2f}%"
            f"  {row.get('samples_per_s', 0.0):.0f} samples/s  {row.get('epoch_s', 0.0):.1f} s/epoch  ETA {hms(eta)}"
        )

    def stop(self) -> None:
        pass


class TensorBoardUnavailable(ValueError):
    """``--tensorboard`` was asked for but the optional ``tensorboard`` package is not installed."""


def tensorboard_writer_class() -> type:
    """``torch.utils.tensorboard.SummaryWriter``, or :class:`TensorBoardUnavailable` with the install line."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardUnavailable(
            "--tensorboard needs the optional tensorboard package: pip install tensorboard"
            " (or pip install -e '.[tensorboard]')"
        ) from None
    return SummaryWriter


#: per-epoch scalars written to TensorBoard (tag = the history key)
TB_SCALARS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "samples_per_s", "epoch_s")


class TensorBoardSink(ProgressSink):
    """Writes each epoch's history row as scalars (step = epoch number) to ``logdir``."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = Path(logdir)
        self.writer_class = tensorboard_writer_class()
        self.writer: Any = None

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None:
        self.writer = self.writer_class(log_dir=str(self.logdir))

    def epoch(self, epoch: int, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key in TB_SCALARS:
            if isinstance(row.get(key), int | float):
                self.writer.add_scalar(key, float(row[key]), epoch + 1)
        self.writer.flush()

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class TeeProgress(ProgressSink):
    """Forwards every call to several sinks, in order."""

    def __init__(self, *sinks: ProgressSink) -> None:
        self.sinks = sinks

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None:
        for s in self.sinks:
            s.start(total_epochs, batches_per_epoch, start_epoch)

    def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None:
        for s in self.sinks:
            s.batch(epoch, done, loss, acc, samples_per_s)

    def epoch(self, epoch: int, row: dict[str, Any]) -> None:
        for s in self.sinks:
            s.epoch(epoch, row)

    def stop(self) -> None:
        for s in self.sinks:
            s.stop()


#: a run longer than this (seconds, estimated from a measurement) is announced before it starts
LONG_RUN_S = 3600.0


def estimate_run_s(spec: Any, n_seeds: int, device: str, records: list[Any], measurements: dict) -> tuple[float, str]:
    """Estimated seconds for ``n_seeds`` runs of ``spec`` on ``device`` (its ``describe()`` text), and the basis.

    Only from a measurement: seconds per training sample in earlier run records of this spec on the same
    device kind, else ``snnrepro cost --measure``'s timed steps (:mod:`snnrepro.results.cost`), times the
    training samples this spec's budget goes through (train size, ``train_subset``, ``max_batches``, epochs).
    Raises ``LookupError`` when there is nothing to base an estimate on.
    """
    from snnrepro.results.cost import _from_records, _kind, full_train_size

    kind = _kind(device)
    found = _from_records(spec, records, kind)
    if found is None:
        m = measurements.get(kind, {}).get(spec.id)
        if not m or not isinstance(m.get("s_per_sample"), int | float):
            raise LookupError(f"no measurement of {spec.id} on {kind}")
        found = (float(m["s_per_sample"]), f"snnrepro cost --measure, {m.get('data', '?')} data")
    size = full_train_size(spec, records)
    tr = spec.train
    if tr.train_subset is not None:
        size = min(size, tr.train_subset) if size else tr.train_subset
    if size is None:
        raise LookupError(f"train size of {spec.dataset.name} unknown")
    if tr.max_batches is not None:
        size = min(size, tr.max_batches * tr.batch_size)
    s_per_sample, source = found
    return s_per_sample * size * tr.epochs * n_seeds, f"{1000 * s_per_sample:.2f} ms per training sample, {source}"


def long_run_note(spec: Any, n_seeds: int, device: str, records: list[Any], measurements: dict) -> str | None:
    """One line announcing a run estimated at more than :data:`LONG_RUN_S`, or None (short or no measurement)."""
    if n_seeds < 1:
        return None
    try:
        seconds, basis = estimate_run_s(spec, n_seeds, device, records, measurements)
    except LookupError:
        return None
    if seconds <= LONG_RUN_S:
        return None
    return (
        f"long run: {spec.id} ({spec.profile}, {n_seeds} seed(s) x {spec.train.epochs} epochs) is estimated at about "
        f"{seconds / 3600:.1f} h on {device} ({basis}); Ctrl-C or SIGTERM stop it cleanly, --resume continues"
    )
