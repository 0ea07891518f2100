"""``snnrepro compare``: the five learning rules on one dataset, under one budget (plan, run, report)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from snnrepro.compare.plan import FAMILIES, TEMPLATES, Budget, CompareError, modality, plan
from snnrepro.compare.report import collect, incomplete, write
from snnrepro.compare.runner import run_all

__all__ = ["FAMILIES", "Budget", "CompareError", "compare", "default_out", "incomplete"]


def default_out(results: Path, budget: Budget) -> Path:
    return results / "compare" / f"{budget.dataset}-{budget.arch}"


def _templates(families: list[str], kind: str) -> dict[str, dict]:
    from snnrepro.spec import load_spec

    ids = {TEMPLATES[f][kind] for f in families if f in TEMPLATES} - {None}
    return {tid: load_spec(tid).to_dict() for tid in sorted(ids)}  # type: ignore[arg-type]


def compare(
    budget: Budget,
    families: list[str],
    out: Path,
    device: str,
    data_root: Path | None,
    *,
    force: bool = False,
    run: bool = True,
    log: Callable[[str], None] = print,
    note: str = "",
) -> tuple[list[dict], Path]:
    """Plan, run (unless ``run`` is false) and report a comparison; returns the rows and the table path."""
    entries = plan(budget, families, _templates(families, modality(budget.dataset)))
    if run:
        run_all(out, entries, budget.seeds, device, data_root, force, log)
    rows = collect(out, entries, budget.seeds)
    subsets = f"train subset {budget.train_subset or 'all'}, test subset {budget.test_subset or 'all'}"
    title = (
        f"{budget.dataset}: {len(families)} learning rules, {budget.epochs} epoch(s), {budget.seeds} seed(s), "
        f"arch {budget.arch}"
    )
    notes = (
        f"Budget: {subsets}; each family keeps its own paper's neuron, encoder, rule, loss, optimizer and learning"
        " rate (template spec in `specs/`), constant learning rate. Best test accuracy is the best epoch on the test"
        " set (as the papers report); final is the last epoch. Spikes, synaptic operations (NeuroBench effective"
        " ACs/MACs: binary weights applied to binary inputs; MACs where a layer's input is not spiking) and latency"
        " are per test sample (snnrepro/analyses/neuromorphic.py). Peak memory: the run's process resident set on"
        " CPU (including Python and torch), allocated GPU memory on CUDA. Records: `runs/`; command in the README."
    )
    write(out, rows, title, notes + (f" {note}" if note else ""))
    return rows, out / "compare.md"
