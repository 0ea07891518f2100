"""From spec ids, profile and seeds to the list of (spec, seed) jobs, and where they write."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from snnrepro.results.record import read_record, record_path
from snnrepro.spec import Spec, SpecError, load_spec, parse_set, spec_files


@dataclass(frozen=True)
class Job:
    """One (spec id, seed) at a profile, as a child process or a SLURM task re-loads it."""

    spec_id: str
    seed: int
    profile: str
    results: Path
    data_root: Path | None = None
    device: str = "auto"
    keep_checkpoints: str = "last"

    @property
    def name(self) -> str:
        return f"{self.spec_id}-{self.profile}-seed{self.seed}"

    def log_path(self) -> Path:
        return self.results / "logs" / f"{self.name}.log"

    def status(self) -> str:
        """The status its record ends with (``failed`` when it left none)."""
        rec = read_record(record_path(self.results, self.spec_id, self.profile, self.seed))
        return rec.status if rec is not None else "failed"

    def to_json(self) -> str:
        return json.dumps({"spec_id": self.spec_id, "seed": self.seed, "profile": self.profile,
                           "results": str(self.results), "device": self.device,
                           "keep_checkpoints": self.keep_checkpoints,
                           "data_root": None if self.data_root is None else str(self.data_root)})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Job:
        d = json.loads(text)
        root = d.get("data_root")
        return cls(d["spec_id"], int(d["seed"]), d["profile"], Path(d["results"]),
                   None if root is None else Path(root), d.get("device", "auto"),
                   d.get("keep_checkpoints", "last"))  # fmt: skip


@dataclass
class Outcome:
    """How a job ended (its record's status) and where its log is."""

    job: Job
    status: str
    log: Path


def all_specs(profile: str = "full", deep: bool = False) -> tuple[list[Spec], list[str]]:
    """Every spec under ``experiments/`` that loads at ``profile``, plus one error line per spec that does not
    (``deep``: also built on the meta device, :func:`snnrepro.spec.deep.check_buildable`)."""
    specs, errors = [], []
    for sid, path in spec_files().items():
        try:
            specs.append(load_spec(path, profile=profile, deep=deep))
        except (SpecError, KeyError, ValueError) as exc:
            errors.append(f"{sid}: {exc}")
    return specs, errors


def seeds_of(spec: Spec, seeds: int | None, seed: int | None) -> list[int]:
    """``--seed S`` alone, else seeds ``0..N-1`` (``--seeds N``, else the spec's ``train.seeds``)."""
    if seed is not None:
        return [seed]
    return list(range(seeds if seeds is not None else spec.train.seeds))


def load_specs(refs: list[str], profile: str, sets: list[str], epochs: int | None) -> list[Spec]:
    """Every spec resolved (profile, ``--set`` overrides, ``--epochs``) and validated before anything runs.

    A batch about to train imports torch anyway, so each spec is also built on the meta device
    (``deep=True``): a spec the engine would refuse stops the batch before the first run, not after it.
    """
    overrides = parse_set(sets)
    if epochs is not None:
        overrides.setdefault("train", {})["epochs"] = epochs
    return [load_spec(ref, profile=profile, overrides=overrides, deep=True) for ref in refs]


def plan_jobs(
    specs: list[Spec],
    profile: str,
    seeds: int | None,
    results: Path,
    data_root: Path | None,
    device: str,
    keep_checkpoints: str = "last",
) -> list[Job]:
    """One job per (spec, seed), with absolute folders (children may start elsewhere)."""
    return [
        Job(s.id, seed, profile, results.resolve(), data_root.resolve() if data_root else None, device,
            keep_checkpoints)  # fmt: skip
        for s in specs
        for seed in seeds_of(s, seeds, None)
    ]


def check_writable(root: Path) -> None:
    """The results folder exists (made if needed), takes a file and has at least 50 MiB free."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe"):
            pass
    except OSError as exc:
        raise FileNotFoundError(f"results folder {root} is not writable: {exc.strerror or exc}") from None
    free = shutil.disk_usage(root).free
    if free < 50 * 2**20:
        raise FileNotFoundError(f"results folder {root} has only {free // 2**20} MiB free; need at least 50 MiB")
