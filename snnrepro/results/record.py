"""Per-run records (one JSON per spec id, profile and seed) with provenance."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from snnrepro.io import atomic_copy, atomic_write_bytes
from snnrepro.spec import ID_RULE, PROFILES, is_valid_id

STATUSES = ("ok", "diverged", "interrupted", "failed", "running")


def results_root(path: str | Path | None = None) -> Path:
    """``--results DIR``, else ``$SNNREPRO_RESULTS``, else ``./results``."""
    return Path(path or os.environ.get("SNNREPRO_RESULTS") or "results")


def run_dir(root: Path, spec_id: str, profile: str) -> Path:
    """``<root>/runs/<id>/<profile>``; the id and profile are checked again here (they become folder names)."""
    if not is_valid_id(spec_id):
        raise ValueError(f"spec id {spec_id!r} cannot name a results folder: expected {ID_RULE}")
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} cannot name a results folder: expected one of {', '.join(PROFILES)}")
    return Path(root) / "runs" / spec_id / profile


def _seed_name(seed: int) -> str:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed {seed!r} cannot name a record: expected a non-negative integer")
    return f"seed-{seed}"


def record_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / f"{_seed_name(seed)}.json"


def previous_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    """Where a finished record is kept aside when a new run of the same (id, profile, seed) starts."""
    return run_dir(root, spec_id, profile) / "previous" / f"{_seed_name(seed)}.json"


def lock_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    """The lock a run of (id, profile, seed) holds while it writes (see :class:`RunLock`)."""
    return run_dir(root, spec_id, profile) / f".{_seed_name(seed)}.lock"


def checkpoint_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / "checkpoints" / f"{_seed_name(seed)}.pt"


def artifacts_dir(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / _seed_name(seed)


def metrics_csv_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    """The per-epoch history as CSV, beside the run's other artefacts (rewritten after every epoch)."""
    return artifacts_dir(root, spec_id, profile, seed) / "metrics.csv"


#: leading columns of metrics.csv (any other history keys follow, sorted)
METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "samples_per_s", "epoch_s")


def _csv_value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, float):
        return "" if v != v else f"{v:.6g}"
    return str(v)


def metrics_csv(history: list[dict[str, Any]]) -> str:
    """``history`` (one dict per epoch) as CSV text: fixed leading columns, 6 significant digits."""
    extra = sorted({k for row in history for k in row} - set(METRIC_COLUMNS))
    cols = [*METRIC_COLUMNS, *extra]
    lines = [",".join(cols)]
    for row in history:
        lines.append(",".join(_csv_value(row.get(c)).replace(",", ";") for c in cols))
    return "\n".join(lines) + "\n"


def write_metrics_csv(path: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_bytes(path, metrics_csv(history).encode())


def git_commit() -> str:
    """``HEAD`` (+dirty) of the checkout, else ``$SNNREPRO_GIT_COMMIT`` (a copy without .git), else unknown."""
    commit = _git_head()
    return os.environ.get("SNNREPRO_GIT_COMMIT", commit) if commit == "unknown" else commit


def _git(*args: str) -> str:
    """stdout of ``git ARGS`` in the package's checkout ('' when git or the repository is absent)."""
    out = subprocess.run(
        ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def _git_head() -> str:
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+dirty" if dirty else "")) if commit else "unknown"


def versions() -> dict[str, str]:
    import torch

    import snnrepro

    return {
        "snnrepro": snnrepro.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


@dataclass
class RunRecord:
    id: str
    paper: str
    profile: str
    seed: int
    status: str = "running"
    test_acc: float | None = None
    best_test_acc: float | None = None
    best_epoch: int | None = None
    epochs: int = 0
    epochs_planned: int = 0
    wall_s: float = 0.0
    device: str = ""
    data_source: str = "real"  # "real" or "standin:<dataset>"
    spec_hash: str = ""
    git_commit: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    data_info: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The one-line JSON a script reads (``snnrepro run --json``)."""
        return {
            "id": self.id,
            "seed": self.seed,
            "profile": self.profile,
            "status": self.status,
            "test_acc": self.test_acc,
            "best_test_acc": self.best_test_acc,
            "epochs": self.epochs,
            "wall_s": round(self.wall_s, 3),
            "device": self.device,
            "data_source": self.data_source,
        }


class RunBusy(RuntimeError):
    """Another process is running the same (id, profile, seed) in the same results folder."""


class RunLock:
    """One writer per (id, profile, seed): an exclusive ``flock`` on ``.seed-<n>.lock`` beside the record.

    A second run of the same (id, profile, seed), with the same spec or another, is refused with
    :class:`RunBusy` instead of overwriting the first one's record and checkpoints.  The kernel releases
    the lock when its holder dies (``kill -9`` leaves no stale lock); the file says who holds it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fh: Any = None

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): no protection against concurrent runs
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # the holder unlinks the file on release: lock a file that is still in place
            fh = open(self.path, "a+")  # noqa: SIM115 (held until release)
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                raise RunBusy(
                    f"{self.path.parent}: {self.path.stem.lstrip('.')} is already being run by {holder}; "
                    "wait for it to finish (or stop it), then run again"
                ) from None
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
        else:
            raise RunBusy(f"{self.path}: could not take the run lock; try again")
        from datetime import datetime, timezone

        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {platform.node()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        self.fh = fh
        return self

    def release(self) -> None:
        if self.fh is not None:
            self.path.unlink(missing_ok=True)
            self.fh.close()
            self.fh = None


def keep_aside(record_file: Path, previous_file: Path) -> bool:
    """Before a new run overwrites ``record_file``, keep a finished record there as ``previous_file``.

    A record still saying ``running`` (its run was killed) is not kept: it is no result.  Returns True
    when a record was kept aside.
    """
    old = read_record(record_file)
    if old is None or old.status == "running":
        return False
    previous_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(record_file, previous_file)
    return True


def write_record(path: Path, record: RunRecord) -> None:
    atomic_write_bytes(path, json.dumps(record.to_json(), indent=1, default=str).encode())


def read_record(path: Path) -> RunRecord | None:
    try:
        data = json.loads(path.read_text())
        return RunRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def iter_records(root: Path) -> list[RunRecord]:
    out = []
    for path in sorted((root / "runs").glob("*/*/seed-*.json")):
        rec = read_record(path)
        if rec is not None:
            out.append(rec)
    return out
