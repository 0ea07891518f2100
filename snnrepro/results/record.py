"""Per-run records (one JSON per spec id, profile and seed) with provenance."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from snnrepro.engine.checkpoint import atomic_write_bytes

STATUSES = ("ok", "diverged", "interrupted", "failed", "running")


def results_root(path: str | Path | None = None) -> Path:
    """``--results DIR``, else ``$SNNREPRO_RESULTS``, else ``./results``."""
    return Path(path or os.environ.get("SNNREPRO_RESULTS") or "results")


def run_dir(root: Path, spec_id: str, profile: str) -> Path:
    return root / "runs" / spec_id / profile


def record_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / f"seed-{seed}.json"


def checkpoint_path(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / "checkpoints" / f"seed-{seed}.pt"


def artifacts_dir(root: Path, spec_id: str, profile: str, seed: int) -> Path:
    return run_dir(root, spec_id, profile) / f"seed-{seed}"


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
