"""``snnrepro list``: every spec with its paper row, reported number, results, full-budget cost and blocker."""

from __future__ import annotations

from snnrepro.results.cost import CostContext
from snnrepro.results.record import RunRecord
from snnrepro.spec import PROFILES, Spec

#: the columns of ``list --format json|tsv``
LIST_KEYS = ["paper", "dataset", "id", "table", "row", "reported", "results", "cpu_h_per_seed", "gpu_h_per_seed",
             "blocker"]  # fmt: skip


def experiment_rows(
    specs: list[Spec],
    records: list[RunRecord],
    costs: CostContext,
    *,
    paper: str | None = None,
    dataset: str | None = None,
    fits_cpu: bool = False,
) -> list[dict[str, object]]:
    """One row per spec (by paper, dataset, id), only ``paper``/``dataset`` when given; with ``fits_cpu`` only
    rows with nothing blocking them and a measured full budget (see :mod:`snnrepro.results.cost`)."""
    have: dict[str, set[str]] = {}
    for r in records:
        have.setdefault(r.id, set()).add(r.profile)
    rows: list[dict[str, object]] = []
    for s in sorted(specs, key=lambda s: (s.paper, s.dataset.name, s.id)):
        if paper and s.paper != paper or dataset and s.dataset.name != dataset:
            continue
        results = [p for p in PROFILES if p in have.get(s.id, set())]
        row: dict[str, object] = {
            "paper": s.paper, "dataset": s.dataset.name, "id": s.id, "table": s.table, "row": s.row,
            "table_row": f"{s.table}: {s.row}", "reported": s.reported,
            "reported_text": "–" if s.reported is None else f"{s.reported:.2f}",
            "results": results, "results_text": ", ".join(results) or "–",
        }  # fmt: skip
        row.update(costs.describe(s, records))
        if fits_cpu and (row["blocker"] or row["cpu_h_per_seed"] is None):
            continue
        rows.append(row)
    return rows
